"""eas.headers: header meanings, Authorization redaction, HTTP statuses (MS-ASHTTP 2.2.1.1.2, 2.2.2.1)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eas.headers import (
    basic_user,
    credential_user,
    explain_headers,
    explain_http_status,
    offered_commands,
    offered_versions,
    options_summary,
    redact_authorization,
)

# MS-ASHTTP 4.2: the OPTIONS response of the spec's example.
SPEC_OPTIONS_RESPONSE = [
    ("Cache-Control", "private"),
    ("Allow", "OPTIONS,POST"),
    ("Server", "Microsoft-IIS/7.0"),
    ("MS-Server-ActiveSync", "14.00.0536.000"),
    ("MS-ASProtocolVersions", "2.0,2.1,2.5,12.0,12.1,14.0"),
    (
        "MS-ASProtocolCommands",
        "Sync,SendMail,SmartForward,SmartReply,GetAttachment,GetHierarchy,CreateCollection,DeleteCollection,"
        "MoveCollection,FolderSync,FolderCreate,FolderDelete,FolderUpdate,MoveItems,GetItemEstimate,"
        "MeetingResponse,Search,Settings,Ping,ItemOperations,Provision,ResolveRecipients,ValidateCert",
    ),
    ("MS-ASProtocolRevisions", "12.1r1"),
    ("Public", "OPTIONS,POST"),
    ("X-MS-MV", "14.0.511"),
    ("Content-Length", "0"),
]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_shows_user_never_password() -> None:
    shown = redact_authorization(basic("alice", "alicepw"))
    assert "alice" in shown
    assert "alicepw" not in shown
    assert shown.startswith("Basic")


def test_spec_authorization_example_hides_everything() -> None:
    # MS-ASHTTP 2.2.1.1.2.1: the example's credentials are "jsmith;Pa$$word!" (no colon), so no user either.
    value = "Basic anNtaXRoO1BhJCR3b3JkIQ=="
    shown = redact_authorization(value)
    assert "Pa$$word" not in shown
    assert "anNtaXRo" not in shown
    assert shown.startswith("Basic")


@pytest.mark.parametrize("value", ["Bearer eyJhbGciOi.secret.token", "NTLM TlRMTVNTUAABAAAAB4IIog==", "Negotiate YIIG"])
def test_other_schemes_hide_the_token(value: str) -> None:
    scheme, _, token = value.partition(" ")
    shown = redact_authorization(value)
    assert shown.startswith(scheme)
    assert token not in shown


def test_broken_basic_is_hidden() -> None:
    assert "!!!" not in redact_authorization("Basic !!!notbase64")


@given(
    user=st.text(alphabet="abcdefghijklmnopqrstuvwxyz.@", min_size=1, max_size=20),
    secret=st.text(min_size=1, max_size=40),
)
def test_password_never_in_any_note(user: str, secret: str) -> None:
    password = "PW#" + secret  # a prefix the user name and the fixed texts cannot contain
    notes = explain_headers([("Authorization", basic(user, password))], response=False)
    rendered = " ".join(f"{n.name} {n.shown_value} {n.meaning}" for n in notes)
    assert password not in rendered
    assert user in rendered


def test_request_headers_explained_in_order() -> None:
    notes = explain_headers(
        [
            ("Content-Type", "application/vnd.ms-sync.wbxml"),
            ("MS-ASProtocolVersion", "14.1"),
            ("X-MS-PolicyKey", "0"),
            ("MS-ASAcceptMultiPart", "T"),
            ("User-Agent", "Apple-iPhone/1"),
            ("X-Custom", "x"),
        ],
        response=False,
    )
    assert [n.name for n in notes] == [
        "Content-Type", "MS-ASProtocolVersion", "X-MS-PolicyKey", "MS-ASAcceptMultiPart", "User-Agent", "X-Custom"
    ]
    meanings = {n.name: n.meaning for n in notes}
    assert "WBXML" in (meanings["Content-Type"] or "")
    assert "14.1" in (meanings["MS-ASProtocolVersion"] or "")
    assert "provision" in (meanings["X-MS-PolicyKey"] or "").lower()
    assert "multipart" in (meanings["MS-ASAcceptMultiPart"] or "")
    assert meanings["X-Custom"] is None


def test_cookies_are_hidden() -> None:
    notes = explain_headers([("Cookie", "session=abc123; theme=dark")], response=False)
    assert "abc123" not in notes[0].shown_value
    assert "session" in notes[0].shown_value
    notes = explain_headers([("Set-Cookie", "session=abc123; Path=/; HttpOnly")], response=True)
    assert "abc123" not in notes[0].shown_value


def test_spec_options_response() -> None:
    assert offered_versions(SPEC_OPTIONS_RESPONSE) == ("2.0", "2.1", "2.5", "12.0", "12.1", "14.0")
    assert len(offered_commands(SPEC_OPTIONS_RESPONSE)) == 23
    summary = options_summary(SPEC_OPTIONS_RESPONSE)
    assert summary is not None and "newest 14.0" in summary and "23 commands" in summary
    meanings = {n.name: n.meaning for n in explain_headers(SPEC_OPTIONS_RESPONSE, response=True)}
    assert "14.00.0536.000" in (meanings["MS-Server-ActiveSync"] or "")
    assert "14.0.511" in (meanings["X-MS-MV"] or "")
    assert options_summary([("Server", "x")]) is None


def test_newest_version_is_numeric_not_textual() -> None:
    summary = options_summary([("MS-ASProtocolVersions", "2.5,12.0,12.1,14.0,14.1,16.0,16.1")])
    assert summary is not None and "newest 16.1" in summary
    assert "newest 12.1" in (options_summary([("MS-ASProtocolVersions", "2.5,12.1")]) or "")


def test_451_names_the_redirect_target() -> None:
    # MS-ASHTTP 2.2.2.1.1.4 example.
    target = "https://mail.exchange.microsoft.com/Microsoft-Server-ActiveSync"
    meaning = explain_http_status(451, [("X-MS-Location", target)])
    assert meaning is not None and target in meaning
    assert "Autodiscover" in (explain_http_status(451) or "")


def test_503_with_retry_after() -> None:
    meaning = explain_http_status(503, [("Retry-After", "30")])
    assert meaning is not None and "30 seconds" in meaning


@pytest.mark.parametrize(
    ("code", "word"),
    [(200, "succeeded"), (401, "Autodiscover"), (403, "not allowed"), (449, "Provision"), (500, "Autodiscover"),
     (501, "not implement"), (507, "full"), (418, "client error"), (302, "redirection"), (599, "server error")],
)
def test_status_meanings(code: int, word: str) -> None:
    assert word in (explain_http_status(code) or "")


def test_status_outside_http_ranges() -> None:
    assert explain_http_status(42) is None
    assert explain_http_status(999) is None


def test_long_values_are_cut() -> None:
    notes = explain_headers([("X-Long", "a" * 10_000)], response=True)
    assert len(notes[0].shown_value) < 2100


def test_value_already_redacted_by_the_capture_store() -> None:
    from eas.headers import basic_user

    assert redact_authorization("Basic alice:<redacted>") == "Basic user='alice' (password not stored)"
    assert redact_authorization("Bearer <redacted>") == "Bearer (credentials not stored)"
    assert basic_user("Basic alice:<redacted>") == "alice"
    assert basic_user(basic("bob", "pw")) == "bob"
    assert basic_user("Bearer x") is None


# -------------------------------------------------------------------- each meaning and redaction, by hand
# (mutants of these rules survived the tests above; MS-ASHTTP 2.2.1.1.2 request headers, as the current
# edition lists MS-ASAcceptMultiPart and X-MS-PolicyKey; RFC 6265 4.1 Set-Cookie and 4.2 Cookie)


def explained(headers: list[tuple[str, str]], response: bool) -> list[tuple[str, str, str]]:
    return [(n.name, n.shown_value, n.meaning) for n in explain_headers(headers, response=response)]


def test_policy_key_zero_means_provision_first_and_another_is_the_last_provision() -> None:
    assert explained([("X-MS-PolicyKey", " 0 "), ("X-MS-PolicyKey", "1307199584")], response=False) == [
        ("X-MS-PolicyKey", " 0 ", "policy key 0: the device has no policy yet and must provision (Provision command)"),
        ("X-MS-PolicyKey", "1307199584",
         "the policy key the device got from its last Provision; the server answers 449 when it is stale"),
    ]


def test_accept_multipart_t_in_any_case_asks_for_multipart_else_inline() -> None:
    assert [meaning for _, _, meaning in explained(
        [("MS-ASAcceptMultiPart", " t "), ("MS-ASAcceptMultiPart", "F")], response=False)] == [
        "the client asks for ItemOperations data as application/vnd.ms-sync.multipart",
        "the client wants inline (base64 in WBXML) ItemOperations data",
    ]


def test_cookie_names_stay_and_every_value_is_hidden() -> None:
    assert explained([("Cookie", "a=1; b=2;  ; c"), ("cookie", "=x; d=4")], response=False) == [
        ("Cookie", "a=(hidden); b=(hidden); (hidden)", "cookies (values hidden)"),  # "c": a nameless cookie
        ("cookie", "(hidden); d=(hidden)", "cookies (values hidden)"),  # "=x": a value without a name
    ]


def test_set_cookie_hides_the_value_and_keeps_the_attributes() -> None:
    assert explained([("Set-Cookie", "sid=xyz; Path=/; HttpOnly"), ("Set-Cookie", "tok=abc")], response=True) == [
        ("Set-Cookie", "sid=(hidden); Path=/; HttpOnly", "a cookie for the client (value hidden)"),
        ("Set-Cookie", "tok=(hidden)", "a cookie for the client (value hidden)"),
    ]


def test_basic_user_reads_the_scheme_in_any_case_and_only_basic() -> None:
    assert basic_user("basic " + base64.b64encode(b"al:pw").decode()) == "al"
    assert basic_user("BASIC " + base64.b64encode(b"bo:pw").decode()) == "bo"
    assert basic_user("Bearer abc") is None


@pytest.mark.parametrize(
    ("listed", "meaning"),
    [
        ("2.5,12.0,14.1,16.1", "protocol versions the server supports; newest 16.1"),
        ("14.1,2.5,12.0", "protocol versions the server supports; newest 14.1"),  # by number: 14.1 > 2.5
        ("16.1, 2.5 ,12.1", "protocol versions the server supports; newest 16.1"),
        (" , ", "protocol versions the server supports (none listed)"),
    ],
)
def test_the_newest_offered_version_is_the_highest_number(listed: str, meaning: str) -> None:
    assert explained([("MS-ASProtocolVersions", listed)], response=True) == [("MS-ASProtocolVersions", listed, meaning)]


# ------------------------------------------------------------------- every meaning, word for word, by hand


@pytest.mark.parametrize(
    ("content_type", "meaning"),
    [
        ("application/vnd.ms-sync.wbxml", "body is WBXML (MS-ASWBXML)"),
        ("Application/VND.MS-SYNC.WBXML; charset=utf-8", "body is WBXML (MS-ASWBXML)"),
        ("application/vnd.ms-sync.wbxml; charset=utf-8; q=1", "body is WBXML (MS-ASWBXML)"),  # two parameters
        ("application/vnd.ms-sync", "body is WBXML (MS-ASWBXML)"),
        ("application/vnd.ms-sync.multipart",
         "body is a multipart ItemOperations response: a part table, then the parts (MS-ASCMD 2.2.2.10.1)"),
        ("message/rfc822", "body is a MIME message (SendMail/SmartReply/SmartForward before 14.0)"),
        ("text/xml", "body is XML (Autodiscover POX)"),
        (" application/xml ;charset=utf-8", "body is XML (Autodiscover POX)"),
        ("application/json", "body is JSON"),
        ("text/html", "body is text"),
        ("image/png", "body type image/png"),
        ("; charset=utf-8", "body type (none)"),
    ],
)
def test_each_content_type_has_its_meaning(content_type: str, meaning: str) -> None:
    assert explained([("Content-Type", content_type)], response=False)[0][2] == meaning
    assert explained([("content-type", content_type)], response=True)[0][2] == meaning


def test_each_request_header_meaning_word_for_word() -> None:
    headers = [
        ("Authorization", "Basic " + base64.b64encode(b"alice:pw").decode()),
        ("Authorization", "abcdef"),
        ("Proxy-Authorization", "abcdef"),
        ("MS-ASProtocolVersion", " 14.1 "),
        ("User-Agent", "Apple-iPhone/1"),
        ("X-MS-ClientInfo", "x"),
        ("X-MS-ClientApplication", "x"),
        ("X-MS-DeviceInfo", "x"),
        ("Content-Encoding", " gzip "),
        ("Accept-Encoding", "gzip"),
        ("Content-Length", " 12 "),
        ("Host", "mail.example.com"),
        ("X-Auth-Token", "secret"),
        ("X-Custom", "x"),
    ]
    assert [meaning for _, _, meaning in explained(headers, response=False)] == [
        "HTTP Basic (RFC 7617): user name and password in base64, readable by anyone who sees it; only TLS "
        "protects it",
        "credentials without a scheme (not an HTTP scheme)",
        "credentials for a proxy: credentials without a scheme (not an HTTP scheme)",
        "the client speaks protocol version 14.1",
        "the client software",
        "client details sent by some clients (not defined by MS-ASHTTP)",
        "client application sent by some clients (not defined by MS-ASHTTP)",
        "device information sent by some clients (not defined by MS-ASHTTP)",
        "the body is compressed with gzip",
        "compressions the client accepts for the response",
        "12 bytes of body",
        "the server name the client asked for",
        "a credential (value hidden)",
        None,
    ]


def test_each_response_header_meaning_word_for_word() -> None:
    headers = [
        ("MS-Server-ActiveSync", " 14.3 "),
        ("MS-ASProtocolCommands", "Sync, Ping,,FolderSync"),
        ("MS-ASProtocolRevisions", "12.1r1"),
        ("X-MS-Location", " https://b.example/Microsoft-Server-ActiveSync "),
        ("X-MS-RP", "14.1"),
        ("X-MS-MV", " 14.0.511 "),
        ("Retry-After", " 30 "),
        ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("X-MS-ASThrottle", " CommandFrequency "),
        ("X-MS-ASThrottleReason", " Budget "),
        ("X-MS-CredentialsExpire", " 4 "),
        ("X-MS-CredentialServiceUrl", "https://example/change"),
        ("Allow", " OPTIONS,POST "),
        ("Public", " OPTIONS "),
        ("Cache-Control", "private"),
        ("Date", "x"),
        ("Server", "x"),
        ("Content-Length", "0"),
        ("Content-Encoding", "deflate"),
    ]
    assert [meaning for _, _, meaning in explained(headers, response=True)] == [
        "ActiveSync server version 14.3",
        "3 commands the server supports",
        "protocol revisions the server supports",
        "redirect: use https://b.example/Microsoft-Server-ActiveSync for every later request",
        "the server was upgraded: the client must resynchronize fully (versions listed)",
        "server build 14.0.511",
        "wait 30 seconds before the next request",
        "wait until Wed, 21 Oct 2015 07:28:00 GMT before the next request",
        "the server throttles this client: CommandFrequency",
        "why the server throttles: Budget",
        "the password expires in 4 days",
        "where the user can change the password",
        "methods allowed: OPTIONS,POST",
        "methods allowed: OPTIONS",
        "caching rule",
        "when the response was made",
        "the web server software",
        "0 bytes of body",
        "the body is compressed with deflate",
    ]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("X-Auth-Token", "abcdef", "(hidden, 6 characters)"),
        ("x-api-key", "k", "(hidden, 1 characters)"),
        ("Cookie2", "a=1", "a=(hidden)"),
        ("Set-Cookie2", "b=2; Path=/", "b=(hidden); Path=/"),
        ("Proxy-Authorization", "abcdef", "(no scheme; value hidden, 6 characters)"),
        ("X-MS-PolicyKey", "1234", "1234"),
        ("X-Plain", "kept as sent", "kept as sent"),
    ],
)
def test_shown_values_hide_each_kind_of_secret(name: str, value: str, shown: str) -> None:
    assert explained([(name, value)], response=False)[0][1] == shown


def test_a_long_value_is_cut_at_2000_characters_with_its_length() -> None:
    assert explained([("X-Long", "a" * 2001)], response=True)[0][1] == "a" * 2000 + "... (2001 characters)"
    assert explained([("X-Long", "a" * 2000)], response=True)[0][1] == "a" * 2000


def test_header_lookups_ignore_case_and_take_the_first() -> None:
    headers = [("ms-asprotocolversions", "14.1, 2.5,"), ("MS-ASProtocolVersions", "16.1"),
               ("MS-ASPROTOCOLCOMMANDS", " Sync ,Ping")]
    assert offered_versions(headers) == ("14.1", "2.5")
    assert offered_commands(headers) == ("Sync", "Ping")
    assert options_summary(headers) == "server offers versions 14.1, 2.5 (newest 14.1); 2 commands: Sync, Ping"
    assert options_summary(headers[:1]) == "server offers versions 14.1, 2.5 (newest 14.1)"
    assert options_summary(headers[2:]) == "server offers 2 commands: Sync, Ping"
    assert offered_versions([("MS-ASProtocolVersions", "")]) == ()
    assert offered_commands([]) == ()


def test_a_version_with_a_part_that_is_not_a_number_is_older_than_any_number() -> None:
    # "14.x" reads as older than 14.0; a version of more parts is newer than its prefix
    assert options_summary([("MS-ASProtocolVersions", "14.x,14.0")]) == (
        "server offers versions 14.x, 14.0 (newest 14.0)")
    assert options_summary([("MS-ASProtocolVersions", "14.0.1,14.0")]) == (
        "server offers versions 14.0.1, 14.0 (newest 14.0.1)")


def test_credential_user_names_the_basic_user_and_none_without_one() -> None:
    assert credential_user("Basic " + base64.b64encode(b"alice:pw").decode()) == "alice"
    assert credential_user("abcdef") is None


def test_a_bearer_token_names_a_user_that_basic_user_does_not_report() -> None:
    # RFC 7519: a JWT of three base64url parts; its upn claim names the user (credential_user), not a Basic one
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    bearer = "Bearer " + ".".join([part(b'{"alg":"none"}'), part(b'{"upn":"alice@example.com"}'), part(b"sig")])
    assert credential_user(bearer) == "alice@example.com"
    assert basic_user(bearer) is None


# MS-ASHTTP 2.2.2.1.1 (the status table) and 2.2.2.1.1.1 (the ranges).
@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (200, "the command succeeded"),
        (400, "the request or its headers are wrong (bad query, missing header, body the server cannot read)"),
        (404, "no such URI, or this server does not offer ActiveSync"),
        (449, "the device must provision first (send Provision, then retry with the new X-MS-PolicyKey)"),
        (451, "wrong server for this mailbox: redirect permanently to X-MS-Location; without it, run Autodiscover"),
        (502, "proxy error: the server behind it could not be reached"),
        (503, "the service is unavailable (too many requests queued); retry later, after Retry-After if given"),
        (100, "informational"),
        (199, "informational"),
        (201, "success"),
        (299, "success"),
        (300, "redirection: the client must act before the request can complete"),
        (399, "redirection: the client must act before the request can complete"),
        (429, "client error: the request is wrong or cannot be fulfilled"),
        (499, "client error: the request is wrong or cannot be fulfilled"),
        (599, "server error: the server failed on an apparently valid request"),
        (99, None),
        (600, None),
    ],
)
def test_each_http_status_meaning_word_for_word(code: int, meaning: str | None) -> None:
    assert explain_http_status(code) == meaning


def test_451_and_503_and_429_add_what_their_headers_say() -> None:
    target = [("x-ms-location", " https://b.example/x "), ("Retry-After", "30")]
    assert explain_http_status(451, target) == (
        "wrong server for this mailbox: redirect permanently to X-MS-Location; without it, run Autodiscover"
        "; redirect target https://b.example/x")
    assert explain_http_status(451, [("X-MS-Location", "")]) == explain_http_status(451)
    assert explain_http_status(429, target) == (
        "client error: the request is wrong or cannot be fulfilled; wait 30 seconds before the next request")
    assert explain_http_status(503, [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]) == (
        "the service is unavailable (too many requests queued); retry later, after Retry-After if given"
        "; wait until Wed, 21 Oct 2015 07:28:00 GMT before the next request")
    assert explain_http_status(500, target) == (
        "the server failed on an apparently valid request; the client should run Autodiscover again")
