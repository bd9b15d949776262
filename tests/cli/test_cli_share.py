"""`eas-inspector share`, run as the real command on a capture of the real lab session with secrets added."""

from __future__ import annotations

import base64
import gzip
import json
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from mitmproxy import http, io

import eas
from capture.mitm import flow_input_from_mitm
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from eas.multipart import parse_multipart
from tests.cli.test_cli_non_utf8 import write_hostile

ROOT = Path(__file__).resolve().parents[2]
LAB_SESSION = ROOT / "tests" / "data" / "real" / "lab-session.mitm"

# What the lab session holds (tests/data/real/README.md and the lab's NOTES.md) and what this test adds to it.
PASSWORD = "S3cret-alicepw!"
BOB_PASSWORD = "bobpw-Hunter2"
DEVICE_PASSWORD = "Dev1ce-PIN-4711"
COOKIE_VALUE = "cookie-value-9f8e7d6c"
SET_COOKIE_VALUE = "set-cookie-value-1a2b3c"
AUTH_TOKEN = "x-auth-token-5e6f7a8b"
QUERY_TOKEN = "query-access-token-77aa88bb"
# A JWT as Exchange Online's OAuth sends it (header.payload.signature, base64url), with a user in its claims.
JWT = ".".join(
    base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
    for part in ({"alg": "RS256", "typ": "JWT"}, {"upn": "bob@example.com", "aud": "https://outlook.office365.com"})
) + ".c2lnbmF0dXJlLWJ5dGVzLW9mLXRoZS10b2tlbg"

SECRETS = [PASSWORD, BOB_PASSWORD, DEVICE_PASSWORD, COOKIE_VALUE, SET_COOKIE_VALUE, AUTH_TOKEN, QUERY_TOKEN, JWT,
           *JWT.split("."), base64.b64encode(f"alice:{PASSWORD}".encode()).decode()]
