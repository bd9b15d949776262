"""eas.verdicts: each exchange judged ok, warning or failed, every Status by its own table.

Exchanges are built by eas.analyze from WBXML bodies encoded from hand-written XML, so the paths and
meanings judged are the ones the analysis and the annotation produce; the expected outcomes, meanings and
reasons are written by hand from MS-ASCMD / MS-ASPROV / MS-ASHTTP.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from mitmproxy import io

import eas
from eas.exchange import Exchange, Problem, StatusNote, analyze
from eas.verdicts import JudgedStatus, Outcome, Verdict, http_outcome, http_reason, judge, judge_status, worst

WBXML = [("Content-Type", "application/vnd.ms-sync.wbxml")]
LAB_SESSION = Path(__file__).resolve().parents[1] / "data" / "real" / "lab-session.mitm"


def exchange(command: str, response_xml: str | None, *, http_status: int = 200,
             headers: list[tuple[str, str]] | None = None) -> Exchange:
    """A POST of `command` whose response body is `response_xml` encoded to WBXML."""
    url = f"/Microsoft-Server-ActiveSync?Cmd={command}&User=alice&DeviceId=dev1&DeviceType=phone"
    body = eas.encode(response_xml) if response_xml is not None else b""
    request_headers = [*WBXML, ("MS-ASProtocolVersion", "14.1")]
    return analyze("POST", url, request_headers, b"", http_status, [*WBXML, *(headers or [])], body)


MOVE_ITEMS = """<MoveItems xmlns="Move"><Response><SrcMsgId>5:1</SrcMsgId><Status>{}</Status>
<DstMsgId>7:1</DstMsgId></Response></MoveItems>"""

SYNC_TOP_1_COLLECTION_3 = """<Sync xmlns="AirSync"><Status>1</Status><Collections><Collection>
<SyncKey>0</SyncKey><CollectionId>5</CollectionId><Status>3</Status></Collection></Collections></Sync>"""

PROVISION_NO_POLICY = """<Provision xmlns="Provision"><Status>1</Status><Policies><Policy>
<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><Status>2</Status></Policy></Policies></Provision>"""


def test_move_items_3_is_ok() -> None:
    verdict = judge(exchange("MoveItems", MOVE_ITEMS.format(3)))
    assert verdict.outcome is Outcome.OK
    assert verdict.reasons == ()
    (judged,) = verdict.statuses
    assert judged == JudgedStatus("MoveItems/Response/Status", 3, "success", Outcome.OK, "MoveItems response",
                                  "MS-ASCMD 2.2.3.177.10")


def test_move_items_1_failed() -> None:
    verdict = judge(exchange("MoveItems", MOVE_ITEMS.format(1)))
    assert verdict.outcome is Outcome.FAILED
    assert verdict.worst is not None and verdict.worst.code == 1
    assert verdict.reasons[0].startswith("MoveItems/Response/Status = 1 (invalid source collection ID")


@pytest.mark.parametrize("code", [1, 2])
def test_ping_1_and_2_are_ok(code: int) -> None:
    verdict = judge(exchange("Ping", f'<Ping xmlns="Ping"><Status>{code}</Status></Ping>'))
    assert verdict.outcome is Outcome.OK and verdict.reasons == ()


def test_ping_5_is_a_warning() -> None:
    """MS-ASCMD 2.2.3.177.11: the heartbeat is out of range and the response carries the allowed one; the
    client resends with it (a client that does not is the diagnosis's finding)."""
    verdict = judge(exchange("Ping", '<Ping xmlns="Ping"><Status>5</Status><HeartbeatInterval>480'
                                     '</HeartbeatInterval></Ping>'))
    assert verdict.outcome is Outcome.WARNING
    assert verdict.reasons == ("Ping/Status = 5 (the heartbeat interval is outside the allowed range: use the "
                               "HeartbeatInterval returned)",)


@pytest.mark.parametrize("code", [4, 6, 8])
def test_ping_errors_failed(code: int) -> None:
    assert judge(exchange("Ping", f'<Ping xmlns="Ping"><Status>{code}</Status></Ping>')).outcome is Outcome.FAILED


def test_provision_policy_2_means_no_policy_and_is_ok() -> None:
    ex = exchange("Provision", PROVISION_NO_POLICY)
    verdict = judge(ex)
    policy = next(judged for judged in verdict.statuses if judged.path.endswith("Policy/Status"))
    assert policy.code == 2 and policy.meaning is not None and "no policy for this client" in policy.meaning
    assert policy.table == "Provision Policy" and policy.section == "MS-ASPROV 2.2.2.54.1"
    assert verdict.outcome is Outcome.OK
    # the exchange's own status notes say the same (one lookup for both)
    note = next(note for note in ex.eas_statuses if note.path == policy.path)
    assert note.meaning == policy.meaning


def test_provision_policy_2_annotation_agrees() -> None:
    ex = exchange("Provision", PROVISION_NO_POLICY)
    assert ex.response_body is not None and ex.response_body.xml is not None
    assert "Status 2: no policy for this client" in ex.response_body.xml
    assert "protocol error" not in ex.response_body.xml


def test_sync_top_1_collection_3_failed_with_that_reason() -> None:
    verdict = judge(exchange("Sync", SYNC_TOP_1_COLLECTION_3))
    assert verdict.outcome is Outcome.FAILED
    assert [judged.outcome for judged in verdict.statuses] == [Outcome.OK, Outcome.FAILED]
    assert verdict.reasons == ("Sync/Collections/Collection/Status = 3 (invalid synchronization key: the client "
                               "must start again from SyncKey 0 for this collection)",)
    assert verdict.worst is not None and verdict.worst.table == "Sync collection"


def test_sync_item_status_read_with_the_item_table() -> None:
    xml = """<Sync xmlns="AirSync"><Collections><Collection><SyncKey>2</SyncKey><CollectionId>5</CollectionId>
    <Status>1</Status><Responses><Change><ServerId>5:1</ServerId><Status>7</Status></Change></Responses>
    </Collection></Collections></Sync>"""
    verdict = judge(exchange("Sync", xml))
    item = verdict.statuses[-1]
    assert item.table == "Sync item" and item.outcome is Outcome.WARNING
    assert item.meaning is not None and item.meaning.startswith("conflict")
    assert verdict.outcome is Outcome.WARNING


def test_http_401_failed() -> None:
    verdict = judge(exchange("FolderSync", None, http_status=401))
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reasons == ("HTTP 401 Unauthorized",)
    assert verdict.statuses == ()


@pytest.mark.parametrize(("code", "outcome"), [
    (200, Outcome.OK), (449, Outcome.WARNING), (451, Outcome.WARNING), (403, Outcome.FAILED),
    (413, Outcome.FAILED), (500, Outcome.FAILED), (501, Outcome.FAILED), (503, Outcome.FAILED),
    (302, Outcome.WARNING),
])
def test_http_status_outcomes(code: int, outcome: Outcome) -> None:
    assert judge(exchange("Sync", None, http_status=code)).outcome is outcome


def test_451_reason_names_the_target() -> None:
    target = "https://mail2.example.com/Microsoft-Server-ActiveSync"
    verdict = judge(exchange("Sync", None, http_status=451, headers=[("X-MS-Location", target)]))
    assert verdict.reasons == (f"HTTP 451 Redirect to {target}",)


def test_no_response_with_transport_error_failed() -> None:
    url = "/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=dev1&DeviceType=phone"
    ex = analyze("POST", url, WBXML, b"")
    verdict = judge(ex, transport_error="connection reset")
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reasons == ("no response: connection reset",)


def test_no_response_and_no_error_is_a_warning() -> None:
    url = "/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=dev1&DeviceType=phone"
    verdict = judge(analyze("POST", url, WBXML, b""))
    assert verdict.outcome is Outcome.WARNING and verdict.reasons == ("no response recorded",)


def test_transport_error_beside_a_response_failed() -> None:
    verdict = judge(exchange("Ping", '<Ping xmlns="Ping"><Status>1</Status></Ping>'), transport_error="timeout")
    assert verdict.outcome is Outcome.FAILED and verdict.reasons == ("transport error: timeout",)


@pytest.mark.parametrize("code", [2, 3, 4])
def test_get_item_estimate_2_to_4_failed(code: int) -> None:
    xml = f"""<GetItemEstimate xmlns="GetItemEstimate"><Response><Status>{code}</Status><Collection>
    <CollectionId>5</CollectionId></Collection></Response></GetItemEstimate>"""
    verdict = judge(exchange("GetItemEstimate", xml))
    assert verdict.outcome is Outcome.FAILED
    assert verdict.statuses[0].table == "GetItemEstimate response"


def test_undecodable_response_failed() -> None:
    url = "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=dev1&DeviceType=phone"
    verdict = judge(analyze("POST", url, WBXML, b"", 200, WBXML, b"\x03\x01\x6a\x00\x45\x99"))
    assert verdict.outcome is Outcome.FAILED
    assert any(reason.startswith("response body: ") for reason in verdict.reasons)


def test_problem_severity_decides() -> None:
    base = exchange("Ping", '<Ping xmlns="Ping"><Status>1</Status></Ping>')
    warned = replace(base, problems=(Problem("request body", "schema: unexpected", None, "warning"),))
    assert judge(warned).outcome is Outcome.WARNING
    assert judge(warned).reasons == ("request body: schema: unexpected",)
    failed = replace(base, problems=(Problem("response body", "could not decode: cut", 3),))
    assert judge(failed).outcome is Outcome.FAILED


def test_reasons_worst_first() -> None:
    base = exchange("Sync", SYNC_TOP_1_COLLECTION_3)
    ex = replace(base, problems=(Problem("request body", "schema: odd", None, "warning"),),
                 eas_statuses=(StatusNote("Sync/Collections/Collection/Status", 12, None),
                               StatusNote("Sync/Collections/Collection/Status", 3, None)))
    verdict = judge(ex)
    assert verdict.reasons[0].startswith("Sync/Collections/Collection/Status = 3 ")
    assert verdict.reasons[1].startswith("Sync/Collections/Collection/Status = 12 ")
    assert verdict.reasons[2] == "request body: schema: odd"
    assert verdict.worst is not None and verdict.worst.code == 3


def test_judge_status_common_code_and_unknown_code() -> None:
    provision_needed = judge_status("Sync", "Sync/Status", 142)
    assert provision_needed.outcome is Outcome.WARNING and provision_needed.section == "MS-ASCMD 2.2.2"
    assert provision_needed.table == "Sync"
    assert judge_status("Sync", "Sync/Status", 177).outcome is Outcome.FAILED
    unknown = judge_status("Sync", "Sync/Collections/Collection/Status", 2)  # Sync defines no 2
    assert unknown.meaning is None and unknown.outcome is Outcome.FAILED
    assert unknown.describe() == "Sync/Collections/Collection/Status = 2 (unknown Sync collection status code)"


def test_judge_status_policy_in_a_request() -> None:
    ack = judge_status("Provision", "Provision/Policies/Policy/Status", 2, in_request=True)
    assert ack.table == "Provision Policy acknowledgment" and ack.outcome is Outcome.WARNING


def test_worst_and_rank() -> None:
    assert worst([]) is Outcome.OK
    assert worst([Outcome.WARNING, Outcome.OK]) is Outcome.WARNING
    assert worst([Outcome.OK, Outcome.FAILED, Outcome.WARNING]) is Outcome.FAILED
    assert Outcome("failed") is Outcome.FAILED and str(Outcome.WARNING) == "warning"
    assert Outcome.OK.rank < Outcome.WARNING.rank < Outcome.FAILED.rank


def test_http_reason_phrases() -> None:
    assert http_reason(401) == "HTTP 401 Unauthorized"
    assert http_reason(503) == "HTTP 503 Service Unavailable"
    assert http_reason(449) == "HTTP 449 Retry With (provision first)"
    assert http_reason(599) == "HTTP 599"


def test_verdict_worst_is_none_without_statuses() -> None:
    assert Verdict(Outcome.OK, (), ()).worst is None


def test_element_status_meaning_uses_the_same_table() -> None:
    root = eas.parse_xml(SYNC_TOP_1_COLLECTION_3)
    collection_status = root.find("{AirSync}Collections/{AirSync}Collection/{AirSync}Status")
    assert isinstance(collection_status, etree._Element)
    judged = judge_status("Sync", "Sync/Collections/Collection/Status", 3)
    assert eas.element_status_meaning(collection_status) == judged.meaning


# The scenario's deliberate faults, as tests/data/real/capture.log lists them; every other flow is clean traffic.
LAB_FAULTS = {
    ("FolderDelete", Outcome.FAILED),  # "FolderDelete contacts (text 500): HTTP 500"
    ("Ping", Outcome.WARNING),  # "Ping too long (5)", "Ping empty (3)"
    ("ValidateCert", Outcome.FAILED),  # "ValidateCert: ... Status 1,17"
    ("Find", Outcome.FAILED),  # "Find: HTTP 501"
}


def test_real_lab_session_is_ok_but_for_its_faults() -> None:
    outcomes: list[tuple[str | None, Outcome]] = []
    with LAB_SESSION.open("rb") as stream:
        for flow in io.FlowReader(stream).stream():
            request, response = flow.request, flow.response  # type: ignore[attr-defined]
            ex = analyze(request.method, request.url, list(request.headers.items(multi=True)),
                         request.raw_content or b"", response.status_code, list(response.headers.items(multi=True)),
                         response.raw_content or b"")
            outcomes.append((ex.command, judge(ex).outcome))
    faults = [(command, outcome) for command, outcome in outcomes if outcome is not Outcome.OK]
    assert set(faults) == LAB_FAULTS
    assert len(faults) == 5 and len(outcomes) - len(faults) >= 60


# ------------------------------------------------------------------------ each rule at its edges, by hand


@pytest.mark.parametrize(("code", "outcome"), [
    (100, Outcome.WARNING), (199, Outcome.WARNING), (200, Outcome.OK), (299, Outcome.OK), (300, Outcome.WARNING),
    (399, Outcome.WARNING), (400, Outcome.FAILED), (448, Outcome.FAILED), (450, Outcome.FAILED),
    (452, Outcome.FAILED), (599, Outcome.FAILED),
])
def test_http_outcome_at_the_edges_of_each_range(code: int, outcome: Outcome) -> None:
    # rule 2: 2xx ok; 1xx, 3xx, 449 and 451 warnings; every other code fails
    assert http_outcome(code) is outcome


def test_http_reason_of_an_eas_code_and_of_a_standard_one() -> None:
    assert http_reason(451) == "HTTP 451 Redirect"
    assert http_reason(200) == "HTTP 200 OK"
    assert http_reason(999) == "HTTP 999"


def test_reasons_among_equals_keep_the_order_of_the_rules() -> None:
    # rule 2 (HTTP 500), rule 3 (transport error), rule 4 (a failed Status), rule 5 (an undecodable part): all
    # failures, listed in the order of the rules; the warning (449 has none here) after them
    base = exchange("Ping", '<Ping xmlns="Ping"><Status>6</Status></Ping>', http_status=500)
    ex = replace(base, problems=(Problem("request body", "schema: odd", None, "warning"),
                                 Problem("response body", "could not decode: cut", 3)))
    verdict = judge(ex, transport_error="reset")
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reasons == (
        "HTTP 500 Internal Server Error",
        "transport error: reset",
        # MS-ASCMD 2.2.3.177.11: Ping 6, more folders than the server monitors
        "Ping/Status = 6 (more than the allowed number of folders to monitor: monitor at most MaxFolders)",
        "response body: could not decode: cut",
        "request body: schema: odd",
    )


def test_a_response_with_ok_statuses_only_has_no_reason() -> None:
    verdict = judge(exchange("Ping", '<Ping xmlns="Ping"><Status>1</Status></Ping>'))
    assert (verdict.outcome, verdict.reasons) == (Outcome.OK, ())
    assert verdict.statuses == (JudgedStatus("Ping/Status", 1, "the heartbeat interval expired with no changes: "
                                             "send Ping again", Outcome.OK, "Ping", "MS-ASCMD 2.2.3.177.11"),)


def test_a_redirect_without_a_location_names_no_target() -> None:
    assert judge(exchange("Sync", None, http_status=451)).reasons == ("HTTP 451 Redirect",)


def test_the_worst_status_is_the_first_of_the_worst() -> None:
    def judged(code: int, outcome: Outcome) -> JudgedStatus:
        return JudgedStatus("Ping/Status", code, None, outcome, "Ping", "MS-ASCMD 2.2.3.177.11")

    first, second = judged(6, Outcome.FAILED), judged(8, Outcome.FAILED)
    verdict = Verdict(Outcome.FAILED, (judged(1, Outcome.OK), first, judged(5, Outcome.WARNING), second), ())
    assert verdict.worst is first
    assert Verdict(Outcome.OK, (judged(1, Outcome.OK), judged(2, Outcome.OK)), ()).worst == judged(1, Outcome.OK)


def test_judge_status_reads_ok_warning_and_failed_from_the_table_of_its_place() -> None:
    # MS-ASCMD 2.2.3.177.17: Sync collection 1 success; 12 (folder hierarchy changed) tells the client to run
    # FolderSync; 3 (invalid synchronization key) fails
    assert judge_status("Sync", "Sync/Collections/Collection/Status", 1).outcome is Outcome.OK
    assert judge_status("Sync", "Sync/Collections/Collection/Status", 12).outcome is Outcome.WARNING
    failed = judge_status("Sync", "Sync/Collections/Collection/Status", 3)
    assert (failed.outcome, failed.table, failed.section) == (Outcome.FAILED, "Sync collection",
                                                              "MS-ASCMD 2.2.3.177.17")
    # a code no table lists fails, named with the table of its place
    unknown = judge_status("Ping", "Ping/Status", 99)
    assert (unknown.meaning, unknown.outcome, unknown.table, unknown.section) == (
        None, Outcome.FAILED, "Ping", "MS-ASCMD 2.2.3.177.11")
    # a common code (MS-ASCMD 2.2.2) is judged by the common table, and its section is that table's
    common = judge_status("Ping", "Ping/Status", 110)
    assert (common.outcome, common.table, common.section) == (Outcome.FAILED, "Ping", "MS-ASCMD 2.2.2")


def test_the_command_names_the_table_before_the_root_of_the_document() -> None:
    # Ping 2 (MS-ASCMD 2.2.3.177.11: changes in the folders) is ok; Sync defines no top-level 2, so reading the
    # path's root (Sync) instead of the command (Ping) would fail it
    assert judge_status("Ping", "Sync/Status", 2).outcome is Outcome.OK
    assert judge_status(None, "Sync/Status", 2).outcome is Outcome.FAILED
    base = exchange("Ping", '<Ping xmlns="Ping"><Status>2</Status></Ping>')
    odd = replace(base, eas_statuses=(StatusNote("Sync/Status", 2, None),))
    assert (judge(odd).outcome, judge(odd).statuses[0].table) == (Outcome.OK, "Ping")
