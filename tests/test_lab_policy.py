"""A missing lab server fails the live tests where it must run (root on Debian), and only skips them elsewhere."""

from __future__ import annotations

import os

import pytest

from tests.lab import policy


def test_a_missing_lab_fails_where_it_must_run_with_the_log_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "lab_must_run", lambda: "root on Debian with apt-get")
    log = "\n".join(f"line {n}" for n in range(1, 31))
    with pytest.raises(pytest.fail.Exception) as failed:
        policy.lab_missing("eas-server.sh exited 1", log)
    message = str(failed.value)
    assert message.startswith("lab server: eas-server.sh exited 1, on a machine where it must run")
    assert "EAS_NO_LAB=1 opts out" in message
    assert message.endswith("\n".join(f"line {n}" for n in range(16, 31)))  # the last 15 lines
    assert "line 15\n" not in message


def test_eas_no_lab_is_the_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAS_NO_LAB", "1")
    assert policy.lab_must_run() is None
    with pytest.raises(pytest.skip.Exception, match=r"lab server: down \(EAS_NO_LAB is set\)"):
        policy.lab_missing("down")


def test_a_machine_that_cannot_start_it_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EAS_NO_LAB", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert policy.lab_must_run() is None
    with pytest.raises(pytest.skip.Exception, match="this machine cannot start it"):
        policy.lab_missing("down")


def test_root_on_debian_must_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EAS_NO_LAB", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(policy.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(policy.Path, "is_file", lambda path: True)  # /etc/debian_version and the lab script
    assert policy.lab_must_run() is not None
