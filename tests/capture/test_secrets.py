"""Secrets never reach a capture, its WAL, an export or `explain` (issue 17.4): every header form, URL, body password.

The secrets are arbitrary values (hypothesis) under real header names; each check greps the raw bytes of what
was written, not a parsed view of it.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http, io
from mitmproxy.test import tflow, tutils

from capture.har import export_har
from capture.mitm import export_mitm, flow_input_from_mitm
from capture.reader import CaptureReader
from capture.redaction import redact_headers
from capture.writer import CaptureWriter
from capture.xml_export import export_xml
from eas import wbxml
from eas.headers import shown_header_value
from tests.cli.test_cli_capture import cli

# Secrets: long enough never to occur by chance, without the separators that would make them two values.
SECRET = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N"), include_characters="-_.~+/"),
                 min_size=16, max_size=60)
COOKIE_NAME = st.sampled_from(["session", "ASP.NET_SessionId", "X-BackEndCookie", "ClientId", "cadata", "S"])


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# Each form: (header name, value holding the secret). The secret is the password, token or cookie value.
FORMS = {
    "authorization-basic": lambda s, n: ("Authorization", basic("alice", s)),
    "authorization-basic-tab": lambda s, n: ("Authorization", basic("alice", s).replace(" ", "\t")),
    "authorization-bearer": lambda s, n: ("Authorization", f"Bearer {s}"),
    "authorization-schemeless": lambda s, n: ("Authorization", s),
    "authorization-unknown-scheme": lambda s, n: ("Authorization", f"Token {s}"),
    "proxy-authorization": lambda s, n: ("Proxy-Authorization", basic("bob", s)),
    "cookie": lambda s, n: ("Cookie", f"{n}={s}; other=1"),
    "cookie-nameless": lambda s, n: ("Cookie", s),
    "cookie-nameless-second": lambda s, n: ("Cookie", f"a=1; {s}"),
    "set-cookie": lambda s, n: ("Set-Cookie", f"{n}={s}; Path=/; Secure; HttpOnly"),
    "set-cookie-nameless": lambda s, n: ("Set-Cookie", s),
    "set-cookie-folded": lambda s, n: ("Set-Cookie", f"a=1; Path=/, {n}={s}; Secure"),
    "set-cookie-expires-folded": lambda s, n: ("Set-Cookie",
                                               f"a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, {n}={s}"),
    "set-cookie-unknown-attribute": lambda s, n: ("Set-Cookie", f"a=1; Path=/; Extra={s}"),
    "x-auth-token": lambda s, n: ("X-Auth-Token", s),
    "x-custom-token": lambda s, n: ("X-Backend-Token", s),
    "x-api-key": lambda s, n: ("X-API-Key", s),
    "x-access-token": lambda s, n: ("X-Access-Token", s),
}
RESPONSE_FORMS = {name for name in FORMS if name.startswith("set-cookie")}


def device_password_body(password: str) -> bytes:
    """A Settings DevicePassword request (MS-ASCMD 2.2.3.46: Settings > DevicePassword > Set > Password)."""
    return wbxml.encode(f'<Settings xmlns="Settings"><DevicePassword><Set><Password>{password}</Password></Set>'
                        "</DevicePassword></Settings>")


def secret_flow(secret: str, form: str, cookie: str = "session", *, url_secret: bool = False,
                body_secret: bool = False) -> http.HTTPFlow:
    name, value = FORMS[form](secret, cookie)
    query = f"&access_token={secret}" if url_secret else ""
    command = "Settings" if body_secret else "Ping"
    request_headers = [(b"Host", b"mail.example.com"), (b"Content-Type", b"application/vnd.ms-sync.wbxml"),
                       (b"MS-ASProtocolVersion", b"14.1"), (b"X-MS-PolicyKey", b"1307199584")]
    response_headers = [(b"Content-Length", b"0")]
    target = response_headers if form in RESPONSE_FORMS else request_headers
    target.append((name.encode(), value.encode()))
    request = tutils.treq(
        host="mail.example.com", port=443, method=b"POST", scheme=b"https", authority=b"",
        path=f"/Microsoft-Server-ActiveSync?Cmd={command}&User=alice&DeviceId=D1&DeviceType=T{query}".encode(),
        headers=http.Headers(request_headers), content=device_password_body(secret) if body_secret else b"",
        timestamp_start=1_763_700_000.0, timestamp_end=1_763_700_000.1,
    )
    response = tutils.tresp(status_code=200, reason=b"OK", headers=http.Headers(response_headers), content=b"",
                            timestamp_start=1_763_700_000.2, timestamp_end=1_763_700_000.3)
    return tflow.tflow(req=request, resp=response)


def capture_bytes(path: Path) -> bytes:
    """The capture file and its WAL and shared-memory files, as bytes."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def write_capture(path: Path, flows: list[http.HTTPFlow], *, keep_credentials: bool = False) -> None:
    writer = CaptureWriter(path, keep_credentials=keep_credentials)
    try:
        for one in flows:
            writer.add(flow_input_from_mitm(one))
        writer.flush()
    finally:
        writer.close()


