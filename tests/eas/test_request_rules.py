"""eas.rules.request_rules: the exact text of each finding, and each rule's conditions at their edges."""

from __future__ import annotations

from eas.diagnosis import Diagnoser, Finding, FlowEvidence, diagnose
from eas.facts import FlowFacts
from tests.eas.test_diagnosis import HOST, ev, only, ping, plain

NEW_HOST = "new.example.com"


def said(findings: list[Finding], rule: str) -> list[tuple[str, tuple[int, ...], str]]:
    """The rule's findings as (severity, flows, summary)."""
    return [(finding.severity, finding.flows, finding.summary) for finding in only(findings, rule)]


def advice(findings: list[Finding], rule: str) -> list[str]:
    return [finding.advice for finding in only(findings, rule)]


# --- provisioning-loop (MS-ASPROV 3.1.5.1; MS-ASHTTP 449; MS-ASCMD 2.2.2 142-144; MS-ASPROV 2.2.2.53)

PROVISION_LOOP = "provisioning-loop"
LOOP_ADVICE = (
    "Look at the Provision exchanges: a device that cannot apply the policy, that acknowledges with the wrong key, or "
    "that sends no X-MS-PolicyKey stays in this loop. Server-side, check the device's policy and access state."
)
UNACKNOWLEDGED_ADVICE = (
    "A device must acknowledge the policy with a second Provision carrying the temporary PolicyKey; only that gives "
    "it the key the server accepts. Check the device's policy support."
)


def provision(phase: int, key: str | None, *, policy_status: int = 1, status: int | None = 1,
              wipe: bool = False) -> FlowFacts:
    return plain("Provision", status=status, provision_phase=phase, policy_status=policy_status,
                 provision_response_policy_key=key, remote_wipe=wipe)


def test_three_demands_to_provision_in_the_exact_text() -> None:
    flows = [ev(1, plain("FolderSync", 449)), ev(2, plain("Sync", 200, 142)), ev(3, plain("Ping", 200, 143)),
             ev(4, plain("Sync", 200, 144))]
    findings = diagnose(flows)
    assert said(findings, PROVISION_LOOP) == [
        ("error", (1, 2, 3, 4), "The server asked the device to provision 4 times (HTTP 449 or Status 142-144) with "
                                "no successful request in between: the device does not get past provisioning.")]
    assert advice(findings, PROVISION_LOOP) == [LOOP_ADVICE]


def test_two_demands_are_no_loop_and_a_success_starts_the_count_again() -> None:
    two = [ev(1, plain("FolderSync", 449)), ev(2, plain("FolderSync", 449))]
    assert only(diagnose(two), PROVISION_LOOP) == []
    for success in (200, 299):
        flows = [*two, ev(3, plain("FolderSync", success)), ev(4, plain("FolderSync", 449)),
                 ev(5, plain("FolderSync", 449))]
        assert only(diagnose(flows), PROVISION_LOOP) == [], success


def test_answers_that_are_no_success_keep_the_count() -> None:
    # 199 and 300 are not a 2xx success; a flow without a response neither; Provision flows are not demands
    for between in (plain("FolderSync", 199), plain("FolderSync", 300), plain("FolderSync", None),
                    provision(1, None)):
        flows = [ev(1, plain("FolderSync", 449)), ev(2, plain("FolderSync", 449)), ev(3, between),
                 ev(4, plain("FolderSync", 449))]
        assert [finding.flows for finding in only(diagnose(flows), PROVISION_LOOP)] == [(1, 2, 4)], between


def test_a_policy_downloaded_and_not_acknowledged_in_the_exact_text() -> None:
    findings = diagnose([ev(1, provision(1, "t1")), ev(2, plain("Options")), ev(3, plain("FolderSync"))])
    assert said(findings, PROVISION_LOOP) == [
        ("error", (1, 3), "The device downloaded the policy (Provision phase 1, flow 1) and went on with FolderSync "
                          "without acknowledging it (phase 2).")]
    assert advice(findings, PROVISION_LOOP) == [UNACKNOWLEDGED_ADVICE]


def test_an_unacknowledged_policy_is_reported_once_and_an_unnamed_command_is_a_request() -> None:
    flows = [ev(1, provision(1, "t1")), ev(2, plain("")), ev(3, plain("Sync"))]
    assert said(diagnose(flows), PROVISION_LOOP) == [
        ("error", (1, 2), "The device downloaded the policy (Provision phase 1, flow 1) and went on with a request "
                          "without acknowledging it (phase 2).")]


def test_what_needs_no_acknowledgment() -> None:
    # no policy (Policy Status 2), no temporary key, a phase 2 after it, requests sent before any policy
    for flows in ([ev(1, provision(1, "t1", policy_status=2)), ev(2, plain("Sync"))],
                  [ev(1, provision(1, None)), ev(2, plain("Sync"))],
                  [ev(1, provision(1, "t1")), ev(2, provision(2, "p1")), ev(3, plain("Sync"))],
                  [ev(1, provision(1, "t1")), ev(2, plain("Options")), ev(3, plain("Autodiscover")),
                   ev(4, FlowFacts(command=None, http_status=200))]):
        assert only(diagnose(flows), PROVISION_LOOP) == [], flows


