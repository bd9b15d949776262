"""eas.diagnosis: each rule on a short synthetic session (the finding, and a near miss that stays quiet); the lab."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import eas
from eas.diagnosis import RULE_IDS, RULES, Diagnoser, Finding, FlowEvidence, diagnose
from eas.facts import CollectionStep, FlowFacts, FolderChange

HOST = "mail.example.com"
INBOX, CALENDAR = "2", "8"
REAL = Path(__file__).resolve().parent.parent / "data" / "real"


def ev(flow_id: int, facts: FlowFacts, ts: float | None = None, *, host: str = HOST, device: str = "DEV1",
       missing: frozenset[str] = frozenset(), duration: float | None = None) -> FlowEvidence:
    return FlowEvidence(flow_id, float(flow_id * 10) if ts is None else ts, "alice", device, "Phone", host, facts,
                        missing, duration)


def folders() -> FlowFacts:
    return FlowFacts(command="FolderSync", http_status=200, statuses=(("FolderSync/Status", 1),),
                     folder_sync_key_request="0", folder_sync_key_response="h1",
                     folder_changes=(FolderChange("Add", INBOX, "0", "INBOX", 2),
                                     FolderChange("Add", CALENDAR, "0", "Calendar", 8)))


def sync(sent: str | None, answered: str | None, status: int | None = 1, collection: str = INBOX,
         http: int | None = 200, **step: object) -> FlowFacts:
    statuses = (("Sync/Collections/Collection/Status", status),) if status is not None else ()
    return FlowFacts(command="Sync", http_status=http, statuses=statuses,
                     collections=(CollectionStep(collection, None, sent, answered, status, **step),))  # type: ignore[arg-type]


def plain(command: str, http: int | None = 200, status: int | None = None, **facts: object) -> FlowFacts:
    statuses = ((f"{command}/Status", status),) if status is not None else ()
    return FlowFacts(command=command, http_status=http, statuses=statuses, **facts)  # type: ignore[arg-type]


def ping(status: int | None, heartbeat: int | None = 900, limit: int | None = None, **facts: object) -> FlowFacts:
    return plain("Ping", status=status, ping_heartbeat_requested=heartbeat, ping_heartbeat_limit=limit,
                 collections=(CollectionStep(INBOX, "Email"),), **facts)


def only(findings: list[Finding], rule: str) -> list[Finding]:
    return [finding for finding in findings if finding.rule == rule]


def test_rule_table_ids_are_the_interface() -> None:
    assert RULE_IDS == (
        "sync-key-invalid-loop", "sync-key-reset-churn", "sync-key-replayed", "folder-sync-required-ignored",
        "provisioning-loop", "redirect-loop", "throttled", "retry-too-early", "auth-failures",
        "ping-heartbeat-out-of-range", "version-not-offered", "more-available-not-followed", "window-too-large",
        "request-too-large", "server-errors", "duplicate-items",
    )
    for rule in RULES:
        assert rule.severity in ("error", "warning", "info")
        assert rule.spec.startswith(("MS-AS", "RFC"))
        assert rule.needs


# --- sync-key-invalid-loop


def test_invalid_sync_key_sent_again_is_a_loop() -> None:
    findings = diagnose([ev(1, folders()), ev(2, sync("k5", None, 3)), ev(3, sync("k5", None, 3)),
                         ev(4, sync("k5", None, 3))])
    (finding,) = only(findings, "sync-key-invalid-loop")
    assert finding.severity == "error"
    assert finding.flows == (2, 3, 4)
    assert "INBOX" in finding.summary and "k5" in finding.summary and "2 times" in finding.summary
    assert finding.spec.startswith("MS-ASCMD 2.2.3.177.17")
    assert (finding.device_id, finding.user, finding.host) == ("DEV1", "alice", HOST)


def test_invalid_sync_key_followed_by_zero_is_quiet() -> None:
    findings = diagnose([ev(1, folders()), ev(2, sync("k5", None, 3)), ev(3, sync("0", "k1")),
                         ev(4, sync("k1", "k2"))])
    assert only(findings, "sync-key-invalid-loop") == []


def test_foldersync_status_9_and_the_same_key_again() -> None:
    bad = plain("FolderSync", status=9, folder_sync_key_request="h7")
    findings = diagnose([ev(1, bad), ev(2, bad)])
    (finding,) = only(findings, "sync-key-invalid-loop")
    assert finding.flows == (1, 2)
    assert "folder hierarchy" in finding.summary and "Status 9" in finding.summary
    assert only(diagnose([ev(1, bad), ev(2, plain("FolderSync", status=1, folder_sync_key_request="0"))]),
                "sync-key-invalid-loop") == []


# --- sync-key-reset-churn


def test_three_resets_of_one_collection_are_churn() -> None:
    flows = [ev(1, folders()), ev(2, sync("0", "a")), ev(3, sync("a", "b")), ev(4, sync("0", "c")),
             ev(5, sync("c", "d")), ev(6, sync("0", "e")), ev(7, sync("0", "f"))]
    (finding,) = only(diagnose(flows), "sync-key-reset-churn")
    assert finding.severity == "warning"
    assert finding.flows == (4, 6, 7)
    assert "INBOX" in finding.summary and "3 times" in finding.summary


def test_first_sync_of_new_folders_and_one_reset_are_not_churn() -> None:
    flows = [ev(1, folders()), ev(2, sync("0", "a")), ev(3, sync("0", "x", collection=CALENDAR)),
             ev(4, sync("a", None, 3)), ev(5, sync("0", "b")), ev(6, sync("b", "c"))]
    assert only(diagnose(flows), "sync-key-reset-churn") == []


# --- sync-key-replayed


def test_a_key_the_server_advanced_sent_again_names_the_suspects() -> None:
    flows = [ev(1, folders()), ev(2, sync("0", "k1")), ev(3, sync("k1", "k2", server_ids_added=("2:7", "2:8"))),
             ev(4, sync("k1", "k2", server_ids_added=("2:7", "2:8")))]
    (finding,) = only(diagnose(flows), "sync-key-replayed")
    assert finding.severity == "warning"
    assert finding.flows == (3, 4)
    assert "INBOX" in finding.summary and "k1" in finding.summary and "k2" in finding.summary
    assert "2:7, 2:8" in finding.summary


def test_a_key_the_server_did_not_advance_may_be_sent_again() -> None:
    flows = [ev(1, sync("0", "k1")), ev(2, sync("k1", "k1")), ev(3, sync("k1", "k2")), ev(4, sync("k2", "k3"))]
    assert only(diagnose(flows), "sync-key-replayed") == []


# --- folder-sync-required-ignored


def test_status_12_and_no_foldersync() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", None, 12)), ev(3, sync("k1", None, 12)), ev(4, ping(1))]
    (finding,) = only(diagnose(flows), "folder-sync-required-ignored")
    assert finding.severity == "error"
    assert finding.flows == (2, 3, 4)
    assert "INBOX" in finding.summary and "Status 12" in finding.summary


def test_status_12_then_foldersync_and_ping_2_are_quiet() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", None, 12)), ev(3, folders()), ev(4, sync("0", "k1")),
             ev(5, ping(2, ping_changed_folders=(INBOX,))), ev(6, sync("k1", "k2"))]
    assert only(diagnose(flows), "folder-sync-required-ignored") == []


def test_ping_7_and_no_foldersync() -> None:
    flows = [ev(1, ping(7)), ev(2, ping(7)), ev(3, ping(7))]
    (finding,) = only(diagnose(flows), "folder-sync-required-ignored")
    assert finding.flows == (1, 2, 3)
    assert "Ping with Status 7" in finding.summary


# --- provisioning-loop


def _provision(phase: int, policy_status: int, key: str | None, wipe: bool = False) -> FlowFacts:
    return plain("Provision", status=1, provision_phase=phase, policy_status=policy_status,
                 provision_response_policy_key=key, remote_wipe=wipe,
                 provision_request_policy_key="t1" if phase == 2 else None)


def test_repeated_449_is_a_provisioning_loop() -> None:
    flows = [ev(1, plain("FolderSync", 449)), ev(2, _provision(1, 1, "t1")), ev(3, _provision(2, 1, "p1")),
             ev(4, plain("FolderSync", 449, policy_key="p1")), ev(5, _provision(1, 1, "t2")),
             ev(6, _provision(2, 1, "p2")), ev(7, plain("FolderSync", 449, policy_key="p2"))]
    (finding,) = only(diagnose(flows), "provisioning-loop")
    assert finding.severity == "error"
    assert finding.flows == (1, 4, 7)
    assert "3 times" in finding.summary


def test_one_449_then_a_full_provision_is_quiet() -> None:
    flows = [ev(1, plain("FolderSync", 449)), ev(2, _provision(1, 1, "t1")), ev(3, _provision(2, 1, "p1")),
             ev(4, plain("FolderSync", 200, 1, policy_key="p1")), ev(5, plain("FolderSync", 449, policy_key="p1")),
             ev(6, _provision(1, 1, "t2")), ev(7, _provision(2, 1, "p2")), ev(8, plain("Sync", 200, policy_key="p2"))]
    assert only(diagnose(flows), "provisioning-loop") == []


def test_policy_downloaded_and_never_acknowledged() -> None:
    (finding,) = only(diagnose([ev(1, _provision(1, 1, "t1")), ev(2, plain("FolderSync", 200))]), "provisioning-loop")
    assert finding.flows == (1, 2)
    assert "phase 2" in finding.summary
    # SOGo's "no policy" (Policy Status 2) needs no acknowledgment
    assert only(diagnose([ev(1, _provision(1, 2, None)), ev(2, plain("FolderSync", 200))]), "provisioning-loop") == []


def test_stale_policy_key_and_remote_wipe() -> None:
    flows = [ev(1, _provision(1, 1, "t1")), ev(2, _provision(2, 1, "p1")), ev(3, plain("Sync", 449, policy_key="p0")),
             ev(4, _provision(1, 1, "t2", wipe=True))]
    findings = only(diagnose(flows), "provisioning-loop")
    assert {(finding.severity, finding.flows) for finding in findings} == {("warning", (3,)), ("warning", (4,))}
    stale = next(finding for finding in findings if finding.flows == (3,))
    assert "p0" in stale.summary and "p1" in stale.summary
    assert any("wipe" in finding.summary for finding in findings)


# --- redirect-loop


def test_451_to_the_same_server() -> None:
    flows = [ev(1, plain("Sync", 451, redirect_location=f"https://{HOST.upper()}/Microsoft-Server-ActiveSync"))]
    (finding,) = only(diagnose(flows), "redirect-loop")
    assert finding.severity == "error" and finding.flows == (1,)


def test_451_ignored_and_451_followed() -> None:
    moved = plain("Sync", 451, redirect_location="https://new.example.com/Microsoft-Server-ActiveSync")
    (finding,) = only(diagnose([ev(1, moved), ev(2, plain("Sync")), ev(3, plain("Ping"))]), "redirect-loop")
    assert finding.flows == (1, 2, 3)
    assert "new.example.com" in finding.summary
    (again,) = only(diagnose([ev(1, moved), ev(2, moved), ev(3, moved)]), "redirect-loop")
    assert again.flows == (1, 2, 3)
    followed = [ev(1, moved), ev(2, plain("Sync"), host="new.example.com"), ev(3, plain("Ping"), host="new.example.com")]
    assert only(diagnose(followed), "redirect-loop") == []


# --- throttled, retry-too-early


def test_503_with_retry_after_is_throttling_and_early_retries() -> None:
    throttled = plain("Sync", 503, retry_after="60", retry_after_seconds=60, throttle="CommandFrequency")
    flows = [ev(1, throttled, ts=0.0), ev(2, plain("Sync"), ts=10.0), ev(3, plain("Sync"), ts=20.0)]
    findings = diagnose(flows)
    (throttling,) = only(findings, "throttled")
    assert throttling.severity == "warning" and throttling.flows == (1,)
    assert "CommandFrequency" in throttling.summary
    (early,) = only(findings, "retry-too-early")
    assert early.severity == "warning"
    assert early.flows == (1, 2, 3)
    assert "60 s" in early.summary


def test_retry_after_respected_and_plain_503_are_quiet() -> None:
    throttled = plain("Sync", 503, retry_after="60", retry_after_seconds=60)
    findings = diagnose([ev(1, throttled, ts=0.0), ev(2, plain("Sync"), ts=61.0)])
    assert only(findings, "retry-too-early") == []
    assert only(diagnose([ev(1, plain("Sync", 503), ts=0.0), ev(2, plain("Sync"), ts=1.0)]), "throttled") == []


def test_bursts_above_sixty_a_minute() -> None:
    burst = [ev(index, plain("Sync"), ts=index * 0.5) for index in range(1, 62)]  # 61 within 30 s
    (finding,) = only(diagnose(burst), "throttled")
    assert finding.flows[0] == 1 and finding.flows[-1] == 61
    paced = [ev(index, plain("Sync"), ts=index * 1.1) for index in range(1, 120)]  # at most 55 a minute
    assert only(diagnose(paced), "throttled") == []


# --- auth-failures


def test_repeated_401_and_account_statuses() -> None:
    refused = plain("FolderSync", 401, auth_scheme="Basic")
    (finding,) = only(diagnose([ev(1, refused), ev(2, refused), ev(3, refused)]), "auth-failures")
    assert finding.severity == "error" and finding.flows == (1, 2, 3)
    assert "401" in finding.summary and "Basic" in finding.summary
    (blocked,) = only(diagnose([ev(1, plain("Sync", 200, 129))]), "auth-failures")
    assert blocked.severity == "error" and "Status 129" in blocked.summary


def test_one_401_then_success_is_the_challenge() -> None:
    flows = [ev(1, plain("FolderSync", 401)), ev(2, plain("FolderSync", 200, 1)), ev(3, plain("Sync", 401)),
             ev(4, plain("Sync", 200))]
    assert only(diagnose(flows), "auth-failures") == []


def test_expiring_password_is_info() -> None:
    facts = plain("Sync", 200, credentials_expire="3", credential_service_url="https://pw.example.com")
    (finding,) = only(diagnose([ev(1, facts)]), "auth-failures")
    assert finding.severity == "info"
    assert "3 days" in finding.summary and "https://pw.example.com" in finding.summary


# --- ping-heartbeat-out-of-range


def test_refused_heartbeat_asked_again() -> None:
    flows = [ev(1, ping(5, 3600, 480)), ev(2, ping(5, 3600, 480))]
    (finding,) = only(diagnose(flows), "ping-heartbeat-out-of-range")
    assert finding.severity == "warning"
    assert finding.flows == (1, 2)
    assert "3600 s" in finding.summary and "480 s" in finding.summary


def test_refused_heartbeat_corrected_is_info_and_ping_2_is_normal() -> None:
    flows = [ev(1, ping(5, 3600, 480)), ev(2, ping(1, 480)), ev(3, ping(2, None))]
    (finding,) = only(diagnose(flows), "ping-heartbeat-out-of-range")
    assert finding.severity == "info" and finding.flows == (1,)
    assert only(diagnose([ev(1, ping(2)), ev(2, ping(1)), ev(3, ping(2))]), "ping-heartbeat-out-of-range") == []


def test_pings_that_end_before_their_heartbeat() -> None:
    dropped = ping(None, 900, http=None, transport_error="connection reset")
    flows = [ev(index, dropped, ts=index * 100.0, duration=60.0) for index in (1, 2, 3)]
    (finding,) = only(diagnose(flows), "ping-heartbeat-out-of-range")
    assert finding.severity == "warning" and finding.flows == (1, 2, 3)
    assert "900 s" in finding.summary
    mixed = [ev(1, dropped, duration=60.0), ev(2, ping(1)), ev(3, dropped, duration=60.0), ev(4, ping(1))]
    assert only(diagnose(mixed), "ping-heartbeat-out-of-range") == []


# --- version-not-offered


def test_version_not_offered() -> None:
    options = plain("Options", offered_versions=("14.0", "14.1"), protocol_version=None)
    flows = [ev(1, options), ev(2, plain("FolderSync", 400, protocol_version="16.1"))]
    (finding,) = only(diagnose(flows), "version-not-offered")
    assert finding.severity == "error" and finding.flows == (2,)
    assert "16.1" in finding.summary and "14.0, 14.1" in finding.summary
    (refused,) = only(diagnose([ev(1, plain("Sync", 200, 138, protocol_version="2.5"))]), "version-not-offered")
    assert "138" in refused.summary


def test_options_without_a_device_offers_for_its_server() -> None:
    options = FlowEvidence(1, 1.0, None, None, None, HOST, plain("Options", offered_versions=("14.0", "14.1")))
    (finding,) = only(diagnose([options, ev(2, plain("Sync", 400, protocol_version="16.1"))]), "version-not-offered")
    assert finding.device_id == "DEV1" and finding.flows == (2,)
    elsewhere = ev(2, plain("Sync", 400, protocol_version="16.1"), host="other.example.com")
    assert only(diagnose([options, elsewhere]), "version-not-offered") == []


def test_offered_version_is_quiet() -> None:
    options = plain("Options", offered_versions=("14.0", "14.1"))
    assert only(diagnose([ev(1, options), ev(2, plain("Sync", protocol_version="14.1"))]), "version-not-offered") == []


# --- more-available-not-followed


def test_more_available_and_the_client_pings() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", "k2", more_available=True)), ev(3, ping(1))]
    (finding,) = only(diagnose(flows), "more-available-not-followed")
    assert finding.severity == "warning" and finding.flows == (2, 3)
    assert "INBOX" in finding.summary and "k2" in finding.summary


def test_more_available_never_fetched_by_the_end() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", "k2", more_available=True)),
             ev(3, sync("c1", "c2", collection=CALENDAR))]
    (finding,) = only(diagnose(flows), "more-available-not-followed")
    assert finding.flows == (2,)
    diagnoser = Diagnoser()
    for item in flows:
        assert only(diagnoser.feed(item), "more-available-not-followed") == []  # live: not proven yet


def test_more_available_followed_is_quiet() -> None:
    flows = [ev(1, sync("k1", "k2", more_available=True)), ev(2, sync("k2", "k3")), ev(3, ping(1))]
    assert only(diagnose(flows), "more-available-not-followed") == []


# --- window-too-large, request-too-large


def test_large_window_that_keeps_failing() -> None:
    failed = FlowFacts(command="Sync", http_status=None, transport_error="timeout",
                       collections=(CollectionStep(INBOX, request_sync_key="k1", window_size=500),))
    (finding,) = only(diagnose([ev(1, folders()), ev(2, failed), ev(3, failed)]), "window-too-large")
    assert finding.severity == "warning" and finding.flows == (2, 3)
    assert "INBOX" in finding.summary and "500" in finding.summary
    small = FlowFacts(command="Sync", transport_error="timeout",
                      collections=(CollectionStep(INBOX, request_sync_key="k1", window_size=25),))
    assert only(diagnose([ev(1, small), ev(2, small)]), "window-too-large") == []


def test_window_above_the_maximum_is_info() -> None:
    (finding,) = only(diagnose([ev(1, sync("k1", "k2", window_size=1000))]), "window-too-large")
    assert finding.severity == "info" and "512" in finding.summary


def test_request_too_large() -> None:
    flows = [ev(1, plain("SendMail", 200, request_size=1000)),
             ev(2, plain("SendMail", 413, request_size=30_000_000))]
    (finding,) = only(diagnose(flows), "request-too-large")
    assert finding.severity == "error" and finding.flows == (2,)
    assert "30000000 bytes" in finding.summary and "1000 bytes" in finding.summary
    (quota,) = only(diagnose([ev(1, plain("SendMail", 200, 122, request_size=9000))]), "request-too-large")
    assert "Status 122" in quota.summary
    assert only(diagnose([ev(1, plain("SendMail", 200, request_size=30_000_000))]), "request-too-large") == []


# --- server-errors


def test_repeated_server_errors_on_one_command() -> None:
    flows = [ev(1, plain("Sync", 500)), ev(2, plain("Ping", 200, 1)), ev(3, plain("Sync", 502)),
             ev(4, plain("Sync", 200, 111))]
    (finding,) = only(diagnose(flows), "server-errors")
    assert finding.severity == "warning" and finding.flows == (1, 3, 4)
    assert finding.summary.startswith("Sync failed on the server 3 times")


def test_one_500_and_501s_are_not_server_errors() -> None:
    flows = [ev(1, plain("FolderDelete", 500)), ev(2, plain("Find", 501)), ev(3, plain("Find", 501)),
             ev(4, plain("Find", 501)), ev(5, plain("Sync", 500)), ev(6, plain("Sync", 500))]
    assert only(diagnose(flows), "server-errors") == []


# --- duplicate-items


def test_client_id_added_twice() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", "k2", client_ids_added=("c1",), server_ids_assigned=("2:5",))),
             ev(3, sync("k2", "k3", client_ids_added=("c1",), server_ids_assigned=("2:6",)))]
    (finding,) = only(diagnose(flows), "duplicate-items")
    assert finding.severity == "warning" and finding.flows == (3,)
    assert "INBOX" in finding.summary and "ClientId c1" in finding.summary


def test_server_adds_an_item_the_client_has() -> None:
    flows = [ev(1, sync("k1", "k2", server_ids_added=("2:5", "2:6"))), ev(2, sync("k2", "k3", server_ids_added=("2:6",)))]
    (finding,) = only(diagnose(flows), "duplicate-items")
    assert finding.flows == (2,) and "ServerId 2:6" in finding.summary


def test_resent_request_and_full_resync_are_not_duplicates() -> None:
    resent = [ev(1, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",))),
              ev(2, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",)))]
    assert only(diagnose(resent), "duplicate-items") == []
    resync = [ev(1, sync("k1", "k2", server_ids_added=("2:5",))), ev(2, sync("0", "a1")),
              ev(3, sync("a1", "a2", server_ids_added=("2:5",)))]
    assert only(diagnose(resync), "duplicate-items") == []


# --- the engine


def test_missing_evidence_says_unchecked_and_does_not_guess() -> None:
    no_headers = frozenset({"response_headers"})
    flows = [ev(1, plain("Sync", 451, redirect_location=f"https://{HOST}/x"), missing=no_headers),
             ev(2, plain("Sync", 200), missing=no_headers)]
    findings = diagnose(flows)
    assert {finding.rule for finding in findings} == {
        "redirect-loop", "throttled", "retry-too-early", "version-not-offered"}
    for finding in findings:
        assert finding.checked is False and finding.severity == "info" and finding.flows == (1,)
        assert "response headers" in finding.summary


def test_a_flow_without_bodies_stops_only_the_rules_that_read_its_command() -> None:
    # A GetAttachment answer a server log left out must not stop the Ping rule (it reads Ping flows only,
    # MS-ASCMD 2.2.3.177.11) nor the Sync rules; the rules that read every flow cannot be checked any more.
    flows = [ev(1, plain("GetAttachment"), missing=frozenset({"response_body"})),
             ev(2, ping(5, heartbeat=3600, limit=480)), ev(3, ping(5, heartbeat=3600, limit=480))]
    findings = diagnose(flows)
    assert [(f.rule, f.checked, f.flows) for f in only(findings, "ping-heartbeat-out-of-range")] == [
        ("ping-heartbeat-out-of-range", True, (2, 3))]
    unchecked = {finding.rule for finding in findings if not finding.checked}
    # the rules of every command that read response bodies (eas.rules.RULES: commands None)
    assert unchecked == {"provisioning-loop", "auth-failures", "request-too-large", "server-errors"}


def test_diagnoser_reports_on_the_flow_that_completes_a_finding() -> None:
    diagnoser = Diagnoser()
    assert diagnoser.feed(ev(1, folders())) == []
    assert diagnoser.feed(ev(2, sync("k5", None, 3))) == []
    (completed,) = diagnoser.feed(ev(3, sync("k5", None, 3)))
    assert completed.rule == "sync-key-invalid-loop" and completed.flows == (2, 3)
    (extended,) = diagnoser.feed(ev(4, sync("k5", None, 3)))
    assert extended.flows == (2, 3, 4)
    assert diagnoser.findings() == [extended]
    assert diagnoser.folder_names(ev(1, folders()).session) == {INBOX: "INBOX", CALENDAR: "Calendar"}


def test_sessions_apart_and_most_severe_first() -> None:
    other = "DEV2"
    flows = [
        ev(1, sync("k1", "k2", server_ids_added=("2:5",)), device=other),
        ev(2, sync("k2", "k3", server_ids_added=("2:5",)), device=other),
        ev(3, sync("k5", None, 3)), ev(4, sync("k5", None, 3)),
        ev(5, sync("0", "a")), ev(6, sync("a", "b")), ev(7, sync("b", "c", more_available=True)), ev(8, ping(1)),
        # the same invalid key on another device is that device's own history
        ev(9, sync("k5", None, 1), device=other),
    ]
    findings = diagnose(reversed(flows))  # any order in, time order inside
    assert [(finding.device_id, finding.rule, finding.severity) for finding in findings] == [
        ("DEV1", "sync-key-invalid-loop", "error"),
        ("DEV1", "more-available-not-followed", "warning"),
        ("DEV2", "duplicate-items", "warning"),
    ]
    assert findings[0].to_json()["flows"] == [3, 4]


def test_long_loop_keeps_the_first_and_latest_flows() -> None:
    flows = [ev(index, sync("k5", None, 3)) for index in range(1, 1001)]
    (finding,) = only(diagnose(flows), "sync-key-invalid-loop")
    assert len(finding.flows) == 100
    assert finding.flows[:2] == (1, 2) and finding.flows[-1] == 1000
    assert "999 times" in finding.summary


def _lab_evidence() -> list[FlowEvidence]:
    from mitmproxy import io

    with (REAL / "lab-session.mitm").open("rb") as fh:
        flows = list(io.FlowReader(fh).stream())
    evidence = []
    for flow_id, flow in enumerate(flows, start=1):
        request, response = flow.request, flow.response  # type: ignore[attr-defined]
        exchange = eas.analyze(
            request.method, request.url, list(request.headers.items(multi=True)), request.raw_content or b"",
            response.status_code, list(response.headers.items(multi=True)), response.raw_content or b"",
            annotate=False,
        )
        assert exchange.facts is not None
        evidence.append(FlowEvidence(flow_id, request.timestamp_start, exchange.user, exchange.device_id,
                                     exchange.device_type, request.host_header or request.host, exchange.facts,
                                     duration=response.timestamp_end - request.timestamp_start))
    return evidence


def test_lab_session_has_no_warning_or_error() -> None:
    findings = diagnose(_lab_evidence())
    assert [finding for finding in findings if finding.severity != "info"] == []
    # What the lab does on purpose, said as info: the Ping above SOGo's 10 s maximum, and pyactivesync's 16.1
    # against a server that offers up to 14.1 and answers it anyway.
    assert sorted(finding.rule for finding in findings) == ["ping-heartbeat-out-of-range", "version-not-offered"]
    heartbeat = only(findings, "ping-heartbeat-out-of-range")[0]
    assert "3600 s" in heartbeat.summary and "10 s" in heartbeat.summary


def test_stored_facts_diagnose_the_same() -> None:
    evidence = _lab_evidence()
    flows = [ev(1, folders()), ev(2, sync("k5", None, 3)), ev(3, sync("k5", None, 3)), ev(4, ping(5, 3600, 10))]
    for item in (*evidence, *flows):
        assert FlowFacts.from_json(item.facts.to_json()) == item.facts
    stored = [dataclasses.replace(item, facts=FlowFacts.from_json(json.loads(json.dumps(item.facts.to_json()))))
              for item in (*evidence, *flows)]
    assert diagnose(stored) == diagnose([*evidence, *flows])


# --- the diagnoser itself: unchecked rules, the order of findings, the order of flows


def test_an_unchecked_rule_says_what_the_source_lacks_once_and_stops_reading() -> None:
    no_bodies = frozenset({"response_body", "request_body", "request_headers"})
    flows = [ev(1, plain("Provision", 449), missing=no_bodies), ev(2, plain("Provision", 449), missing=no_bodies),
             ev(3, plain("Provision", 449), missing=no_bodies)]
    (finding,) = only(diagnose(flows), "provisioning-loop")  # three 449s: a loop, had the rule read them
    assert finding == Finding(
        rule="provisioning-loop", severity="info", device_id="DEV1", user="alice", flows=(1,),
        summary="Not checked (repeated 449 / Status 142-144, a policy never acknowledged, a stale policy key, a "
                "remote wipe): the source has no request bodies, request headers, response bodies.",
        advice="Capture the traffic through the proxy (eas-inspector's mitmproxy addon) to check this.",
        spec="MS-ASPROV 3.1.5.1; MS-ASHTTP 2.2.2.1.1 (449); MS-ASCMD 2.2.2 (142-144); MS-ASPROV 2.2.2.53 RemoteWipe",
        host=HOST, device_type="Phone", checked=False,
    )


def test_a_flow_missing_nothing_a_rule_needs_leaves_it_checked() -> None:
    # redirect-loop reads response headers only: a source without request bodies still checks it
    flows = [ev(1, plain("Sync", 451, redirect_location=f"https://{HOST}/x"), missing=frozenset({"request_body"}))]
    assert [(finding.rule, finding.checked, finding.severity) for finding in only(diagnose(flows), "redirect-loop")
            ] == [("redirect-loop", True, "error")]


def _churn(device: str, first_id: int) -> list[FlowEvidence]:
    """Three resets of INBOX to SyncKey 0 (sync-key-reset-churn, a warning)."""
    keys = [("0", "a"), ("a", "b"), ("0", "c"), ("c", "d"), ("0", "e"), ("0", "f")]
    return [ev(first_id + index, sync(sent, answered), device=device) for index, (sent, answered) in enumerate(keys)]


def test_sessions_with_an_error_come_first_then_the_first_seen() -> None:
    # DEV1 (seen first) has a warning only, DEV2 an error, DEV3 (seen last) a warning only
    flows = [*_churn("DEV1", 1), ev(10, sync("k5", None, 3), device="DEV2"), ev(11, sync("k5", None, 3), device="DEV2"),
             *_churn("DEV3", 20)]
    assert [(finding.device_id, finding.rule) for finding in diagnose(flows)] == [
        ("DEV2", "sync-key-invalid-loop"), ("DEV1", "sync-key-reset-churn"), ("DEV3", "sync-key-reset-churn")]


def test_flows_of_the_same_moment_are_read_by_flow_id() -> None:
    flows = [ev(3, sync("k5", None, 3), ts=10.0), ev(2, sync("k5", None, 3), ts=10.0)]
    (finding,) = only(diagnose(flows), "sync-key-invalid-loop")
    assert finding.flows == (2, 3)
    later_first = [ev(2, sync("k5", None, 3), ts=20.0), ev(3, sync("k5", None, 3), ts=10.0)]
    (finding,) = only(diagnose(later_first), "sync-key-invalid-loop")
    assert finding.flows == (3, 2)


def test_a_session_the_diagnoser_never_saw_knows_no_folder() -> None:
    diagnoser = Diagnoser()
    diagnoser.feed(ev(1, folders()))
    assert diagnoser.folder_names(ev(1, folders(), device="OTHER").session) == {}
    assert diagnoser.finish() == []


def test_within_a_session_findings_of_one_severity_are_in_the_order_of_their_first_flow() -> None:
    # the MoreAvailable of flow 1 is found at the end, after the churn of flows 2-7: still listed first
    flows = [ev(1, sync("c1", "c2", collection=CALENDAR, more_available=True)), *_churn("DEV1", 2)]
    assert [(finding.rule, finding.flows[0]) for finding in diagnose(flows)] == [
        ("more-available-not-followed", 1), ("sync-key-reset-churn", 4)]


def test_a_first_flow_without_a_command_does_not_hide_the_rules_of_the_next_commands() -> None:
    # a request without Cmd (no command) opens the session; the Sync loop after it is still found
    flows = [ev(1, FlowFacts(command=None, http_status=200)), ev(2, sync("k5", None, 3)), ev(3, sync("k5", None, 3))]
    assert [finding.rule for finding in diagnose(flows)] == ["sync-key-invalid-loop"]


def test_finish_returns_the_findings_of_every_session() -> None:
    diagnoser = Diagnoser()
    for device in ("DEV1", "DEV2"):  # MoreAvailable on the calendar, then the session goes on without it
        diagnoser.feed(ev(1, sync("c1", "c2", collection=CALENDAR, more_available=True), device=device))
        diagnoser.feed(ev(2, sync("k1", "k2"), device=device))
    assert [(finding.device_id, finding.rule) for finding in diagnoser.finish()] == [
        ("DEV1", "more-available-not-followed"), ("DEV2", "more-available-not-followed")]


def test_sessions_of_equal_worst_are_in_the_order_they_were_first_seen() -> None:
    # DEV1 is seen first (a quiet Ping) but churns later than DEV3: DEV1's finding is still listed first
    flows = [ev(1, ping(1)), *_churn("DEV3", 2), *_churn("DEV1", 10)]
    assert [(finding.device_id, finding.rule) for finding in diagnose(flows)] == [
        ("DEV1", "sync-key-reset-churn"), ("DEV3", "sync-key-reset-churn")]
