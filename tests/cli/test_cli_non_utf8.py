"""The command line on flows holding bytes that are not UTF-8: import keeps them, explain and export show them."""

from __future__ import annotations

import json
from pathlib import Path

from mitmproxy import io

from tests.addon.test_non_utf8 import BAD_FLOWS, mitm_flow
from tests.cli.test_cli_capture import cli


def write_hostile(path: Path) -> int:
    flows = [
        mitm_flow(timestamp=1_763_700_000.0 + number, **fields)  # type: ignore[arg-type]
        for number, fields in enumerate(BAD_FLOWS.values())
    ]
    with path.open("wb") as file:
        writer = io.FlowWriter(file)  # type: ignore[no-untyped-call]
        for one in flows:
            writer.add(one)
    return len(flows)


def test_import_explain_and_export_show_the_bytes_escaped(tmp_path: Path) -> None:
    count = write_hostile(tmp_path / "hostile.mitm")
    imported = cli("import", "hostile.mitm", "capture.sqlite", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert f"imported {count} EAS/Autodiscover flows" in imported.stdout
    for source in ("capture.sqlite", "hostile.mitm"):
        explained = cli("explain", source, cwd=tmp_path)
        assert explained.returncode == 0, explained.stderr
        assert "Traceback" not in explained.stderr
        # The bytes as \xNN, never a surrogate and never a replacement character.
        assert "User=al\\xffice" in explained.stdout
        assert "PO\\xffST" in explained.stdout
        assert "\ufffd" not in explained.stdout
    exported = cli("export", "capture.sqlite", "--har", "out.har", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    entries = json.loads((tmp_path / "out.har").read_text())["log"]["entries"]
    assert len(entries) == count