def test_a_stale_policy_key_in_the_exact_text() -> None:
    flows = [ev(1, provision(1, "t1")), ev(2, provision(2, "p1")), ev(3, plain("Sync", 449, policy_key="p0")),
             ev(4, plain("Sync", 449, policy_key="p1")), ev(5, plain("Sync", 200, policy_key="p1"))]
    findings = diagnose(flows)
    assert said(findings, PROVISION_LOOP) == [
        ("warning", (3,), "The device sent X-MS-PolicyKey p0, but its last Provision gave p1, and the server asked it "
                          "to provision again.")]
    assert advice(findings, PROVISION_LOOP) == [
        "The device keeps an old policy key: it must send the key of its last acknowledged Provision."]


def test_only_a_successful_phase_2_gives_the_final_key() -> None:
    # a refused phase 2 (Status 2) and a phase 2 without a key leave the earlier key; no Status counts as success
    for second in (provision(2, "p2", status=2), provision(2, None)):
        flows = [ev(1, provision(2, "p1")), ev(2, second), ev(3, plain("Sync", 449, policy_key="p1"))]
        assert only(diagnose(flows), PROVISION_LOOP) == [], second
    flows = [ev(1, provision(2, "p1", status=None)), ev(2, plain("Sync", 449, policy_key="p0"))]
    assert [finding.flows for finding in only(diagnose(flows), PROVISION_LOOP)] == [(2,)]
    # a phase 1 key is temporary: it never becomes the final key
    flows = [ev(1, provision(1, "t1", policy_status=2)), ev(2, plain("Sync", 449, policy_key="p0"))]
    assert only(diagnose(flows), PROVISION_LOOP) == []


def test_a_remote_wipe_is_reported_once_in_the_exact_text() -> None:
    flows = [ev(1, provision(1, "t1", wipe=True)), ev(2, provision(2, "p1")), ev(3, provision(1, "t2", wipe=True)),
             ev(4, provision(2, "p2"))]
    findings = diagnose(flows)
    assert said(findings, PROVISION_LOOP) == [
        ("warning", (1,), "The server asked the device to wipe itself (RemoteWipe in Provision, flow 1).")]
    assert advice(findings, PROVISION_LOOP) == [
        "This device (or its account) is being wiped on purpose, by an administrator or the user: that explains why it "
        "stops syncing."]


# --- redirect-loop (MS-ASHTTP 2.2.2.1.1, 2.2.2.1.1.4: 451 and X-MS-Location)

REDIRECT = "redirect-loop"
NEW_URL = f"https://{NEW_HOST}/Microsoft-Server-ActiveSync"


def moved(location: str | None = NEW_URL) -> FlowFacts:
    return plain("Sync", 451, redirect_location=location)


def test_a_redirect_not_followed_in_the_exact_text() -> None:
    findings = diagnose([ev(1, moved()), ev(2, plain("Sync")), ev(3, plain("Ping")), ev(4, moved())])
    assert said(findings, REDIRECT) == [
        ("error", (1, 2, 3, 4), f"The server redirected the device to {NEW_URL} (HTTP 451), and the client sent 3 more "
                                f"requests to {HOST} anyway.")]
    assert advice(findings, REDIRECT) == [
        "After a 451 with X-MS-Location the client must use that URL for every later request (MS-ASHTTP); reconfigure "
        "the account with the new server, or run Autodiscover."]


def test_one_request_after_a_redirect_may_have_been_on_its_way() -> None:
    assert only(diagnose([ev(1, moved()), ev(2, plain("Sync"))]), REDIRECT) == []


def test_a_redirect_to_the_same_server_in_the_exact_text() -> None:
    location = f"https://{HOST.upper()}:443/Microsoft-Server-ActiveSync"
    findings = diagnose([ev(1, moved(location), host=f"{HOST}:443"), ev(2, moved(location), host=f"{HOST}:443")])
    assert said(findings, REDIRECT) == [
        ("error", (1,), f"The server answered HTTP 451 with X-MS-Location {location}, which is the server the device "
                        "already talks to: following it changes nothing."),
        ("error", (2,), f"The server answered HTTP 451 with X-MS-Location {location}, which is the server the device "
                        "already talks to: following it changes nothing.")]
    assert advice(findings, REDIRECT)[0] == (
        "The server's redirect configuration (external URL of the mailbox's site) points at itself; fix it on the "
        "server.")


