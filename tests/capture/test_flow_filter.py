"""Each FlowFilter field selects the flows it names (flows, count_flows, evidence alike); typed text as FTS5."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.mitm import flow_input_from_mitm
from capture.model import FlowFilter
from capture.reader import CaptureReader, fts_query
from capture.writer import CaptureWriter
from tests.capture.test_store import eas_flow, sync_response

# The capture below, flow by flow (ids in the order written):
#   1  FolderSync  alice DEV1  HTTP 200, FolderSync Status 1                          ok
#   2  Sync        alice DEV1  HTTP 200, collection 5 Status 1, mail "Quarterly figures"  ok
#   3  Sync        alice DEV1  HTTP 200, collection 5 Status 3 (invalid SyncKey), mail "Budget draft"  failed
#   4  FolderSync  bob   DEV2  HTTP 401, no body                                      failed
#   5  Sync        alice DEV1  a replay of 2                                          ok
ALICE = "alice session"  # stands for the id of alice's DEV1 session, looked up by user below

CASES: list[tuple[str, dict[str, object], list[int]]] = [
    ("everything", {}, [1, 2, 3, 4, 5]),
    ("session_id", {"session_id": ALICE}, [1, 2, 3, 5]),
    ("device_id", {"device_id": "DEV2"}, [4]),
    ("user", {"user": "alice"}, [1, 2, 3, 5]),
    ("command", {"command": "Sync"}, [2, 3, 5]),
    ("collection_id", {"collection_id": "5"}, [2, 3, 5]),
    ("collection_id, another", {"collection_id": "6"}, []),
    ("flow_ids", {"flow_ids": (5, 1)}, [1, 5]),
    ("flow_ids, none", {"flow_ids": ()}, []),
    ("replay_of", {"replay_of": 2}, [5]),
    ("min_id", {"min_id": 3}, [4, 5]),
    ("eas_status", {"eas_status": 3}, [3]),
    ("eas_status, another than 1", {"eas_status": (1, 1, True)}, [3]),
    ("http_status", {"http_status": 401}, [4]),
    ("http_status, 4xx", {"http_status": (400, 499, False)}, [4]),
    ("http_status, another than 200", {"http_status": (200, 200, True)}, [4]),
    ("outcome ok", {"outcome": "ok"}, [1, 2, 5]),
    ("outcome failed", {"outcome": "failed"}, [3, 4]),
    ("failed_only", {"failed_only": True}, [3, 4]),
    ("problems_only", {"problems_only": True}, [3, 4]),
    ("text", {"text": "quarterly"}, [2, 5]),
    ("text, a phrase", {"text": '"Budget draft"'}, [3]),
    ("text, empty", {"text": ""}, [1, 2, 3, 4, 5]),
    ("text, two words: both must occur", {"text": "figures quarterly"}, [2, 5]),
    ("text, two words: not both in one flow", {"text": "quarterly budget"}, []),
    ("text, a control character parts words", {"text": "quarterly\x00figures"}, [2, 5]),
    ("text, an empty phrase is no term", {"text": '"" budget'}, [3]),
    ("every field that is set must hold", {"user": "alice", "command": "Sync", "failed_only": True}, [3]),
    # each condition keeps the parameters of the ones before it
    ("a field, then a status code", {"user": "alice", "eas_status": 3}, [3]),
    ("a status range, then a status code", {"eas_status": (1, 1, False), "http_status": 200}, [1, 2, 5]),
    ("a field, then flow_ids", {"command": "FolderSync", "flow_ids": (1, 2, 4)}, [1, 4]),
    ("flow_ids, then min_id and text", {"flow_ids": (1, 2, 5), "min_id": 1, "text": "quarterly"}, [2, 5]),
]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaptureReader]:
    path = tmp_path_factory.mktemp("filter") / "capture.sqlite"
    with CaptureWriter(path) as writer:
        ids = [
            writer.add_sync(flow_input_from_mitm(eas_flow("FolderSync", timestamp=100.0))),
            writer.add_sync(flow_input_from_mitm(eas_flow("Sync", timestamp=110.0))),
            writer.add_sync(flow_input_from_mitm(
                eas_flow("Sync", timestamp=120.0, response_body=sync_response("Budget draft", status="3"))
            )),
            writer.add_sync(flow_input_from_mitm(
                eas_flow("FolderSync", user="bob", device_id="DEV2", status_code=401, response_body=b"",
                         response_headers=(), timestamp=130.0)
            )),
        ]
        ids.append(writer.add_sync(flow_input_from_mitm(eas_flow("Sync", timestamp=140.0)), replay_of=ids[1]))
    assert ids == [1, 2, 3, 4, 5]
    with CaptureReader(path) as opened:
        yield opened


def _filter(reader: CaptureReader, fields: dict[str, object]) -> FlowFilter:
    if fields.get("session_id") == ALICE:
        (alice,) = [session.id for session in reader.sessions() if session.user == "alice"]
        fields = {**fields, "session_id": alice}
    return FlowFilter(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_filter_field_selects_the_flows_it_names(
    reader: CaptureReader, fields: dict[str, object], expected: list[int]
) -> None:
    flow_filter = _filter(reader, fields)
    assert [row.id for row in reader.flows(flow_filter, order="id", limit=None)] == expected
    assert reader.count_flows(flow_filter) == len(expected)
    assert sorted(evidence.flow_id for evidence in reader.evidence(flow_filter)) == expected


def test_every_field_of_flow_filter_has_a_case() -> None:
    covered = {name for _, fields, _ in CASES for name in fields}
    assert covered == {field.name for field in dataclasses.fields(FlowFilter)}


def test_a_list_of_flow_ids_is_kept_as_a_tuple_so_the_filter_stays_hashable() -> None:
    flow_filter = FlowFilter(flow_ids=[3, 1])  # type: ignore[arg-type]
    assert flow_filter.flow_ids == (3, 1) and hash(flow_filter) == hash(FlowFilter(flow_ids=(3, 1)))


def test_an_unknown_outcome_is_refused(reader: CaptureReader) -> None:
    with pytest.raises(ValueError):
        reader.flows(FlowFilter(outcome="fine"))


@pytest.mark.parametrize(("typed", "query"), [
    ("quarterly", '"quarterly"*'),  # a bare word is a prefix
    ("Quarter*", '"Quarter"*'),  # a trailing * says the same
    ("INBOX**", '"INBOX"*'),
    ("*Quarter", '"*Quarter"*'),  # only trailing stars go
    ("***", '"***"*'),  # nothing but stars stays as typed
    ('a "b c" d*', '"a"* "b c" "d"*'),  # a quoted phrase is exact
    ('x"y', '"x""y"*'),  # a quote inside a word is doubled
    ('"open phrase', '"open phrase"'),  # an unclosed quote runs to the end
    ('"" budget', '"budget"*'),  # an empty phrase is no term
    ("quarterly\x00figures\x1fdraft\x7f", '"quarterly"* "figures"* "draft"*'),  # control characters part words
    ("  ", None),
    ('""', None),
    ("", None),
])
def test_fts_query_quotes_every_term(typed: str, query: str | None) -> None:
    assert fts_query(typed) == query
