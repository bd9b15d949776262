"""Diagnosis rules about requests and answers: provisioning, redirects, throttling, auth, Ping, versions, errors."""

from __future__ import annotations

from collections import deque
from urllib.parse import urlsplit

from ..evidence import (
    IGNORED_AFTER,
    FlowEvidence,
    FlowList,
    RuleState,
    SessionState,
    plural,
    top_status,
    transport_failed,
)

# ----------------------------------------------------------------------------------------------------------------
# Thresholds, each with the reason for its value.

# Three demands to provision (449 / 142-144) with no successful command between them: one demand starts the
# Provision, a second can come from a policy refresh (143); a third is a loop.
PROVISION_LOOP_MIN = 3
# Three 451s with no success between them, when no X-MS-Location says where to go.
REDIRECT_LOOP_MIN = 3
# More than 60 requests in one minute from one device: well above any EAS client's normal pace (one Sync or Ping
# at a time, a few a minute while changes flow), and what server throttling policies are set against.
BURST_LIMIT = 60
BURST_WINDOW_SECONDS = 60.0
# Request times and the Date header have one-second resolution.
RETRY_TOLERANCE_SECONDS = 1.0
# Three refusals in a row: Basic needs one 401 challenge, NTLM and Negotiate two; a third is refused credentials.
AUTH_FAILURES_MIN = 3
# Pings that end in a transport error or a gateway error before their heartbeat: three in a row, not one bad link.
PING_EARLY_MIN = 3
# Three server errors on the same command: one or two can be a passing fault.
SERVER_ERRORS_MIN = 3

# MS-ASCMD 2.2.2 Common Status Codes that name the cause.
_PROVISION_CODES = frozenset({142, 143, 144})  # not provisioned, policy refresh, invalid policy key
_ACCOUNT_CODES = {126: "the user is disabled for ActiveSync", 129: "the device is blocked for this user",
                  177: "the user has reached the maximum number of devices"}
_SERVER_ERROR_CODES = frozenset({110, 111})
_SIZE_CODES = {115: "send quota exceeded", 122: "an attachment is too large"}
# MS-ASHTTP 2.2.2.1.1: 500, 502, 503, 507 are server-side failures; 504 is a gateway's timeout. 501 is not: it
# says the command is not implemented, which retrying does not change.
_SERVER_ERROR_HTTP = frozenset({500, 502, 503, 504, 507})
# HTTP codes that refuse the user or device: 401, 403 (MS-ASHTTP 2.2.2.1.1); 456 and 457 are not MS-ASHTTP's but
# are what some servers answer for a blocked account or device.
_AUTH_HTTP = frozenset({401, 403, 456, 457})
# The flows the Ping rule reads (eas.evidence.Rule.commands).
PING_COMMANDS = frozenset({"Ping"})
# Requests a device sends before it has a policy (MS-ASPROV 3.1.5.1: the policy is needed for the commands).
_NO_POLICY_NEEDED = frozenset({"Options", "Autodiscover", None})


# ----------------------------------------------------------------------------------------------------------------
# Provisioning (MS-ASPROV 3.1.5.1; MS-ASHTTP 449; MS-ASCMD 2.2.2 142-144)