def test_what_is_the_same_server() -> None:
    def same(location: str, host: str | None) -> bool:
        flows = [FlowEvidence(1, 10.0, "alice", "DEV1", "Phone", host, moved(location))]
        return any("already talks to" in finding.summary for finding in only(diagnose(flows), REDIRECT))

    assert same(HOST, HOST)  # a location without a scheme
    assert same(f"https://{HOST}/x", f"{HOST}:8443")  # one side without a port
    assert same(f"https://{HOST}:8443/x", HOST)
    assert same(f"https://{HOST}:8443/x", f"{HOST}:8443")
    assert not same(f"https://{HOST}:8443/x", f"{HOST}:443")
    assert not same(NEW_URL, HOST)
    assert not same(f"https://{HOST}/x", None)  # no host to compare with
    assert not same(f"https://{HOST}/x", "")
    assert not same("https://[bad/x", HOST)  # a location that is no URL
    assert not same(f"https://{HOST}:99999/x", HOST)  # a port out of range
    # a location or a host without a host name names no server
    assert not same("/Microsoft-Server-ActiveSync", HOST)
    assert not same("/Microsoft-Server-ActiveSync", ":443")
    assert not same("https://:443/Microsoft-Server-ActiveSync", ":443")


def test_repeated_451_without_a_location_in_the_exact_text() -> None:
    findings = diagnose([ev(1, moved(None)), ev(2, moved("")), ev(3, moved(None))])
    assert said(findings, REDIRECT) == [
        ("error", (1, 2, 3), "The server answered HTTP 451 without X-MS-Location 3 times: the device is redirected but "
                             "not told where.")]
    assert advice(findings, REDIRECT) == [
        "Without X-MS-Location the client must run Autodiscover to find its server; check Autodiscover for this "
        "user."]


def test_a_success_ends_a_run_of_451s_and_other_answers_do_not() -> None:
    for between, expected in ((200, []), (299, []), (300, [(1, 2, 4)]), (199, [(1, 2, 4)]), (None, [(1, 2, 4)])):
        flows = [ev(1, moved(None)), ev(2, moved(None)), ev(3, plain("Sync", between)), ev(4, moved(None))]
        assert [finding.flows for finding in only(diagnose(flows), REDIRECT)] == expected, between


# --- throttled (MS-ASHTTP 2.2.2.1.1.3: 503; 2.2.2.1.2: Retry-After, X-MS-ASThrottle)

THROTTLED = "throttled"
THROTTLE_ADVICE = (
    "The device sends more than the server's policy allows: wait as long as Retry-After says, and look for what "
    "makes the device so busy (a sync loop, many folders, a short Ping heartbeat)."
)


def test_throttling_in_the_exact_texts() -> None:
    seconds = plain("Sync", 503, retry_after="60", retry_after_seconds=60, throttle="CommandFrequency")
    findings = diagnose([ev(1, seconds, ts=0.0), ev(2, seconds, ts=100.0)])
    assert said(findings, THROTTLED) == [
        ("warning", (1, 2), "The server throttled this device 2 times (CommandFrequency); it asked for a wait of 60 s "
                            "(Retry-After).")]
    assert advice(findings, THROTTLED) == [THROTTLE_ADVICE]
    unread = plain("Sync", 503, retry_after="soon")  # a Retry-After that is no time
    assert said(diagnose([ev(1, unread)]), THROTTLED) == [
        ("warning", (1,), "The server throttled this device 1 time; Retry-After soon.")]
    header_only = plain("Sync", 200, throttle="RecentCommands")  # X-MS-ASThrottle alone, on any answer
    assert said(diagnose([ev(1, header_only)]), THROTTLED) == [
        ("warning", (1,), "The server throttled this device 1 time (RecentCommands).")]


def test_a_503_with_an_empty_retry_after_says_no_wait() -> None:
    assert said(diagnose([ev(1, plain("Sync", 503, retry_after=""))]), THROTTLED) == [
        ("warning", (1,), "The server throttled this device 1 time.")]


def test_a_success_ends_the_throttling_and_a_plain_503_does_not() -> None:
    throttled = plain("Sync", 503, retry_after="60", retry_after_seconds=60)
    for between, expected in ((200, [(1,), (3,)]), (299, [(1,), (3,)]), (300, [(1, 3)]), (503, [(1, 3)]),
                              (199, [(1, 3)])):
        flows = [ev(1, throttled, ts=0.0), ev(2, plain("Sync", between), ts=100.0), ev(3, throttled, ts=200.0)]
        assert [finding.flows for finding in only(diagnose(flows), THROTTLED)] == expected, between


def test_a_burst_in_the_exact_text() -> None:
    burst = [ev(index, plain("Sync"), ts=index * 0.5) for index in range(1, 63)]  # 62 within 31 s
    findings = diagnose(burst)
    (finding,) = only(findings, THROTTLED)
    assert finding.flows == tuple(range(1, 63))
    assert finding.summary == ("The device sent 62 requests within 60 seconds (62 in this burst), more than 60 a "
                               "minute.")
    assert finding.advice == (
        "Such bursts come from a loop (an invalid SyncKey, a refused heartbeat, an ignored redirect) or from a Ping "
        "that ends at once; servers throttle them. Look at the other findings of this session.")