@given(secret=SECRET, cookie=COOKIE_NAME, form=st.sampled_from(sorted(FORMS)))
@settings(max_examples=300, deadline=None)
def test_redaction_and_display_never_hold_the_secret(secret: str, cookie: str, form: str) -> None:
    name, value = FORMS[form](secret, cookie)
    stored = dict(redact_headers(((name, value),)) or ())[name]
    shown = shown_header_value(name, value)
    assert secret not in stored and secret not in shown
    if form.startswith("authorization-basic"):
        assert value.split(None, 1)[1] not in stored + shown  # the base64 holds the password


@given(secret=SECRET, cookie=COOKIE_NAME, form=st.sampled_from(sorted(FORMS)))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_capture_and_its_wal_never_hold_the_secret(tmp_path: Path, secret: str, cookie: str, form: str) -> None:
    path = tmp_path / f"{abs(hash((secret, form)))}.sqlite"
    writer = CaptureWriter(path)  # kept open: the rows are still in the WAL when it is read
    try:
        writer.add(flow_input_from_mitm(secret_flow(secret, form, cookie, url_secret=True, body_secret=True)))
        writer.flush()
        assert Path(f"{path}-wal").exists()
        assert secret.encode() not in capture_bytes(path)
    finally:
        writer.close()
    assert secret.encode() not in capture_bytes(path)


def test_the_redacted_capture_keeps_the_names_the_user_and_the_policy_key(tmp_path: Path) -> None:
    secret = "S3cretValue-0123456789"
    path = tmp_path / "c.sqlite"
    write_capture(path, [secret_flow(secret, "set-cookie-folded", "ASP.NET_SessionId", url_secret=True,
                                     body_secret=True)])
    with CaptureReader(path) as reader:
        record = next(reader.records())
    assert dict(record.response_headers or ())["Set-Cookie"] == (
        "a=<redacted>; Path=/, ASP.NET_SessionId=<redacted>; Secure")
    assert dict(record.request_headers)["X-MS-PolicyKey"] == "1307199584"  # not a credential: kept
    assert "access_token=%28hidden%29" in record.path and "User=alice" in record.path
    assert record.row.user == "alice"
    xml = wbxml.decode_to_xml(record.request_body)
    assert "<Password>(hidden) 22 characters</Password>" in xml


def test_keep_credentials_stores_them_as_sent(tmp_path: Path) -> None:
    secret = "S3cretValue-0123456789"
    path = tmp_path / "c.sqlite"
    write_capture(path, [secret_flow(secret, "x-auth-token", url_secret=True, body_secret=True)],
                  keep_credentials=True)
    with CaptureReader(path) as reader:
        record = next(reader.records())
    assert dict(record.request_headers)["X-Auth-Token"] == secret
    assert f"access_token={secret}" in record.path
    assert record.request_body == device_password_body(secret)


def test_exports_and_explain_never_hold_the_secret(tmp_path: Path) -> None:
    secrets = {form: "Zq8-SecretToken_" + form.replace("-", "") for form in FORMS}
    flows = [secret_flow(secret, form, url_secret=True, body_secret=True) for form, secret in secrets.items()]
    with (tmp_path / "raw.mitm").open("wb") as file:
        writer = io.FlowWriter(file)  # type: ignore[no-untyped-call]
        for one in flows:
            writer.add(one)
    capture = tmp_path / "c.sqlite"
    write_capture(capture, flows)
    assert export_mitm(capture, tmp_path / "out" / "flows.mitm") == len(FORMS)
    assert export_har(capture, tmp_path / "out" / "flows.har") == len(FORMS)
    with CaptureReader(capture) as reader:
        (tmp_path / "out" / "flows.xml").write_text(export_xml(list(reader.records())))
    written = {name: (tmp_path / "out" / name).read_bytes() for name in ("flows.mitm", "flows.har", "flows.xml")}
    for target in ("raw.mitm", "c.sqlite"):
        explained = cli("explain", target, cwd=tmp_path)
        assert explained.returncode == 0, explained.stderr
        assert explained.stdout.count("=== #") == len(FORMS)
        written[f"explain {target}"] = (explained.stdout + explained.stderr).encode()
    for form, secret in secrets.items():
        for name, data in written.items():
            assert secret.encode() not in data, (form, name)


def test_exports_are_private_and_create_their_folder(tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    write_capture(capture, [secret_flow("S3cretValue-0123456789", "cookie")])
    old_umask = os.umask(0o022)
    try:
        mitm_file, har_file = tmp_path / "new" / "deeper" / "a.mitm", tmp_path / "new" / "b.har"
        assert export_mitm(capture, mitm_file) == 1
        assert export_har(capture, har_file) == 1
        har_file.chmod(0o644)
        export_har(capture, har_file)  # an existing file is made private too
    finally:
        os.umask(old_umask)
    for path in (mitm_file, har_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads(har_file.read_text())["log"]["entries"][0]["request"]["method"] == "POST"
    exported = cli("export", "c.sqlite", "--har", "other/c.har", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE((tmp_path / "other" / "c.har").stat().st_mode) == 0o600
