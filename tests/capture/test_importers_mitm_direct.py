"""The direct .mitm reader (capture.importers.mitm_state) stores what mitmproxy's Flow objects store, row for row."""

from __future__ import annotations

import datetime
import gzip
import io
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mitmproxy import certs, flow, http, version
from mitmproxy.io import tnetstring
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow

from capture.importers import import_file, mitm, mitm_state
from tests.addon.test_non_utf8 import GOOD_PATH, mitm_flow
from tests.capture import forms, hostile

TABLES = {  # every table an import writes, every column, in a fixed order
    "flows": "SELECT * FROM flows ORDER BY id",
    "flow_bodies": "SELECT * FROM flow_bodies ORDER BY flow_id",
    "flow_text": "SELECT rowid, url, summary, request_text, response_text FROM flow_text ORDER BY rowid",
    "sessions": "SELECT * FROM sessions ORDER BY id",
}


def _rows(capture: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(capture) as connection:
        return {table: connection.execute(query).fetchall() for table, query in TABLES.items()}


def _record(state: dict[str, Any]) -> bytes:
    return tnetstring.dumps(state)


def _certificate() -> certs.Cert:
    """A self-signed certificate, as mitmproxy keeps a server's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.com")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(7).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return certs.Cert.from_pem(certificate.public_bytes(serialization.Encoding.PEM))


def _eas(f: http.HTTPFlow) -> http.HTTPFlow:
    f.request.path = GOOD_PATH.decode()
    return f


def _special_flows() -> list[Any]:
    """Flows of every kind a .mitm holds, each one thing the capture must keep exactly."""
    plain = mitm_flow(timestamp=1_763_700_000.0)
    non_utf8 = mitm_flow(host=b"mail.\xffexample.com", reason=b"O\xe9K", timestamp=1_763_700_001.0)
    non_utf8.request.headers[b"X-Note"] = b"caf\xe9"
    compressed = mitm_flow(timestamp=1_763_700_002.0)
    assert compressed.response is not None
    compressed.response.headers["Content-Encoding"] = "gzip"
    compressed.response.raw_content = gzip.compress(b"\x03\x01\x6a\x00\x00\x0d\x45\x47\x03" + b"1\x00\x01\x01")
    errored = _eas(tflow.tflow(err=True))
    no_response = _eas(tflow.tflow())
    streamed = _eas(tflow.tflow(resp=True))
    streamed.request.raw_content = None
    assert streamed.response is not None
    streamed.response.raw_content = None
    odd = _eas(tflow.tflow(resp=True))
    odd.metadata = {"note": "kept", "count": 3, "nested": {"dropped": 1}, "ratio": 0.5}
    odd.marked, odd.comment, odd.is_replay = ":star:", "a comment", "request"
    odd.request.trailers = http.Headers([(b"X-Trailer", b"end")])
    odd.client_conn.peername = ("::1", 50000, 0, 0)
    odd.server_conn.address = ("2001:db8::1", 443)
    tls = _eas(tflow.tflow(resp=True))
    certificate = _certificate()
    tls.server_conn.certificate_list = [certificate]
    tls.client_conn.mitmcert = certificate
    tls.client_conn.proxy_mode = ProxyMode.parse("reverse:https://mail.example.com:8443")
    other_http = tflow.tflow(resp=True)  # a path that is not EAS: skipped without --all-http
    websocket = _eas(tflow.twebsocketflow())
    return [plain, non_utf8, compressed, errored, no_response, streamed, odd, tls, other_http, websocket,
            tflow.ttcpflow(), tflow.tudpflow(), tflow.tdnsflow()]


def _fixture_files() -> Iterator[tuple[str, bytes]]:
    yield "lab-session", forms.LAB_SESSION.read_bytes()
    yield "special", hostile.mitm_bytes(_special_flows())
    # Every hostile file but the one that is no .mitm at all (detect_form refuses it before a reader runs).
    yield from ((name, data) for name, data in hostile.hostile_mitm_files().items() if name != "not-a-flow-file")


FIXTURES = dict(_fixture_files())


@pytest.mark.parametrize("all_http", [False, True], ids=["eas", "all-http"])
@pytest.mark.parametrize("workers", [0, 2], ids=["writer", "workers"])
@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_the_direct_reader_stores_every_column_as_flow_objects_do(
    tmp_path: Path, fixture: str, workers: int, all_http: bool
) -> None:
    source = tmp_path / f"{fixture}.mitm"
    source.write_bytes(FIXTURES[fixture])
    direct = import_file(source, tmp_path / "direct.sqlite", workers=workers, all_http=all_http, form="mitm")
    reference = import_file(source, tmp_path / "reference.sqlite", workers=workers, all_http=all_http,
                            form="mitm", flow_objects=True)
    assert direct == reference
    assert _rows(tmp_path / "direct.sqlite") == _rows(tmp_path / "reference.sqlite")


@pytest.mark.parametrize("options", [{}, {"keep_credentials": True, "max_body_size": 100}],
                         ids=["defaults", "credentials-kept-bodies-cut"])
@pytest.mark.parametrize("fixture", ["lab-session", "special", "bit-flip"])
def test_worker_processes_store_every_column_as_the_writer_alone_does(
    tmp_path: Path, fixture: str, options: dict[str, Any]
) -> None:
    """The workers prepare each flow's rows (writer.prepare_flow); the writer's own thread must store the same."""
    source = tmp_path / f"{fixture}.mitm"
    source.write_bytes(FIXTURES[fixture])
    alone = import_file(source, tmp_path / "alone.sqlite", workers=0, all_http=True, **options)
    pooled = import_file(source, tmp_path / "pooled.sqlite", workers=2, all_http=True, **options)
    assert alone == pooled
    assert _rows(tmp_path / "alone.sqlite") == _rows(tmp_path / "pooled.sqlite")


def test_the_lab_session_and_the_special_flows_take_the_direct_path() -> None:
    """Without this the comparison above could pass with every record read by mitmproxy."""
    for fixture, expected_direct in (("lab-session", 76), ("special", 9)):
        records = [item for item in mitm.records(io.BytesIO(FIXTURES[fixture])) if isinstance(item, mitm.Record)]
        direct = [record.number for record in records if mitm_state.http_flow(record.data) is not None]
        assert len(direct) == expected_direct, fixture
    # The websocket, TCP, UDP and DNS flows (the last four of the special file) are left to mitmproxy.
    special = [item for item in mitm.records(io.BytesIO(FIXTURES["special"])) if isinstance(item, mitm.Record)]
    assert [mitm_state.http_flow(record.data) is None for record in special[-4:]] == [True] * 4


# Values put in place of each field of a good flow's state: each type a tnetstring can carry, and the edges.
REPLACEMENTS: tuple[Any, ...] = (None, True, 0, -1, 10**30, 1.5, b"x", b"", "x", "", [], [b"a", b"b"], {}, {"a": 1})


def _paths(state: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(state, dict):
        for key, value in state.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(state, list):
        for index, value in enumerate(state):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _replaced(state: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(state) if isinstance(state, dict) else list(state)
    copy[path[0]] = _replaced(state[path[0]], path[1:], value)
    return copy


def _removed(state: Any, path: tuple[Any, ...]) -> Any:
    copy: Any = dict(state) if isinstance(state, dict) else list(state)
    if len(path) == 1:
        del copy[path[0]]
    else:
        copy[path[0]] = _removed(state[path[0]], path[1:])
    return copy


def _same_entry(data: bytes) -> None:
    record = mitm.Record(1, 0, data)
    assert mitm.entry(record, "f.mitm") == mitm.flow_object_entry(record, "f.mitm"), data[:300]


def _good_state() -> dict[str, Any]:
    good = tflow.tflow(resp=True, err=True)
    good.request.path = GOOD_PATH.decode()
    good.server_conn.certificate_list = [_certificate()]
    state: dict[str, Any] = tnetstring.loads(tnetstring.dumps(good.get_state()))  # as a file holds it: lists
    return state


def test_every_field_changed_or_removed_reads_as_mitmproxy_reads_it() -> None:
    """Each field of a good state replaced by each kind of value, or removed, or an unknown key added: the direct
    reader gives mitmproxy's entry (the flow, or mitmproxy's own error when the record is not readable)."""
    state = _good_state()
    _same_entry(_record(state))
    changes: list[Callable[[], Any]] = []
    for path in _paths(state):
        changes.append(lambda path=path: _removed(state, path))
        changes.extend(lambda path=path, value=value: _replaced(state, path, value) for value in REPLACEMENTS)
    for part in ("request", "response", "client_conn", "server_conn", "error"):
        changes.append(lambda part=part: {**state, part: {**state[part], "unknown": 1}})
    changes.append(lambda: {**state, "unknown": 1})
    for change in changes:
        _same_entry(_record(change()))


def test_an_older_format_goes_through_mitmproxys_migrations() -> None:
    state = _good_state()
    state["version"] = 20
    state["client_conn"]["tls_version"] = "QUIC"  # format 20's name, which mitmproxy's migration renames
    data = _record(state)
    assert mitm_state.http_flow(data) is None
    entry = mitm.entry(mitm.Record(1, 0, data), "old.mitm")
    assert isinstance(entry, tuple)
    assert entry[1].connection["client"]["tls_version"] == "QUICv1"


def test_the_keys_it_knows_are_those_of_the_installed_mitmproxy() -> None:
    """Checked against mitmproxy's own get_state: a mitmproxy that changed the format without a new version
    number would otherwise be read with the old keys."""
    assert version.FLOW_FORMAT_VERSION == mitm_state.KNOWN_FORMAT and mitm_state.ACTIVE
    state = _good_state()
    assert set(state) == mitm_state.FLOW_KEYS | mitm_state.OPTIONAL_FLOW_KEYS
    assert set(state["request"]) == mitm_state.REQUEST_KEYS
    assert set(state["response"]) == mitm_state.RESPONSE_KEYS
    assert set(state["error"]) == mitm_state.ERROR_KEYS
    assert set(state["client_conn"]) == mitm_state.CLIENT_KEYS
    assert set(state["server_conn"]) == mitm_state.SERVER_KEYS
    assert isinstance(flow.Flow.from_state(state), http.HTTPFlow)


def test_a_flow_id_is_kept_as_written() -> None:
    f = mitm_flow(timestamp=1_763_700_000.0)
    f.id = str(uuid.UUID(int=7))
    entry = mitm.entry(mitm.Record(1, 0, hostile.mitm_bytes([f])), "one.mitm")
    assert isinstance(entry, tuple)
    assert entry[1].extra["mitm_id"] == "00000000-0000-0000-0000-000000000007"