def test_a_burst_counts_the_requests_of_the_last_minute() -> None:
    # 60 requests within a minute are no burst; a request exactly 60 s after the first one starts a new minute
    sixty = [ev(index, plain("Sync"), ts=float(index)) for index in range(1, 61)]
    assert only(diagnose(sixty), THROTTLED) == []
    assert only(diagnose([*sixty, ev(61, plain("Sync"), ts=61.0)]), THROTTLED) == []
    assert said(diagnose([*sixty, ev(61, plain("Sync"), ts=60.5)]), THROTTLED) == [
        ("warning", tuple(range(1, 62)), "The device sent 61 requests within 60 seconds (61 in this burst), more than "
                                         "60 a minute.")]


def test_a_burst_goes_on_until_the_pace_drops() -> None:
    fast = [ev(index, plain("Sync"), ts=index * 0.5) for index in range(1, 63)]
    later = [ev(100, plain("Sync"), ts=1000.0), *[ev(100 + index, plain("Sync"), ts=1000.0 + index * 0.5)
                                                 for index in range(1, 61)]]
    assert [(finding.flows[0], finding.flows[-1], len(finding.flows)) for finding in only(diagnose([*fast, *later]),
                                                                                            THROTTLED)] == [
        (1, 62, 62), (100, 160, 61)]
    (latest,) = [finding for finding in only(diagnose([*fast, *later]), THROTTLED) if finding.flows[0] == 100]
    assert latest.summary == ("The device sent 61 requests within 60 seconds (61 in this burst), more than 60 a "
                              "minute.")


# --- retry-too-early (MS-ASHTTP 2.2.2.1.1.3; RFC 9110 10.2.3 Retry-After)

EARLY = "retry-too-early"


def wait(seconds: int) -> FlowFacts:
    return plain("Sync", 503, retry_after=str(seconds), retry_after_seconds=seconds)


def test_retries_before_retry_after_in_the_exact_text() -> None:
    flows = [ev(1, wait(60), ts=0.0, duration=2.0), ev(2, plain("Sync"), ts=10.0), ev(3, plain("Sync"), ts=40.4)]
    findings = diagnose(flows)
    assert said(findings, EARLY) == [
        ("warning", (1, 2, 3), "The server asked the device to wait 60 s (Retry-After, flow 1); the device sent 2 "
                               "requests before that, the latest 22 s too early.")]
    assert advice(findings, EARLY) == [
        "A client must not retry before Retry-After has passed; early retries keep it throttled. Report the client's "
        "retry behaviour to its vendor."]
    one = [ev(1, wait(60), ts=0.0), ev(2, plain("Sync"), ts=50.0)]
    assert said(diagnose(one), EARLY) == [
        ("warning", (1, 2), "The server asked the device to wait 60 s (Retry-After, flow 1); the device sent 1 request "
                            "before that, the latest 10 s too early.")]


def test_a_retry_within_a_second_of_the_time_is_on_time() -> None:
    # the wait counts from the end of the answer; times have one-second resolution
    assert only(diagnose([ev(1, wait(60), ts=0.0, duration=2.0), ev(2, plain("Sync"), ts=61.0)]), EARLY) == []
    assert [finding.flows for finding in only(
        diagnose([ev(1, wait(60), ts=0.0, duration=2.0), ev(2, plain("Sync"), ts=60.9)]), EARLY)] == [(1, 2)]


def test_a_request_on_time_ends_the_wait() -> None:
    flows = [ev(1, wait(60), ts=0.0), ev(2, plain("Sync"), ts=70.0), ev(3, plain("Sync"), ts=71.0)]
    assert only(diagnose(flows), EARLY) == []


def test_a_new_retry_after_starts_a_new_wait() -> None:
    flows = [ev(1, wait(60), ts=0.0), ev(2, wait(30), ts=10.0), ev(3, plain("Sync"), ts=20.0)]
    assert said(diagnose(flows), EARLY) == [
        ("warning", (1, 2), "The server asked the device to wait 60 s (Retry-After, flow 1); the device sent 1 request "
                            "before that, the latest 50 s too early."),
        ("warning", (2, 3), "The server asked the device to wait 30 s (Retry-After, flow 2); the device sent 1 request "
                            "before that, the latest 20 s too early.")]


def test_a_retry_after_of_zero_asks_for_no_wait_and_one_second_does() -> None:
    # a request sent while the slow answer was still coming, 2 s before its end
    assert only(diagnose([ev(1, wait(0), ts=0.0, duration=5.0), ev(2, plain("Sync"), ts=3.0)]), EARLY) == []
    assert said(diagnose([ev(1, wait(1), ts=0.0, duration=5.0), ev(2, plain("Sync"), ts=3.0)]), EARLY) == [
        ("warning", (1, 2), "The server asked the device to wait 1 s (Retry-After, flow 1); the device sent 1 request "
                            "before that, the latest 3 s too early.")]