class ProvisioningLoop(RuleState):
    """Repeated demands to provision, a policy never acknowledged, a stale policy key, a remote wipe."""

    def __init__(self) -> None:
        self.demands = FlowList()
        self.final_key: str | None = None
        self.unacknowledged: int | None = None
        self.wipe_reported = False

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        flow_id = evidence.flow_id
        if facts.command == "Provision":
            self._provision(evidence, session)
            return
        if self.unacknowledged is not None and facts.command not in _NO_POLICY_NEEDED:
            session.report(
                ("unacknowledged", self.unacknowledged),
                (self.unacknowledged, flow_id),
                f"The device downloaded the policy (Provision phase 1, flow {self.unacknowledged}) and went on "
                f"with {facts.command or 'a request'} without acknowledging it (phase 2).",
                "A device must acknowledge the policy with a second Provision carrying the temporary PolicyKey; "
                "only that gives it the key the server accepts. Check the device's policy support.",
            )
            self.unacknowledged = None
        demand = facts.http_status == 449 or not _PROVISION_CODES.isdisjoint(facts.status_set)
        if not demand:
            if facts.http_status is not None and 200 <= facts.http_status < 300:
                self.demands = FlowList()
            return
        self.demands.add(flow_id)
        if facts.policy_key and self.final_key and facts.policy_key != self.final_key:
            session.report(
                ("stale", flow_id),
                (flow_id,),
                f"The device sent X-MS-PolicyKey {facts.policy_key}, but its last Provision gave "
                f"{self.final_key}, and the server asked it to provision again.",
                "The device keeps an old policy key: it must send the key of its last acknowledged Provision.",
                severity="warning",
            )
        if len(self.demands) >= PROVISION_LOOP_MIN:
            session.report(
                ("loop", self.demands.head[0]),
                self.demands,
                f"The server asked the device to provision {plural(len(self.demands), 'time')} (HTTP 449 or "
                "Status 142-144) with no successful request in between: the device does not get past "
                "provisioning.",
                "Look at the Provision exchanges: a device that cannot apply the policy, that acknowledges with "
                "the wrong key, or that sends no X-MS-PolicyKey stays in this loop. Server-side, check the "
                "device's policy and access state.",
            )

    def _provision(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if facts.remote_wipe and not self.wipe_reported:
            self.wipe_reported = True
            session.report(
                "remote-wipe",
                (evidence.flow_id,),
                f"The server asked the device to wipe itself (RemoteWipe in Provision, flow {evidence.flow_id}).",
                "This device (or its account) is being wiped on purpose, by an administrator or the user: "
                "that explains why it stops syncing.",
                severity="warning",
            )
        if facts.provision_phase == 1:
            if facts.policy_status == 1 and facts.provision_response_policy_key:
                self.unacknowledged = evidence.flow_id
        elif facts.provision_phase == 2:
            self.unacknowledged = None
            if facts.provision_response_policy_key and top_status(facts) in (None, 1):
                self.final_key = facts.provision_response_policy_key


# ----------------------------------------------------------------------------------------------------------------
# Redirects (MS-ASHTTP 2.2.2.1.1, 2.2.2.1.1.4: 451 and X-MS-Location)


def _same_server(location: str, host: str | None) -> bool:
    if not host:
        return False
    try:
        target = urlsplit(location if "//" in location else f"//{location}")
        here = urlsplit(f"//{host}")
        if not target.hostname or not here.hostname:
            return False  # a path, or a host that is only a port: no server named to compare
        return target.hostname.lower() == here.hostname.lower() and (
            target.port is None or here.port is None or target.port == here.port
        )
    except ValueError:
        return False


class RedirectLoop(RuleState):
    """451 that points back at the same server, or that the client does not follow."""

    def __init__(self) -> None:
        self.redirects = FlowList()
        self.location: str | None = None
        self.later = 0

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if self.location is not None:
            # Every later request of this session went to the old server, a 451 again included.
            self.later += 1
            self.redirects.add(evidence.flow_id)
            if self.later >= IGNORED_AFTER:
                session.report(
                    ("ignored", self.redirects.head[0]),
                    self.redirects,
                    f"The server redirected the device to {self.location} (HTTP 451), and the client sent "
                    f"{plural(self.later, 'more request')} to {evidence.host} anyway.",
                    "After a 451 with X-MS-Location the client must use that URL for every later request "
                    "(MS-ASHTTP); reconfigure the account with the new server, or run Autodiscover.",
                )
            return
        if facts.http_status != 451:
            if facts.http_status is not None and 200 <= facts.http_status < 300:
                self.redirects = FlowList()  # a success ends a run of 451s without a location
            return
        self.redirects.add(evidence.flow_id)
        location = facts.redirect_location
        if location and _same_server(location, evidence.host):
            session.report(
                ("same-server", evidence.flow_id),
                (evidence.flow_id,),
                f"The server answered HTTP 451 with X-MS-Location {location}, which is the server the device "
                "already talks to: following it changes nothing.",
                "The server's redirect configuration (external URL of the mailbox's site) points at itself; fix it "
                "on the server.",
            )
            return
        if location:
            self.location = location
        elif len(self.redirects) >= REDIRECT_LOOP_MIN:
            session.report(
                ("repeated", self.redirects.head[0]),
                self.redirects,
                f"The server answered HTTP 451 without X-MS-Location {plural(len(self.redirects), 'time')}: the "
                "device is redirected but not told where.",
                "Without X-MS-Location the client must run Autodiscover to find its server; check Autodiscover "
                "for this user.",
            )


# ----------------------------------------------------------------------------------------------------------------
# Throttling and retries (MS-ASHTTP 2.2.2.1.1.3: 503; Retry-After; X-MS-ASThrottle)


class Throttled(RuleState):
    """The server throttles (503 with Retry-After or X-MS-ASThrottle), or the device sends bursts of requests."""

    def __init__(self) -> None:
        self.throttled: FlowList | None = None
        self.recent: deque[tuple[float, int]] = deque()
        self.burst: FlowList | None = None

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        self._burst(evidence, session)
        if facts.throttle or (facts.http_status == 503 and facts.retry_after is not None):
            if self.throttled is None:
                self.throttled = FlowList()
            self.throttled.add(evidence.flow_id)
            reason = f" ({facts.throttle})" if facts.throttle else ""
            if facts.retry_after_seconds is not None:
                wait = f"; it asked for a wait of {facts.retry_after_seconds} s (Retry-After)"
            else:
                wait = f"; Retry-After {facts.retry_after}" if facts.retry_after else ""
            session.report(
                self.throttled.head[0],
                self.throttled,
                f"The server throttled this device {plural(len(self.throttled), 'time')}{reason}{wait}.",
                "The device sends more than the server's policy allows: wait as long as Retry-After says, and "
                "look for what makes the device so busy (a sync loop, many folders, a short Ping heartbeat).",
            )
        elif facts.http_status is not None and 200 <= facts.http_status < 300:
            self.throttled = None

    def _burst(self, evidence: FlowEvidence, session: SessionState) -> None:
        recent = self.recent
        recent.append((evidence.ts, evidence.flow_id))
        while recent and recent[0][0] <= evidence.ts - BURST_WINDOW_SECONDS:
            recent.popleft()
        if len(recent) <= BURST_LIMIT:
            self.burst = None
            return
        if self.burst is None:
            self.burst = FlowList(flow_id for _, flow_id in recent)
        else:
            self.burst.add(evidence.flow_id)
        session.report(
            ("burst", self.burst.head[0]),
            self.burst,
            f"The device sent {len(recent)} requests within {BURST_WINDOW_SECONDS:.0f} seconds "
            f"({len(self.burst)} in this burst), more than {BURST_LIMIT} a minute.",
            "Such bursts come from a loop (an invalid SyncKey, a refused heartbeat, an ignored redirect) or from a "
            "Ping that ends at once; servers throttle them. Look at the other findings of this session.",
        )


class RetryTooEarly(RuleState):
    """The device asks again before the Retry-After the server gave has passed."""

    def __init__(self) -> None:
        self.not_before: float | None = None
        self.cause: int | None = None
        self.early: FlowList | None = None
        self.wait = 0

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if self.not_before is not None and self.cause is not None:
            if evidence.ts < self.not_before - RETRY_TOLERANCE_SECONDS:
                if self.early is None:
                    self.early = FlowList((self.cause,))
                self.early.add(evidence.flow_id)
                too_soon = self.not_before - evidence.ts
                session.report(
                    self.cause,
                    self.early,
                    f"The server asked the device to wait {self.wait} s (Retry-After, flow {self.cause}); the "
                    f"device sent {plural(len(self.early) - 1, 'request')} before that, the latest "
                    f"{too_soon:.0f} s too early.",
                    "A client must not retry before Retry-After has passed; early retries keep it throttled. "
                    "Report the client's retry behaviour to its vendor.",
                )
            else:
                self.not_before = self.cause = self.early = None
        if facts.retry_after_seconds is not None and facts.retry_after_seconds > 0:
            answered = evidence.ts + (evidence.duration or 0.0)
            self.not_before = answered + facts.retry_after_seconds
            self.cause = evidence.flow_id
            self.early = None
            self.wait = facts.retry_after_seconds


# ----------------------------------------------------------------------------------------------------------------
# Authentication (MS-ASHTTP 2.2.2.1.1, 2.2.2.1.1.2: 401, 403; MS-ASCMD 2.2.2: 126, 129, 177)


class AuthFailures(RuleState):
    """Credentials or access refused again and again, an account or device refused, a password about to expire."""

    def __init__(self) -> None:
        self.refused = FlowList()
        self.codes_seen: set[int] = set()
        self.expiry_reported = False

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if facts.credentials_expire and not self.expiry_reported:
            self.expiry_reported = True
            where = f" Change it at {facts.credential_service_url}." if facts.credential_service_url else ""
            session.report(
                "expiry",
                (evidence.flow_id,),
                f"The server says the password expires in {facts.credentials_expire} days "
                f"(X-MS-Credentials-Expire).{where}",
                "Change the password before it expires, then update it on the device.",
                severity="info",
            )
        for code in sorted(facts.status_set.intersection(_ACCOUNT_CODES)):
            if code not in self.codes_seen:
                self.codes_seen.add(code)
                session.report(
                    ("status", code),
                    (evidence.flow_id,),
                    f"The server refused {facts.command or 'a request'} with Status {code}: {_ACCOUNT_CODES[code]}.",
                    "This is the server's access policy, not a client fault: an administrator must enable the "
                    "user or device (or remove old device partnerships).",
                )
        if facts.http_status in _AUTH_HTTP:
            self.refused.add(evidence.flow_id)
            if len(self.refused) >= AUTH_FAILURES_MIN:
                scheme = f" (the server asks for {facts.auth_scheme})" if facts.auth_scheme else ""
                session.report(
                    ("http", self.refused.head[0]),
                    self.refused,
                    f"The server refused the device {plural(len(self.refused), 'time')} in a row with HTTP "
                    f"{facts.http_status}{scheme}: the credentials or the account are not accepted.",
                    "Check the user name (domain\\user or the address) and the password on the device, and that "
                    "the account is allowed to use ActiveSync; after 401/403 a client should run Autodiscover.",
                )
        elif facts.http_status is not None and 200 <= facts.http_status < 300:
            self.refused = FlowList()


# ----------------------------------------------------------------------------------------------------------------
# Ping (MS-ASCMD 2.2.3.177.11 Status (Ping) 5; 2.2.3 HeartbeatInterval (Ping))


class PingHeartbeatOutOfRange(RuleState):
    """Ping Status 5 (heartbeat refused, with the limit), repeated; Pings that keep ending before their heartbeat."""

    def __init__(self) -> None:
        self.refused: FlowList | None = None
        self.limit: int | None = None
        self.heartbeat: int | None = None
        self.early = FlowList()

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if facts.command != "Ping":
            return
        if facts.ping_heartbeat_requested is not None:
            self.heartbeat = facts.ping_heartbeat_requested
        status = top_status(facts)
        self._early(evidence, session, status)
        if status != 5:
            if status is not None:
                self.refused = None
            return
        if self.refused is None:
            self.refused = FlowList()
        self.refused.add(evidence.flow_id)
        if facts.ping_heartbeat_limit is not None:
            self.limit = facts.ping_heartbeat_limit
        count = len(self.refused)
        asked = f" of {self.heartbeat} s" if self.heartbeat is not None else ""
        limit = f"; the server allows {self.limit} s" if self.limit is not None else ""
        again = f", {plural(count, 'time')}" if count > 1 else ""
        session.report(
            ("status-5", self.refused.head[0]),
            self.refused,
            f"The server refused the Ping heartbeat{asked} (Ping Status 5{limit}){again}.",
            "The client must Ping again with a HeartbeatInterval within the limit the server sent"
            + (", and this one does not." if count > 1 else "."),
            severity="warning" if count > 1 else "info",
        )

    def _early(self, evidence: FlowEvidence, session: SessionState, status: int | None) -> None:
        facts = evidence.facts
        broken = transport_failed(facts) or facts.http_status in (502, 504)
        if broken and self.heartbeat is not None and evidence.duration is not None:
            broken = evidence.duration < self.heartbeat
        if not broken:
            if status is not None:
                self.early = FlowList()
            return
        self.early.add(evidence.flow_id)
        if len(self.early) >= PING_EARLY_MIN:
            heartbeat = f"{self.heartbeat} s" if self.heartbeat is not None else "their"
            session.report(
                ("early", self.early.head[0]),
                self.early,
                f"{plural(len(self.early), 'Ping')} in a row ended with no answer or a gateway error before "
                f"{heartbeat} heartbeat.",
                "Something between the device and the server (a proxy, a load balancer, a firewall, NAT) closes "
                "idle connections sooner than the heartbeat: raise its idle timeout, or lower the heartbeat.",
            )


# ----------------------------------------------------------------------------------------------------------------
# Protocol versions (MS-ASHTTP 2.2.3 OPTIONS: MS-ASProtocolVersions; MS-ASCMD 2.2.2 Status 138)


class VersionNotOffered(RuleState):
    """The device speaks a protocol version the server did not offer, or the server answers Status 138."""

    def __init__(self) -> None:
        self.offered: tuple[str, ...] = ()
        self.versions_reported: set[str] = set()
        self.status_138_reported = False

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        offered = facts.offered_versions or self.offered or session.host_offered_versions
        version = facts.protocol_version
        if version and offered and version not in offered and facts.command != "Options":
            if version not in self.versions_reported:
                self.versions_reported.add(version)
                # Servers refuse an unknown version with 400 or 501 (or Status 138, reported below).
                refused = facts.http_status in (400, 501)
                answer = "the server refused it" if refused else "the server answered it anyway"
                session.report(
                    ("version", version),
                    (evidence.flow_id,),
                    f"The device speaks protocol {version}, which the server does not offer "
                    f"(MS-ASProtocolVersions: {', '.join(offered)}); {answer}.",
                    "The client must pick a version from the server's list (the newest both support); a server "
                    "upgrade or downgrade since the account was set up can cause this: re-add the account.",
                    # A server that serves the version all the same shows a client that ignores the list, not a
                    # failure; a refusal is the failure.
                    severity="error" if refused else "info",
                )
        if 138 in facts.status_set and not self.status_138_reported:
            self.status_138_reported = True
            session.report(
                "status-138",
                (evidence.flow_id,),
                f"The server refused protocol {version or '(none sent)'} (Status 138, version not supported).",
                "The client must pick a version from the server's MS-ASProtocolVersions (OPTIONS).",
            )
        if facts.offered_versions:
            self.offered = facts.offered_versions


# ----------------------------------------------------------------------------------------------------------------
# Sizes and server errors (MS-ASHTTP 413, 5xx; MS-ASCMD 2.2.2 110, 111, 115, 122)


class RequestTooLarge(RuleState):
    """The server refused a request for its size: HTTP 413, Status 115 or 122."""

    def __init__(self) -> None:
        self.largest_accepted: dict[str, int] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        command = facts.command or "request"
        codes = sorted(facts.status_set.intersection(_SIZE_CODES))
        if facts.http_status != 413 and not codes:
            if facts.http_status is not None and 200 <= facts.http_status < 300 and facts.request_size:
                self.largest_accepted[command] = max(self.largest_accepted.get(command, 0), facts.request_size)
            return
        why = "HTTP 413" if facts.http_status == 413 else f"Status {codes[0]} ({_SIZE_CODES[codes[0]]})"
        size = f" of {facts.request_size} bytes" if facts.request_size is not None else ""
        accepted = self.largest_accepted.get(command)
        hint = f"; the largest {command} it accepted was {accepted} bytes" if accepted else ""
        session.report(
            evidence.flow_id,
            (evidence.flow_id,),
            f"The server refused a {command}{size} as too large ({why}){hint}.",
            "The message or attachment is above the server's limit: send less (smaller attachments, fewer "
            "recipients), or raise the limit on the server.",
        )


class ServerErrors(RuleState):
    """The same command keeps failing on the server's side (5xx, Status 110/111)."""

    def __init__(self) -> None:
        self.errors: dict[str, FlowList] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        throttling = facts.http_status == 503 and (facts.retry_after is not None or facts.throttle)
        server_http = facts.http_status in _SERVER_ERROR_HTTP and not throttling
        codes = sorted(facts.status_set & _SERVER_ERROR_CODES)
        if not server_http and not codes:
            return
        command = facts.command or "request"
        flows = self.errors.setdefault(command, FlowList())
        flows.add(evidence.flow_id)
        if len(flows) >= SERVER_ERRORS_MIN:
            what = f"HTTP {facts.http_status}" if server_http else f"Status {codes[0]}"
            session.report(
                command,
                flows,
                f"{command} failed on the server {plural(len(flows), 'time')} (server errors, the latest {what}).",
                "Repeated server errors on one command point at the server or at one item it cannot handle: "
                "read the server's log at these times; a client should back off rather than retry at once.",
            )