IDENTITIES = [
    "alice", "bob", "carol", "dora", "Anderson", "Brown", "Clark", "Diaz", "example.com", "example.org",
    "example.net", "127.0.0.1", "EA5100000000000000000000000000A1", "EA5100000000000000000000000000B2",
    "PYAS0003C", "356938035643809", "+15550101",
]
USER_FOLDERS = ["Archive", "Lab Contacts", "Lab Projects", "Templates"]
CONTENT = ["HTML newsletter", "Design review", "Room 42", "Newsletter", "invites you"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eas_inspector", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def settings_device_password_body() -> bytes:
    # MS-ASCMD 2.2.3.43 DevicePassword / 2.2.3.124 Password in a Settings request
    return eas.encode(
        '<Settings xmlns="Settings"><DevicePassword><Set><Password>'
        f"{DEVICE_PASSWORD}</Password></Set></DevicePassword></Settings>"
    )


def with_secrets(flows: list[http.HTTPFlow]) -> list[http.HTTPFlow]:
    """The lab flows with the credentials a real capture can hold (the lab file has them replaced)."""
    out: list[http.HTTPFlow] = []
    for mitm_flow in flows:
        request = mitm_flow.request
        if "User=bob" in request.path:
            request.headers["Authorization"] = f"Bearer {JWT}"
        else:
            request.headers["Authorization"] = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        request.headers["Cookie"] = f"SOGoSession={COOKIE_VALUE}; lang=en"
        request.headers["X-Auth-Token"] = AUTH_TOKEN
        if mitm_flow.response is not None:
            mitm_flow.response.headers["Set-Cookie"] = f"SOGoSession={SET_COOKIE_VALUE}; Path=/; Domain=127.0.0.1"
        out.append(mitm_flow)
    # A Settings DevicePassword request, a query carrying an access token, and Proxy-Authorization.
    settings = next(f for f in out if "Cmd=Settings&User=alice" in f.request.path).copy()
    settings.request.content = settings_device_password_body()
    settings.request.path += f"&access_token={QUERY_TOKEN}"
    settings.request.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(
        f"bob:{BOB_PASSWORD}".encode()).decode()
    out.append(settings)
    # A gzip-compressed response, so that the check reads bodies after Content-Encoding too.
    sync = next(f for f in out if "Cmd=Sync&User=alice" in f.request.path and len(f.response.content or b"") > 1000)
    compressed = sync.copy()
    compressed.response.headers["Content-Encoding"] = "gzip"
    compressed.response.content = sync.response.content  # mitmproxy compresses it
    assert compressed.response.raw_content != sync.response.content
    out.append(compressed)
    return out


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The capture with secrets, and its shared files with and without --keep-content."""
    work = tmp_path_factory.mktemp("share")
    with LAB_SESSION.open("rb") as file:
        flows = with_secrets([f for f in io.FlowReader(file).stream() if isinstance(f, http.HTTPFlow)])
    capture = work / "secret.sqlite"
    with CaptureWriter(capture, keep_credentials=True) as writer:
        for mitm_flow in flows:
            writer.add(flow_input_from_mitm(mitm_flow))
    paths = {"capture": capture, "work": work}
    for name, extra in (("shared", ()), ("kept", ("--keep-content",))):
        result = cli("share", str(capture), str(work / f"{name}.mitm"), *extra, cwd=work)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"shared {len(flows)} flows to "), result.stdout
        paths[name] = work / f"{name}.mitm"
    return paths


def encoded_forms(secret: str) -> set[bytes]:
    """The secret as bytes, URL-encoded, and base64 at each of the three alignments inside a longer run."""
    raw = secret.encode()
    forms = {raw, quote(secret, safe="").encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # drop the characters that depend on the bytes before and after the secret
        start = (shift * 4 + 2) // 3
        core = encoded[start: len(encoded) - 4]
        if len(core) >= 8:
            forms.add(core)
            forms.add(core.replace(b"+", b"-").replace(b"/", b"_"))
    return forms


def haystacks(path: Path) -> list[bytes]:
    """The file's bytes, every body after Content-Encoding, every multipart part, and the XML of every WBXML body."""
    data = path.read_bytes()
    found = [data]
    with path.open("rb") as file:
        for mitm_flow in io.FlowReader(file).stream():
            assert isinstance(mitm_flow, http.HTTPFlow)
            for message in (mitm_flow.request, mitm_flow.response):
                if message is None:
                    continue
                body = message.get_content(strict=True) or b""
                found.append(body)
                multipart = message.headers.get("content-type", "").endswith("multipart")
                parts = parse_multipart(body) if multipart else [body]
                found.extend(parts)
                for part in parts:
                    if eas.bodies.sniff(part) == "wbxml":
                        found.append(eas.decode_to_xml(part).encode())
    return found


def test_the_capture_holds_the_secrets_before_sharing(shared: dict[str, Path]) -> None:
    # the test can fail: what it looks for is there to find in the input
    data = b"".join(path.read_bytes() for path in shared["capture"].parent.glob("secret.sqlite*"))
    for needle in (base64.b64encode(f"alice:{PASSWORD}".encode()), JWT.encode(), COOKIE_VALUE.encode(),
                   AUTH_TOKEN.encode(), QUERY_TOKEN.encode(), DEVICE_PASSWORD.encode(), b"alice",
                   b"356938035643809", b"HTML newsletter"):
        assert needle in data, needle


@pytest.mark.parametrize("needle", SECRETS + IDENTITIES + USER_FOLDERS + CONTENT)
def test_shared_file_holds_no_secret_identity_or_content(shared: dict[str, Path], needle: str) -> None:
    forms = encoded_forms(needle) | {needle.lower().encode(), needle.upper().encode()}
    for haystack in haystacks(shared["shared"]):
        lowered = haystack.lower()
        for form in forms:
            assert form not in haystack and form.lower() not in lowered, (needle, form)


@pytest.mark.parametrize("needle", SECRETS)
def test_keep_content_still_drops_secrets(shared: dict[str, Path], needle: str) -> None:
    for haystack in haystacks(shared["kept"]):
        for form in encoded_forms(needle):
            assert form not in haystack, (needle, form)


@pytest.mark.parametrize("needle", IDENTITIES)
def test_keep_content_still_pseudonymises_identities_in_text(shared: dict[str, Path], needle: str) -> None:
    # content kept as it came stays encoded as it came: base64 MIME parts and calendar GlobalObjIds are not searched
    for haystack in haystacks(shared["kept"]):
        for form in (needle.encode(), quote(needle, safe="").encode()):
            assert form.lower() not in haystack.lower(), (needle, form)


def test_keep_content_keeps_a_subject(shared: dict[str, Path]) -> None:
    assert any("HTML newsletter été – unicode".encode() in haystack for haystack in haystacks(shared["kept"]))


def test_mitmproxy_reads_the_shared_file(shared: dict[str, Path]) -> None:
    mitmdump = Path(sys.executable).parent / "mitmdump"
    result = subprocess.run(
        [str(mitmdump), "-n", "-q", "-r", str(shared["shared"]), "--set", f"confdir={shared['work'] / 'mitm'}"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_shared_file_is_private_and_imports_back_with_the_same_protocol_facts(shared: dict[str, Path]) -> None:
    path = shared["shared"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    result = cli("import", str(path), str(shared["work"] / "back.sqlite"), cwd=shared["work"])
    assert result.returncode == 0, result.stderr
    with CaptureReader(shared["capture"]) as before, CaptureReader(shared["work"] / "back.sqlite") as after:
        old, new = list(before.records()), list(after.records())
        assert len(old) == len(new) == 78
        for original, copy in zip(old, new):
            assert (copy.row.method, copy.row.command, copy.row.http_status, copy.row.eas_status) == (
                original.row.method, original.row.command, original.row.http_status, original.row.eas_status)
            assert copy.sync_keys == original.sync_keys
            assert copy.policy_key == original.policy_key
            assert len(copy.collection_ids) == len(original.collection_ids)
            assert copy.row.device_type == original.row.device_type
            assert copy.row.protocol_version == original.row.protocol_version
            exchange_before, exchange_after = original.exchange(), copy.exchange()
            for body_before, body_after in ((exchange_before.request_body, exchange_after.request_body),
                                            (exchange_before.response_body, exchange_after.response_body)):
                if body_before is not None and body_before.kind in ("wbxml", "multipart"):
                    assert body_after is not None and body_after.kind == body_before.kind
                    assert body_after.root_tag == body_before.root_tag
                    assert body_after.plain_xml is not None
            # Content-Length matches the body on the wire
            for headers, body in ((copy.request_headers, copy.request_body),
                                  (copy.response_headers or (), copy.response_body or b"")):
                lengths = [value for name, value in headers if name.lower() == "content-length"]
                if lengths:
                    assert int(lengths[0]) == len(body)


def test_same_pseudonym_wherever_a_value_appears(shared: dict[str, Path]) -> None:
    with shared["shared"].open("rb") as file:
        flows = [f for f in io.FlowReader(file).stream() if isinstance(f, http.HTTPFlow)]
    alice = [f for f in flows if "User=user1&" in f.request.path]
    assert alice, "alice is the first user seen: user1"
    first = alice[0]
    assert first.request.headers["Host"] == "server1.example.invalid:18081"
    assert first.request.host == "server1.example.invalid"
    assert first.server_conn.address == ("server1.example.invalid", 18081)
    assert first.request.headers["Authorization"] == "Basic user1:<redacted>"
    assert first.request.headers["X-Auth-Token"] == "<redacted>"
    assert first.request.headers["Cookie"] == "SOGoSession=<redacted>; lang=<redacted>"
    # the base64 query form (MS-ASHTTP 2.2.1.1.1.1) of the same user and device decodes to the same stand-ins
    base64_query = next(f for f in flows if "Cmd=" not in f.request.path and "?" in f.request.path)
    decoded = eas.decode_query(base64_query.request.path.partition("?")[2])
    plain = eas.decode_query(first.request.path.partition("?")[2])
    assert (decoded.user, decoded.device_id) == (plain.user, plain.device_id) == ("user1", "DEVICE1")
    # Settings UserInformation answers alice's address: the same number as her user name
    settings = next(f for f in flows if "Cmd=Settings&User=user1" in f.request.path and f.response.content)
    assert "<PrimarySmtpAddress>user1@example.invalid</PrimarySmtpAddress>" in eas.decode_to_xml(
        settings.response.content)
    # the DevicePassword request keeps its element, not its value
    (device_password,) = [
        f for f in flows
        if "Cmd=Settings" in f.request.path and "DevicePassword" in eas.decode_to_xml(f.request.content or b"")
    ]
    assert "<Password>&lt;redacted&gt;</Password>" in eas.decode_to_xml(device_password.request.content)
    assert "access_token" not in device_password.request.path
    bob = eas.decode_query(next(f for f in flows if "Cmd=FolderSync" in f.request.path
                                and "DeviceType=pyactivesync" in f.request.path).request.path).user
    assert bob is not None and bob.startswith("user") and bob != "user1"
    assert device_password.request.headers["Proxy-Authorization"] == f"Basic {bob}:<redacted>"


def test_a_mitm_file_is_shared_as_its_imported_capture_is(tmp_path: Path) -> None:
    """`share FILE.mitm` imports it first, as `list` and `diagnose` do: the same pseudonymised flows as sharing
    the capture `import` makes of it, and no secret of the .mitm in the output."""
    with LAB_SESSION.open("rb") as file:
        flows = with_secrets([f for f in io.FlowReader(file).stream() if isinstance(f, http.HTTPFlow)])
    with (tmp_path / "secret.mitm").open("wb") as file:
        writer = io.FlowWriter(file)
        for mitm_flow in flows:
            writer.add(mitm_flow)
    assert cli("import", "secret.mitm", "imported.sqlite", cwd=tmp_path).returncode == 0
    from_capture = cli("share", "imported.sqlite", "from-capture.mitm", cwd=tmp_path)
    from_mitm = cli("share", "secret.mitm", "from-mitm.mitm", cwd=tmp_path)
    assert (from_mitm.returncode, from_mitm.stderr) == (0, "")
    assert from_mitm.stdout.startswith(f"shared {len(flows)} flows to from-mitm.mitm (content replaced by its size")
    assert from_mitm.stdout.replace("from-mitm", "from-capture") == from_capture.stdout

    def states(path: Path) -> list[object]:
        with path.open("rb") as file:
            return [f.get_state() for f in io.FlowReader(file).stream()]

    assert states(tmp_path / "from-mitm.mitm") == states(tmp_path / "from-capture.mitm")
    data = (tmp_path / "from-mitm.mitm").read_bytes()
    for needle in (*SECRETS, "alice", "EA5100000000000000000000000000A1"):
        assert needle.encode() not in data, needle
    # the .mitm's capture is a temporary one: nothing but the shared file is written beside it
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("imported.sqlite")) == [
        "from-capture.mitm", "from-mitm.mitm", "secret.mitm"]


def test_bad_input_is_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    result = cli("share", "missing.sqlite", "out.mitm", cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (1, "eas-inspector: missing.sqlite: no such file")
    (tmp_path / "notes.sqlite").write_text("not a capture\n")
    result = cli("share", "notes.sqlite", "out.mitm", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("eas-inspector: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_flows_holding_bytes_that_are_not_utf8_are_shared_without_a_traceback(tmp_path: Path) -> None:
    count = write_hostile(tmp_path / "hostile.mitm")
    assert cli("import", "hostile.mitm", "capture.sqlite", cwd=tmp_path).returncode == 0
    result = cli("share", "capture.sqlite", "out.mitm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"shared {count} flows to out.mitm")
    data = (tmp_path / "out.mitm").read_bytes()
    assert b"al\xffice" not in data  # the user name, with its byte that is not UTF-8, is pseudonymised too
    back = cli("import", "out.mitm", "back.sqlite", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