# --- auth-failures (MS-ASHTTP 2.2.2.1.1: 401, 403; MS-ASCMD 2.2.2: 126, 129, 177; X-MS-Credentials-Expire)

AUTH = "auth-failures"
REFUSED_ADVICE = (
    "Check the user name (domain\\user or the address) and the password on the device, and that the account is "
    "allowed to use ActiveSync; after 401/403 a client should run Autodiscover."
)
ACCOUNT_ADVICE = (
    "This is the server's access policy, not a client fault: an administrator must enable the user or device (or "
    "remove old device partnerships)."
)


def test_refused_credentials_in_the_exact_text() -> None:
    flows = [ev(1, plain("FolderSync", 401)), ev(2, plain("FolderSync", 403)),
             ev(3, plain("FolderSync", 401, auth_scheme="Negotiate"))]
    findings = diagnose(flows)
    assert said(findings, AUTH) == [
        ("error", (1, 2, 3), "The server refused the device 3 times in a row with HTTP 401 (the server asks for "
                             "Negotiate): the credentials or the account are not accepted.")]
    assert advice(findings, AUTH) == [REFUSED_ADVICE]
    blocked = [ev(1, plain("Sync", 456)), ev(2, plain("Sync", 457)), ev(3, plain("Sync", 457))]
    assert said(diagnose(blocked), AUTH) == [
        ("error", (1, 2, 3), "The server refused the device 3 times in a row with HTTP 457: the credentials or the "
                             "account are not accepted.")]


def test_a_success_ends_the_refusals_and_other_answers_do_not() -> None:
    for between, expected in ((200, []), (299, []), (300, [(1, 2, 4)]), (199, [(1, 2, 4)]), (None, [(1, 2, 4)]),
                              (400, [(1, 2, 4)])):
        flows = [ev(1, plain("Sync", 401)), ev(2, plain("Sync", 401)), ev(3, plain("Sync", between)),
                 ev(4, plain("Sync", 401))]
        assert [finding.flows for finding in only(diagnose(flows), AUTH)] == expected, between


def test_account_statuses_in_the_exact_text_once_each() -> None:
    both = FlowFacts(command="Sync", http_status=200, statuses=(("Sync/Status", 177), ("Sync/Status", 126)))
    unnamed = FlowFacts(http_status=200, statuses=(("x/Status", 129),))
    flows = [ev(1, both), ev(2, plain("Sync", 200, 126)), ev(3, unnamed)]
    findings = diagnose(flows)
    assert said(findings, AUTH) == [
        ("error", (1,), "The server refused Sync with Status 126: the user is disabled for ActiveSync."),
        ("error", (1,), "The server refused Sync with Status 177: the user has reached the maximum number of devices."),
        ("error", (3,), "The server refused a request with Status 129: the device is blocked for this user.")]
    assert advice(findings, AUTH) == [ACCOUNT_ADVICE] * 3


def test_an_expiring_password_in_the_exact_text_once() -> None:
    flows = [ev(1, plain("Sync", credentials_expire="3", credential_service_url="https://pw.example.com")),
             ev(2, plain("Sync", credentials_expire="2"))]
    findings = diagnose(flows)
    assert said(findings, AUTH) == [
        ("info", (1,), "The server says the password expires in 3 days (X-MS-Credentials-Expire). Change it at "
                       "https://pw.example.com.")]
    assert advice(findings, AUTH) == ["Change the password before it expires, then update it on the device."]
    assert said(diagnose([ev(1, plain("Sync", credentials_expire="5"))]), AUTH) == [
        ("info", (1,), "The server says the password expires in 5 days (X-MS-Credentials-Expire).")]


# --- ping-heartbeat-out-of-range (MS-ASCMD 2.2.3.177.11 Status (Ping) 5; 2.2.3 HeartbeatInterval (Ping))

HEARTBEAT = "ping-heartbeat-out-of-range"


def test_a_refused_heartbeat_in_the_exact_texts() -> None:
    once = diagnose([ev(1, ping(5, 3600, 480))])
    assert said(once, HEARTBEAT) == [
        ("info", (1,), "The server refused the Ping heartbeat of 3600 s (Ping Status 5; the server allows 480 s).")]
    assert advice(once, HEARTBEAT) == [
        "The client must Ping again with a HeartbeatInterval within the limit the server sent."]
    again = diagnose([ev(1, ping(5, 3600, 480)), ev(2, ping(5, None, None))])  # the heartbeat and limit carry over
    assert said(again, HEARTBEAT) == [
        ("warning", (1, 2), "The server refused the Ping heartbeat of 3600 s (Ping Status 5; the server allows 480 s), "
                            "2 times.")]
    assert advice(again, HEARTBEAT) == [
        "The client must Ping again with a HeartbeatInterval within the limit the server sent, and this one does not."]


def test_a_refused_heartbeat_without_numbers() -> None:
    assert said(diagnose([ev(1, ping(5, None, None))]), HEARTBEAT) == [
        ("info", (1,), "The server refused the Ping heartbeat (Ping Status 5).")]


def test_another_ping_status_ends_the_refusals_and_no_status_does_not() -> None:
    ended = [ev(1, ping(5, 3600, 480)), ev(2, ping(1, 480)), ev(3, ping(5, 3600, 480))]
    assert [(finding.severity, finding.flows) for finding in only(diagnose(ended), HEARTBEAT)] == [
        ("info", (1,)), ("info", (3,))]
    kept = [ev(1, ping(5, 3600, 480)), ev(2, ping(None, 480)), ev(3, ping(5, 3600, 480))]
    assert [(finding.severity, finding.flows) for finding in only(diagnose(kept), HEARTBEAT)] == [("warning", (1, 3))]


def test_only_pings_are_read() -> None:
    # a Sync with Status 5 (a server error there) is no refused heartbeat
    assert only(diagnose([ev(1, plain("Sync", 200, 5)), ev(2, plain("Sync", 200, 5))]), HEARTBEAT) == []


def test_pings_ended_early_in_the_exact_text() -> None:
    dropped = ping(None, 900, http=None, transport_error="connection reset")
    gateway = ping(None, 900, http=504)
    flows = [ev(1, dropped, duration=60.0), ev(2, gateway, duration=899.0), ev(3, ping(None, 900, http=502))]
    findings = diagnose(flows)
    assert said(findings, HEARTBEAT) == [
        ("warning", (1, 2, 3), "3 Pings in a row ended with no answer or a gateway error before 900 s heartbeat.")]
    assert advice(findings, HEARTBEAT) == [
        "Something between the device and the server (a proxy, a load balancer, a firewall, NAT) closes idle "
        "connections sooner than the heartbeat: raise its idle timeout, or lower the heartbeat."]
    unknown = ping(None, None, http=None, transport_error="timeout")
    assert said(diagnose([ev(index, unknown, duration=5.0) for index in (1, 2, 3)]), HEARTBEAT) == [
        ("warning", (1, 2, 3), "3 Pings in a row ended with no answer or a gateway error before their heartbeat.")]


def test_what_is_a_ping_ended_early() -> None:
    # a Ping that lasted its heartbeat, a 500, and two early Pings are not three early ones
    for other in (ping(None, 900, http=None, transport_error="reset"), ping(None, 900, http=500)):
        durations = (60.0, 900.0, 60.0) if other.http_status is None else (60.0, 60.0, 60.0)
        flows = [ev(1, ping(None, 900, http=504), duration=durations[0]), ev(2, other, duration=durations[1]),
                 ev(3, ping(None, 900, http=504), duration=durations[2])]
        assert only(diagnose(flows), HEARTBEAT) == [], other
    # without a duration, an early end cannot be ruled out
    flows = [ev(index, ping(None, 900, http=504)) for index in (1, 2, 3)]
    assert [finding.flows for finding in only(diagnose(flows), HEARTBEAT)] == [(1, 2, 3)]


def test_an_answered_ping_ends_the_run_and_an_unanswered_one_does_not() -> None:
    dropped = ping(None, 900, http=None, transport_error="reset")
    ended = [ev(1, dropped, duration=1.0), ev(2, dropped, duration=1.0), ev(3, ping(1), duration=900.0),
             ev(4, dropped, duration=1.0)]
    assert only(diagnose(ended), HEARTBEAT) == []
    quiet = ping(None, 900, http=200)  # an answer without a Status, that lasted its heartbeat
    kept = [ev(1, dropped, duration=1.0), ev(2, dropped, duration=1.0), ev(3, quiet, duration=900.0),
            ev(4, dropped, duration=1.0)]
    assert [finding.flows for finding in only(diagnose(kept), HEARTBEAT)] == [(1, 2, 4)]


# --- version-not-offered (MS-ASHTTP 2.2.3 MS-ASProtocolVersions; MS-ASCMD 2.2.2 Status 138)

VERSION = "version-not-offered"
VERSION_ADVICE = (
    "The client must pick a version from the server's list (the newest both support); a server upgrade or downgrade "
    "since the account was set up can cause this: re-add the account."
)


def options(*versions: str) -> FlowFacts:
    return plain("Options", offered_versions=versions)


def test_a_version_not_offered_in_the_exact_texts() -> None:
    findings = diagnose([ev(1, options("14.0", "14.1")), ev(2, plain("Sync", 501, protocol_version="16.1")),
                         ev(3, plain("Sync", 200, protocol_version="16.0")),
                         ev(4, plain("Sync", 400, protocol_version="16.1"))])
    assert said(findings, VERSION) == [
        ("error", (2,), "The device speaks protocol 16.1, which the server does not offer (MS-ASProtocolVersions: "
                        "14.0, 14.1); the server refused it."),
        ("info", (3,), "The device speaks protocol 16.0, which the server does not offer (MS-ASProtocolVersions: "
                       "14.0, 14.1); the server answered it anyway.")]
    assert advice(findings, VERSION) == [VERSION_ADVICE, VERSION_ADVICE]


def test_the_latest_offer_counts_and_an_options_request_is_not_judged() -> None:
    flows = [ev(1, options("14.1")), ev(2, plain("Sync", protocol_version="16.1", offered_versions=("16.1",))),
             ev(3, plain("Sync", protocol_version="16.1")), ev(4, plain("Options", protocol_version="2.5"))]
    assert only(diagnose(flows), VERSION) == []
    # a version sent before any offer is not judged
    assert only(diagnose([ev(1, plain("Sync", protocol_version="16.1")), ev(2, options("14.1"))]), VERSION) == []


def test_status_138_in_the_exact_text_once() -> None:
    findings = diagnose([ev(1, plain("Sync", 200, 138, protocol_version="2.5")), ev(2, plain("Sync", 200, 138))])
    assert said(findings, VERSION) == [
        ("error", (1,), "The server refused protocol 2.5 (Status 138, version not supported).")]
    assert advice(findings, VERSION) == [
        "The client must pick a version from the server's MS-ASProtocolVersions (OPTIONS)."]
    assert said(diagnose([ev(1, plain("Sync", 200, 138))]), VERSION) == [
        ("error", (1,), "The server refused protocol (none sent) (Status 138, version not supported).")]


def test_a_version_named_like_the_status_138_finding_hides_nothing() -> None:
    """A version is any text the device sends: one spelled "status-138" is a version, not the Status 138 finding."""
    findings = diagnose([ev(1, options("14.1")), ev(2, plain("Sync", 200, protocol_version="status-138")),
                         ev(3, plain("Sync", 200, 138, protocol_version="status-138"))])
    assert sorted((flows, severity) for severity, flows, _ in said(findings, VERSION)) == [
        ((2,), "info"), ((3,), "error")]


# --- request-too-large (MS-ASHTTP 413; MS-ASCMD 2.2.2 115, 122)

TOO_LARGE = "request-too-large"


def test_a_request_too_large_in_the_exact_texts() -> None:
    flows = [ev(1, plain("SendMail", 200, request_size=1000)), ev(2, plain("SendMail", 201, request_size=5000)),
             ev(3, plain("SendMail", 200, request_size=2000)), ev(4, plain("SmartReply", 200, request_size=9000)),
             ev(5, plain("SendMail", 413, request_size=30_000_000)), ev(6, plain("SendMail", 200, 115)),
             ev(7, FlowFacts(http_status=200, statuses=(("x/Status", 122), ("x/Status", 115)), request_size=10))]
    findings = diagnose(flows)
    assert said(findings, TOO_LARGE) == [
        ("error", (5,), "The server refused a SendMail of 30000000 bytes as too large (HTTP 413); the largest SendMail "
                        "it accepted was 5000 bytes."),
        ("error", (6,), "The server refused a SendMail as too large (Status 115 (send quota exceeded)); the largest "
                        "SendMail it accepted was 5000 bytes."),
        ("error", (7,), "The server refused a request of 10 bytes as too large (Status 115 (send quota exceeded)).")]
    assert advice(findings, TOO_LARGE)[0] == (
        "The message or attachment is above the server's limit: send less (smaller attachments, fewer recipients), or "
        "raise the limit on the server.")
    assert said(diagnose([ev(1, plain("SendMail", 200, 122, request_size=0))]), TOO_LARGE) == [
        ("error", (1,), "The server refused a SendMail of 0 bytes as too large (Status 122 (an attachment is too "
                        "large)).")]


def test_only_successes_are_accepted_sizes() -> None:
    for answer in (199, 300, None):
        flows = [ev(1, plain("SendMail", answer, request_size=1000)), ev(2, plain("SendMail", 413, request_size=2000))]
        assert said(diagnose(flows), TOO_LARGE) == [
            ("error", (2,), "The server refused a SendMail of 2000 bytes as too large (HTTP 413).")], answer
    flows = [ev(1, plain("SendMail", 299, request_size=1000)), ev(2, plain("SendMail", 413, request_size=2000))]
    assert said(diagnose(flows), TOO_LARGE) == [
        ("error", (2,), "The server refused a SendMail of 2000 bytes as too large (HTTP 413); the largest SendMail it "
                        "accepted was 1000 bytes.")]


# --- server-errors (MS-ASHTTP 2.2.2.1.1 5xx; MS-ASCMD 2.2.2 110, 111)

SERVER = "server-errors"


def test_server_errors_in_the_exact_texts() -> None:
    flows = [ev(1, plain("Sync", 500)), ev(2, plain("Sync", 504)), ev(3, plain("Sync", 507))]
    findings = diagnose(flows)
    assert said(findings, SERVER) == [
        ("warning", (1, 2, 3), "Sync failed on the server 3 times (server errors, the latest HTTP 507).")]
    assert advice(findings, SERVER) == [
        "Repeated server errors on one command point at the server or at one item it cannot handle: read the server's "
        "log at these times; a client should back off rather than retry at once."]
    statuses = FlowFacts(http_status=200, statuses=(("x/Status", 111), ("x/Status", 110)))
    assert said(diagnose([ev(1, plain("", 502)), ev(2, plain("", 503)), ev(3, statuses)]), SERVER) == [
        ("warning", (1, 2, 3), "request failed on the server 3 times (server errors, the latest Status 110).")]


def test_throttling_is_no_server_error() -> None:
    for throttled in (plain("Sync", 503, retry_after="60"), plain("Sync", 503, retry_after=""),
                      plain("Sync", 503, throttle="CommandFrequency")):
        flows = [ev(1, plain("Sync", 500)), ev(2, throttled), ev(3, plain("Sync", 500))]
        assert only(diagnose(flows), SERVER) == [], throttled
    # the throttling headers on another server error do not hide it
    flows = [ev(1, plain("Sync", 500)), ev(2, plain("Sync", 502, retry_after="60")), ev(3, plain("Sync", 500))]
    assert [finding.flows for finding in only(diagnose(flows), SERVER)] == [(1, 2, 3)]


def test_server_errors_are_counted_per_command() -> None:
    flows = [ev(1, plain("Sync", 500)), ev(2, plain("Ping", 500)), ev(3, plain("Sync", 500)),
             ev(4, plain("Sync", 200, 111))]
    assert said(diagnose(flows), SERVER) == [
        ("warning", (1, 3, 4), "Sync failed on the server 3 times (server errors, the latest Status 111).")]


def test_live_feed_reports_each_rule_on_the_flow_that_proves_it() -> None:
    diagnoser = Diagnoser()
    assert diagnoser.feed(ev(1, plain("Sync", 500))) == []
    assert diagnoser.feed(ev(2, plain("Sync", 500))) == []
    (finding,) = diagnoser.feed(ev(3, plain("Sync", 500)))
    assert (finding.rule, finding.flows) == (SERVER, (1, 2, 3))


# --- each episode has its own finding


def test_two_provisioning_episodes_of_each_kind_are_two_findings() -> None:
    unacknowledged = [ev(1, provision(1, "t1")), ev(2, plain("Sync")), ev(3, provision(1, "t2")), ev(4, plain("Sync"))]
    assert [finding.flows for finding in only(diagnose(unacknowledged), PROVISION_LOOP)] == [(1, 2), (3, 4)]
    stale = [ev(1, provision(2, "p1")), ev(2, plain("Sync", 449, policy_key="p0")),
             ev(3, plain("Sync", 449, policy_key="p0"))]
    assert [finding.flows for finding in only(diagnose(stale), PROVISION_LOOP)] == [(2,), (3,)]
    loops = [ev(index, plain("FolderSync", 200 if index == 4 else 449)) for index in range(1, 8)]
    assert [finding.flows for finding in only(diagnose(loops), PROVISION_LOOP)] == [(1, 2, 3), (5, 6, 7)]


def test_two_runs_of_451_without_a_location_are_two_findings() -> None:
    flows = [ev(index, plain("Sync", 200) if index == 4 else moved(None)) for index in range(1, 8)]
    assert [finding.flows for finding in only(diagnose(flows), REDIRECT)] == [(1, 2, 3), (5, 6, 7)]


def test_two_runs_of_refusals_are_two_findings() -> None:
    flows = [ev(index, plain("Sync", 200 if index == 4 else 401)) for index in range(1, 8)]
    assert [finding.flows for finding in only(diagnose(flows), AUTH)] == [(1, 2, 3), (5, 6, 7)]


def test_two_runs_of_pings_ended_early_are_two_findings() -> None:
    dropped = ping(None, 900, http=None, transport_error="reset")
    flows = [ev(index, ping(1) if index == 4 else dropped, duration=1.0) for index in range(1, 8)]
    assert [finding.flows for finding in only(diagnose(flows), HEARTBEAT)] == [(1, 2, 3), (5, 6, 7)]


def test_two_commands_failing_are_two_findings() -> None:
    flows = [ev(index, plain("Sync" if index % 2 else "Ping", 500)) for index in range(1, 7)]
    assert said(diagnose(flows), SERVER) == [
        ("warning", (1, 3, 5), "Sync failed on the server 3 times (server errors, the latest HTTP 500)."),
        ("warning", (2, 4, 6), "Ping failed on the server 3 times (server errors, the latest HTTP 500).")]


def test_a_session_judges_by_its_own_latest_offer_before_another_device_s() -> None:
    # DEV2's later OPTIONS answer on the same server offers 16.1; DEV1 was offered 14.0 and 14.1 only
    flows = [ev(1, options("14.0", "14.1")), ev(2, options("16.1"), device="DEV2"),
             ev(3, plain("Sync", 400, protocol_version="16.1"))]
    assert said(diagnose(flows), VERSION) == [
        ("error", (3,), "The device speaks protocol 16.1, which the server does not offer (MS-ASProtocolVersions: "
                        "14.0, 14.1); the server refused it.")]
