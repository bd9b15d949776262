"""eas.auth, eas.sensitive and their use in headers, query and annotation (issue 13, Authentication as it is today;
Secrets in other places)."""

from __future__ import annotations

import base64
import json
import struct
import time

import pytest
from lxml import etree

import eas
from eas import auth
from eas.annotate import AnnotationContext, annotate, decode_annotated
from eas.headers import credential_user, explain_headers, redact_authorization, shown_header_value
from eas.query import decode_query
from eas.sensitive import (
    is_secret_element,
    is_secret_header,
    is_secret_parameter,
    redact_query,
    redact_url,
)

REQUEST_TIME = 1_700_000_180.0  # 2023-11-14 22:16:20 UTC
SIGNATURE = "c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1zaG93"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, object]) -> str:
    """A JWS compact token (RFC 7519 3.1): header.payload.signature, each base64url without padding."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{SIGNATURE}"


EXCHANGE_ONLINE_CLAIMS: dict[str, object] = {
    "aud": "https://outlook.office365.com", "scp": "EAS.AccessAsUser.All",
    "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "upn": "alice@contoso.com", "unique_name": "alice@contoso.com",
    "exp": 1_700_000_000, "nonce": "n-0S6_WzA2Mj",
}
TOKEN = jwt(EXCHANGE_ONLINE_CLAIMS)


def ntlm_authenticate(domain: str, user: str, workstation: str, *, unicode: bool = True) -> bytes:
    """An MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE built field by field (64-byte header, then the payload)."""
    encoding = "utf-16-le" if unicode else "ascii"
    nt_response = b"\x11" * 24  # stands for the NTOWFv1 response: never shown
    fields = [b"", nt_response, domain.encode(encoding), user.encode(encoding), workstation.encode(encoding), b""]
    offset = 64
    header = b"NTLMSSP\x00" + struct.pack("<I", 3)
    payload = b""
    for value in fields:
        header += struct.pack("<HHI", len(value), len(value), offset + len(payload))
        payload += value
    header += struct.pack("<I", 0x00000001 if unicode else 0x00000002)  # NTLMSSP_NEGOTIATE_UNICODE / _OEM
    assert len(header) == 64
    return header + payload


# ---- Bearer (RFC 6750) with a JWT ---------------------------------------------------------------------------------

def test_bearer_jwt_shows_claims_never_the_token() -> None:
    shown = redact_authorization(f"Bearer {TOKEN}", REQUEST_TIME)
    assert shown == (
        "Bearer JWT (aud='https://outlook.office365.com', scp='EAS.AccessAsUser.All', "
        "tid='72f988bf-86f1-41af-91ab-2d7cd011db47', upn='alice@contoso.com', unique_name='alice@contoso.com', "
        "exp 2023-11-14 22:13:20 UTC (expired 3 min before this request); token hidden)")
    assert SIGNATURE not in shown and TOKEN.split(".")[1] not in shown and "n-0S6_WzA2Mj" not in shown


def test_bearer_expiry_still_valid_and_without_a_request_time() -> None:
    assert "valid for 60 min after this request" in redact_authorization(f"Bearer {TOKEN}", 1_700_000_000 - 3600)
    assert "valid for 2.0 h after this request" in redact_authorization(f"Bearer {TOKEN}", 1_700_000_000 - 7200)
    assert "exp 2023-11-14 22:13:20 UTC;" in redact_authorization(f"Bearer {TOKEN}")


def test_bearer_user_is_upn_then_unique_name() -> None:
    assert credential_user(f"Bearer {TOKEN}") == "alice@contoso.com"
    token = jwt({"unique_name": "CONTOSO\\bob"})
    assert credential_user(f"Bearer {token}") == "CONTOSO\\bob"


def test_opaque_bearer_token_shows_only_its_length() -> None:
    assert redact_authorization("Bearer abcdef0123456789") == "Bearer (opaque token hidden, 16 characters)"
    assert credential_user("Bearer abcdef0123456789") is None


def test_exchange_takes_the_user_from_the_token_when_the_query_has_none() -> None:
    url = "https://outlook.office365.com/Microsoft-Server-ActiveSync?Cmd=FolderSync&DeviceId=D1&DeviceType=iPhone"
    headers = [("Authorization", f"Bearer {TOKEN}"), ("MS-ASProtocolVersion", "16.1")]
    exchange = eas.analyze("POST", url, headers, b"", request_time=REQUEST_TIME)
    assert exchange.user == "alice@contoso.com"
    (note,) = [n for n in exchange.request_headers if n.name == "Authorization"]
    assert "expired 3 min before this request" in note.shown_value and TOKEN not in note.shown_value
    assert "OAuth 2.0 bearer token" in (note.meaning or "")
    # the query's User wins
    with_user = eas.analyze("POST", url + "&User=carol", headers, b"")
    assert with_user.user == "carol"


def test_stored_authorization_keeps_claims_not_the_token() -> None:
    stored = auth.stored_authorization(f"Bearer {TOKEN}")
    assert stored.startswith("Bearer <redacted> {")
    assert SIGNATURE not in stored and TOKEN not in stored and "nonce" not in stored
    again = auth.parse_authorization(stored, REQUEST_TIME)
    assert again.user == "alice@contoso.com"
    assert "expired 3 min before this request" in again.shown and "token not stored" in again.shown
    assert auth.stored_authorization("Basic " + base64.b64encode(b"alice:pw").decode()) == "Basic alice:<redacted>"
    assert auth.stored_authorization("Negotiate YIIBAA==") == "Negotiate <redacted>"


# ---- NTLM (MS-NLMP) and Negotiate ------------------------------------------------------------------------------------

def test_ntlm_type3_names_the_user() -> None:
    message = ntlm_authenticate("CONTOSO", "alice", "PHONE1")
    value = "NTLM " + base64.b64encode(message).decode()
    assert credential_user(value) == "CONTOSO\\alice"
    shown = redact_authorization(value)
    assert shown == "NTLM: AUTHENTICATE (type 3), user 'CONTOSO\\alice', workstation 'PHONE1'; responses hidden"
    assert base64.b64encode(b"\x11" * 24).decode() not in shown


def test_ntlm_oem_strings_and_negotiate_wrapping() -> None:
    message = ntlm_authenticate("", "bob", "", unicode=False)
    assert credential_user("NTLM " + base64.b64encode(message).decode()) == "bob"
    # SPNEGO negTokenResp (RFC 4178) around the NTLM message: found inside
    wrapped = b"\xa1\x81\x80\x30\x7e\xa2\x7c\x04\x7a" + ntlm_authenticate("D", "carol", "W")
    assert credential_user("Negotiate " + base64.b64encode(wrapped).decode()) == "D\\carol"
    assert "in SPNEGO" in redact_authorization("Negotiate " + base64.b64encode(wrapped).decode())


@pytest.mark.parametrize("cut", [10, 40, 63, 70, 80])
def test_damaged_ntlm_is_described_not_decoded(cut: int) -> None:
    message = ntlm_authenticate("CONTOSO", "alice", "PHONE1")[:cut]
    value = "NTLM " + base64.b64encode(message).decode()
    assert credential_user(value) is None
    assert redact_authorization(value).startswith("NTLM: ")


def test_ntlm_field_pointing_outside_is_refused() -> None:
    message = bytearray(ntlm_authenticate("CONTOSO", "alice", "PHONE1"))
    struct.pack_into("<HHI", message, 36, 10, 10, 0xFFFFFF00)  # UserName fields: offset far past the end
    assert credential_user("NTLM " + base64.b64encode(bytes(message)).decode()) is None


def test_negotiate_kerberos_names_no_user() -> None:
    kerberos = base64.b64encode(b"\x60\x82\x02\x00\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02").decode()
    shown = redact_authorization(f"Negotiate {kerberos}")
    assert shown.startswith("Negotiate: Kerberos/SPNEGO token (15 bytes, hidden")
    assert credential_user(f"Negotiate {kerberos}") is None


# ---- Each scheme for what it is; WWW-Authenticate ----------------------------------------------------------------

@pytest.mark.parametrize(("value", "words"), [
    ("Basic " + base64.b64encode(b"u:p").decode(), "RFC 7617"),
    ("Bearer x.y", "RFC 6750"),
    ("NTLM TlRMTVNTUAABAAAA", "MS-NLMP"),
    ("Negotiate YIIB", "SPNEGO"),
])
def test_each_scheme_is_explained_for_what_it_is(value: str, words: str) -> None:
    (note,) = explain_headers([("Authorization", value)], response=False)
    assert words in (note.meaning or "")
    assert "EAS uses Basic" not in (note.meaning or "")


def test_hybrid_bearer_challenge_is_explained() -> None:
    challenge = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                 'trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1", '
                 'authorization_uri="https://login.windows.net/common/oauth2/authorize", error="invalid_token"')
    (note,) = explain_headers([("WWW-Authenticate", challenge)], response=True)
    meaning = note.meaning or ""
    assert "OAuth 2.0 access tokens" in meaning
    assert "authorization server https://login.windows.net/common/oauth2/authorize" in meaning
    assert "00000001-0000-0000-c000-000000000000@*" in meaning and "any tenant" in meaning
    assert "refused: invalid_token" in meaning


def test_basic_and_ntlm_challenges_are_explained() -> None:
    notes = explain_headers([("WWW-Authenticate", 'Basic realm="mail.contoso.com"'), ("WWW-Authenticate", "NTLM"),
                             ("WWW-Authenticate", "Negotiate")], response=True)
    assert [n.meaning for n in notes] == [
        auth.scheme_meaning("basic") + "; realm 'mail.contoso.com'",
        auth.scheme_meaning("ntlm") + "; offered",
        auth.scheme_meaning("negotiate") + "; offered",
    ]


def test_scheme_less_authorization_is_hidden() -> None:
    # issue 17 item 4: "Authorization: TOKEN" and "Basic<TAB>..." printed verbatim before
    assert redact_authorization("sk-live-0123456789") == "(no scheme; value hidden, 18 characters)"
    assert redact_authorization("Basic\t" + base64.b64encode(b"alice:pw").decode()) == (
        "Basic user='alice' (password hidden)")


# ---- Secrets in other places --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "secret"), [
    ("Authorization", True), ("Cookie", True), ("Set-Cookie", True), ("X-Auth-Token", True),
    ("X-API-Key", True), ("X-Access-Token", True), ("X-Amz-Security-Token", True), ("X-CSRF-Token", True),
    ("X-MS-PolicyKey", False), ("MS-ASProtocolVersion", False), ("Content-Type", False), ("User-Agent", False),
    ("X-MS-ASThrottle", False), ("Host", False),
])
def test_secret_headers(name: str, secret: bool) -> None:
    assert is_secret_header(name) is secret


def test_x_auth_token_is_shown_hidden() -> None:
    (note,) = explain_headers([("X-Auth-Token", "s3cr3t-value")], response=False)
    assert note.shown_value == "(hidden, 12 characters)" and "s3cr3t" not in note.shown_value
    assert shown_header_value("X-MS-PolicyKey", "3942919513") == "3942919513"


@pytest.mark.parametrize(("name", "secret"), [
    ("access_token", True), ("token", True), ("id_token", True), ("refresh_token", True), ("password", True),
    ("Cmd", False), ("User", False), ("DeviceId", False), ("CollectionId", False), ("ItemId", False),
])
def test_secret_parameters(name: str, secret: bool) -> None:
    assert is_secret_parameter(name) is secret


def test_query_display_and_url_hide_tokens() -> None:
    query = "Cmd=Sync&User=alice&DeviceId=D1&DeviceType=SP&access_token=eyJhbGciOi.SECRET"
    assert redact_query(query) == "Cmd=Sync&User=alice&DeviceId=D1&DeviceType=SP&access_token=%28hidden%29"
    assert redact_url("https://h/Microsoft-Server-ActiveSync?" + query).endswith("access_token=%28hidden%29")
    assert "SECRET" not in str(decode_query(query).fields())
    exchange = eas.analyze("POST", "https://h/Microsoft-Server-ActiveSync?" + query, [], b"")
    assert "SECRET" not in exchange.url and "SECRET" not in str(exchange.query_fields)
    assert ("access_token", "(hidden)") in exchange.query_fields


def test_secret_elements() -> None:
    assert is_secret_element("Settings", "Password") and is_secret_element("Settings:", "Password")
    assert is_secret_element("ItemOperations", "Password") and is_secret_element("Search", "Password")
    assert not is_secret_element("Settings", "DevicePassword")  # the container; its Password child is the secret
    assert not is_secret_element("Provision", "DevicePasswordEnabled")


SETTINGS_DEVICE_PASSWORD = ('<Settings xmlns="Settings"><DevicePassword><Set><Password>Pa55w0rd!</Password></Set>'
                            "</DevicePassword></Settings>")


def test_settings_device_password_is_hidden_in_annotation() -> None:
    # MS-ASCMD 2.2.3.46 DevicePassword: the device's recovery password goes to the server in clear text.
    root = annotate(etree.fromstring(SETTINGS_DEVICE_PASSWORD), AnnotationContext())
    assert "Pa55w0rd!" not in eas.to_xml(root)
    assert root.findtext(".//{Settings}Password") == "(hidden) 9 characters"
    annotated = decode_annotated(eas.encode(SETTINGS_DEVICE_PASSWORD), AnnotationContext())
    assert "Pa55w0rd!" not in eas.to_xml(annotated)
    exchange = eas.analyze("POST", "/Microsoft-Server-ActiveSync?Cmd=Settings&User=u&DeviceId=d&DeviceType=t",
                           [("Content-Type", "application/vnd.ms-sync.wbxml")], eas.encode(SETTINGS_DEVICE_PASSWORD))
    assert exchange.request_body is not None and "Pa55w0rd!" not in (exchange.request_body.xml or "")


def test_stored_wbxml_body_loses_the_password_not_its_shape() -> None:
    from eas.sensitive import redact_wbxml
    data = eas.encode(SETTINGS_DEVICE_PASSWORD)
    redacted = redact_wbxml(data)
    assert redacted is not None and b"Pa55w0rd!" not in redacted
    assert eas.decode(redacted).findtext(".//{Settings}Password") == "(hidden) 9 characters"
    assert redact_wbxml(eas.encode('<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>')) is None
    assert redact_wbxml(b"\x03\x01") is None  # cut short: nothing to hide


# ---- eas.auth, case by case: every branch's exact text ------------------------------------------------------------

@pytest.mark.parametrize(("scheme", "meaning"), [
    (" DIGEST ", "HTTP Digest (RFC 7616): a hash of the password with the server's nonce"),
    (" Foo ", "the Foo authentication scheme"),
    ("  ", "the (empty) authentication scheme"),
])
def test_scheme_meaning_of_any_name(scheme: str, meaning: str) -> None:
    assert auth.scheme_meaning(scheme) == meaning


@pytest.mark.parametrize(("value", "expected"), [
    ("", auth.Credentials("", "(empty)")),
    ("  Basic  ", auth.Credentials("Basic", "Basic")),  # a known scheme alone names no secret
    ("negotiate", auth.Credentials("negotiate", "negotiate")),
    ("Foo", auth.Credentials("", "(no scheme; value hidden, 3 characters)")),
    ("Digest username=x", auth.Credentials("Digest", "Digest (credentials hidden, 10 characters)")),
    ("Bearer\tabc def", auth.Credentials("Bearer", "Bearer (opaque token hidden, 7 characters)")),
    ("Basic <redacted>", auth.Credentials("Basic", "Basic (credentials not stored)")),
    ('NTLM <redacted> {"user":"bob"}', auth.Credentials("NTLM", "NTLM user='bob' (credentials not stored)", "bob")),
    ('NTLM <redacted> {"user":""}', auth.Credentials("NTLM", "NTLM (credentials not stored)")),
    ('NTLM <redacted> {"user":5}', auth.Credentials("NTLM", "NTLM (credentials not stored)")),
    ("NTLM <redacted> [1]", auth.Credentials("NTLM", "NTLM (credentials not stored)")),
    ("Basic !!!", auth.Credentials("Basic", "Basic (credentials not valid base64; hidden)")),
    ("Basic YWxpY2U=", auth.Credentials("Basic", "Basic (no ':' between user and password; hidden)")),  # "alice"
    ("Basic OnB3", auth.Credentials("Basic", "Basic user='' (password hidden)")),  # ":pw": no user
    ("Basic YTpiOmM=", auth.Credentials("Basic", "Basic user='a' (password hidden)", "a")),  # "a:b:c"
    ("Basic /2E6cHc=", auth.Credentials("Basic", "Basic user='\ufffda' (password hidden)", "\ufffda")),  # ff "a:pw"
    ("Basic :<redacted>", auth.Credentials("Basic", "Basic user='' (password not stored)")),
    # RFC 7617 2: a user-id holds no ":", so this is no stored form; and an unencoded "user:password" is no base64
    ("Basic a:b:<redacted>", auth.Credentials("Basic", "Basic (credentials not valid base64; hidden)")),
    ("Basic alice:pw", auth.Credentials("Basic", "Basic (credentials not valid base64; hidden)")),
    ("Bearer\ta\tb", auth.Credentials("Bearer", "Bearer (opaque token hidden, 3 characters)")),  # the first tab
])
def test_parse_authorization_case_by_case(value: str, expected: auth.Credentials) -> None:
    # the tab after "Bearer" separates the scheme: the token is "abc def", 7 characters
    assert auth.parse_authorization(value) == expected


def test_credentials_over_64_kib_are_not_decoded() -> None:
    # 65,536 characters are decoded (here: 49,152 zero bytes, no ':'); one more is only counted
    assert auth.describe_authorization("Basic " + "A" * 65536) == "Basic (no ':' between user and password; hidden)"
    assert auth.parse_authorization("Basic " + "A" * 65537) == auth.Credentials(
        "Basic", "Basic (credentials hidden, 65537 characters)")


@pytest.mark.parametrize("token", [
    "a.b",  # two parts
    f"{b64url(b'{}')}.{b64url(b'{}')}.x.y",  # four parts
    f"h.{b64url(b'not json')}.s",
    f"h.{b64url(b'[1, 2]')}.s",  # JSON, not an object
    "h.e+J9.s",  # '+' is not in the base64url alphabet
    "h.e30===.s",  # three padding characters
    f"h.{b64url(b'[' * 10_000)}.s",  # nested past the JSON reader's recursion limit
], ids=["two parts", "four parts", "not JSON", "a JSON list", "not base64url", "three padding", "nested too deep"])
def test_a_token_that_is_no_jws_jwt_is_opaque(token: str) -> None:
    assert auth.describe_authorization(f"Bearer {token}") == f"Bearer (opaque token hidden, {len(token)} characters)"


def test_a_padded_base64url_payload_is_read() -> None:
    # RFC 7515 drops the padding, but a padded part is still base64url: 14 bytes take one "=", 13 bytes two
    one = base64.urlsafe_b64encode(b'{"upn":"ab@c"}').decode()
    two = base64.urlsafe_b64encode(b'{"upn":"a@b"}').decode()
    assert (one[-2:], two[-3:]) == ("0=", "Q==")
    assert auth.parse_authorization(f"Bearer h.{one}.s").user == "ab@c"
    assert auth.parse_authorization(f"Bearer h.{two}.s").user == "a@b"


def test_jwt_claims_shown_in_order_with_their_shapes() -> None:
    claims: dict[str, object] = {
        "exp": True,  # a boolean is no time: shown as text
        "nbf": 0,
        "iss": "https://sts.windows.net/t/",
        "preferred_username": "p@x",
        "unique_name": "",
        "roles": ["Mail.Read", "EAS.AccessAsUser.All"],
        "scp": "a\x01b",  # a control character is shown escaped
        "aud": {"nested": "object"},  # an object is left out
        "tid": "t" * 201,  # cut at 200 characters
    }
    credentials = auth.parse_authorization(f"Bearer {jwt(claims)}")
    assert credentials.claims == (
        ("scp", "a\\x01b"),
        ("roles", "Mail.Read EAS.AccessAsUser.All"),
        ("tid", "t" * 200 + "..."),
        ("unique_name", ""),
        ("preferred_username", "p@x"),
        ("iss", "https://sts.windows.net/t/"),
        ("nbf", "1970-01-01 00:00:00 UTC"),
        ("exp", "True"),
    )
    assert credentials.expires is None
    assert credentials.user == "p@x"  # upn absent, unique_name empty: preferred_username
    assert credentials.shown == (
        "Bearer JWT (scp='a\\\\x01b', roles='Mail.Read EAS.AccessAsUser.All', tid='" + "t" * 200 + "...', "
        "unique_name='', preferred_username='p@x', iss='https://sts.windows.net/t/', nbf 1970-01-01 00:00:00 UTC, "
        "exp True; token hidden)")
    exactly_200 = auth.parse_authorization(f"Bearer {jwt({'tid': 't' * 200})}")
    assert exactly_200.claims == (("tid", "t" * 200),)


def test_jwt_user_claims_in_their_order_and_an_unreadable_token() -> None:
    # upn, unique_name, preferred_username, email: the first that is a non-empty string
    assert auth.parse_authorization(f"Bearer {jwt({'upn': 5, 'email': 'e@x'})}").user == "e@x"
    only_email = auth.parse_authorization(f"Bearer {jwt({'email': 'e@x', 'nonce': 'n'})}")
    assert only_email.shown == "Bearer JWT (no readable claims; token hidden)"
    assert only_email.claims == () and only_email.expires is None
    no_user = auth.parse_authorization(f"Bearer {jwt({'upn': ''})}")
    assert no_user.user is None and no_user.shown == "Bearer JWT (upn=''; token hidden)"


def test_jwt_expiry_times_and_spans() -> None:
    exp = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    shown = "2023-11-14 22:13:20 UTC"

    def expiry(request_time: float) -> str:
        return auth.parse_authorization(f"Bearer {jwt({'exp': exp})}", request_time).shown

    assert expiry(exp) == f"Bearer JWT (exp {shown} (expired 0 s before this request); token hidden)"
    assert expiry(exp - 89) == f"Bearer JWT (exp {shown} (valid for 89 s after this request); token hidden)"
    assert expiry(exp + 90) == f"Bearer JWT (exp {shown} (expired 2 min before this request); token hidden)"
    assert expiry(exp - 5399) == f"Bearer JWT (exp {shown} (valid for 90 min after this request); token hidden)"
    assert expiry(exp - 5400) == f"Bearer JWT (exp {shown} (valid for 1.5 h after this request); token hidden)"
    assert expiry(exp + 172_799) == f"Bearer JWT (exp {shown} (expired 48.0 h before this request); token hidden)"
    assert expiry(exp - 99_908) == f"Bearer JWT (exp {shown} (valid for 27.8 h after this request); token hidden)"
    assert expiry(exp - 1) == f"Bearer JWT (exp {shown} (valid for 1 s after this request); token hidden)"
    assert expiry(exp - 172_800) == f"Bearer JWT (exp {shown} (valid for 2.0 days after this request); token hidden)"
    credentials = auth.parse_authorization(f"Bearer {jwt({'exp': 1.5})}")
    assert credentials.expires == 1.5 and credentials.claims == (("exp", "1970-01-01 00:00:01 UTC"),)
    assert auth.expiry_text(1e20, None) == "1e+20 (out of range)"
    assert auth.expiry_text(1e20, 0.0) == "1e+20 (out of range) (valid for 1157407407407407.5 days after this request)"


def test_stored_authorization_case_by_case() -> None:
    assert auth.stored_authorization("") == "<redacted>"
    assert auth.stored_authorization("sk-live-0123456789") == "<redacted>"  # no scheme: the whole value is secret
    assert auth.stored_authorization("Basic OnB3") == "Basic <redacted>"  # ":pw" names no user
    assert auth.stored_authorization("Bearer abcdef") == "Bearer <redacted>"
    token = jwt({"aud": {"x": 1}, "upn": "é@b", "exp": 5, "nonce": "n", "email": "e@x"})
    # the shown claims, then the user claims, in that order, each once; objects and nonces dropped; not ASCII-escaped
    stored = auth.stored_authorization(f"Bearer {token}")
    assert stored == 'Bearer <redacted> {"upn":"é@b","exp":5,"email":"e@x"}'
    assert auth.stored_authorization(stored) == stored  # a stored value stores as itself
    ntlm = "NTLM " + base64.b64encode(ntlm_authenticate("CONTOSO", "alice", "PHONE1")).decode()
    assert auth.stored_authorization(ntlm) == 'NTLM <redacted> {"user":"CONTOSO\\\\alice"}'
    again = auth.parse_authorization(auth.stored_authorization(ntlm))
    assert (again.user, again.shown) == ("CONTOSO\\alice", "NTLM user='CONTOSO\\\\alice' (credentials not stored)")
    bearer_stored = auth.parse_authorization('Bearer <redacted> {"upn":"a@b","exp":5}', 65.0)
    assert bearer_stored == auth.Credentials(
        "Bearer", "Bearer JWT (upn='a@b', exp 1970-01-01 00:00:05 UTC (expired 60 s before this request); "
        "token not stored)", "a@b", (("upn", "a@b"), ("exp", "1970-01-01 00:00:05 UTC (expired 60 s before this "
                                                             "request)")), 5.0)


def ntlm_message(kind: int, size: int = 12) -> bytes:
    """An NTLM message of `kind` (MS-NLMP 2.2.1), zero-filled to `size` bytes after signature and type."""
    return (b"NTLMSSP\x00" + struct.pack("<I", kind)).ljust(size, b"\x00")


@pytest.mark.parametrize(("value", "shown", "user"), [
    ("NTLM !!", "NTLM (token not valid base64; hidden, 2 characters)", None),
    ("NTLM " + base64.b64encode(b"\x01\x02\x03").decode(), "NTLM (not an NTLM message; hidden, 3 bytes)", None),
    ("NTLM " + base64.b64encode(b"NTLMSSP\x00\x01").decode(), "NTLM: NTLM message cut short", None),
    ("NTLM " + base64.b64encode(ntlm_message(1)).decode(), "NTLM: NEGOTIATE (type 1)", None),
    ("Negotiate " + base64.b64encode(ntlm_message(1)).decode(), "Negotiate: NTLM NEGOTIATE (type 1)", None),
    ("NTLM " + base64.b64encode(b"\x30" + ntlm_message(2)).decode(), "NTLM: CHALLENGE (type 2) in SPNEGO", None),
    ("NTLM " + base64.b64encode(ntlm_message(7)).decode(), "NTLM: unknown NTLM message type 7", None),
    ("NTLM " + base64.b64encode(ntlm_message(3, 63)).decode(), "NTLM: AUTHENTICATE (type 3), header cut short", None),
    # a type 3 of exactly 64 bytes whose fields are all empty: an anonymous AUTHENTICATE (MS-NLMP 3.2.5.1.2)
    ("NTLM " + base64.b64encode(ntlm_message(3, 64)).decode(),
     "NTLM: AUTHENTICATE (type 3), anonymous; responses hidden", None),
    ("NTLM " + base64.b64encode(ntlm_authenticate("", "bob", "")).decode(),
     "NTLM: AUTHENTICATE (type 3), user 'bob'; responses hidden", "bob"),
    ("NTLM " + base64.b64encode(ntlm_authenticate("D", "", "W")).decode(),
     "NTLM: AUTHENTICATE (type 3), anonymous, workstation 'W'; responses hidden", None),
])
def test_ntlm_messages_case_by_case(value: str, shown: str, user: str | None) -> None:
    credentials = auth.parse_authorization(value)
    assert (credentials.shown, credentials.user) == (shown, user)


def test_ntlm_strings_oem_and_unicode_with_control_characters_escaped() -> None:
    # OEM strings are code page 437 (0x82 is "é" there); the user name starts after the 24-byte NT response
    message = bytearray(ntlm_authenticate("", "bob", "", unicode=False))
    message[88:91] = b"b\x82\x07"
    assert auth.parse_authorization("NTLM " + base64.b64encode(bytes(message)).decode()).user == "b\u00e9\\x07"
    unicode = ntlm_authenticate("D\x07", "al\u00e9", "")
    assert auth.parse_authorization("NTLM " + base64.b64encode(unicode).decode()).user == "D\\x07\\al\u00e9"


def test_ntlm_domain_pointing_outside_is_refused() -> None:
    message = bytearray(ntlm_authenticate("CONTOSO", "alice", "PHONE1"))
    struct.pack_into("<HHI", message, 28, 7, 7, len(message) - 6)  # DomainName: 7 bytes from 6 before the end
    credentials = auth.parse_authorization("NTLM " + base64.b64encode(bytes(message)).decode())
    assert (credentials.shown, credentials.user) == (
        "NTLM: AUTHENTICATE (type 3), a field points outside the message", None)
    struct.pack_into("<HHI", message, 28, 6, 6, len(message) - 6)  # the last 6 bytes: inside, just
    assert auth.parse_authorization("NTLM " + base64.b64encode(bytes(message)).decode()).user is not None


@pytest.mark.parametrize(("challenge", "meaning"), [
    ('Bearer realm = "contoso", error=invalid_token, error_description="the token \\"expired\\"", '
     "trusted_issuers=other@tenant, Realm=second",
     "the server takes OAuth 2.0 access tokens (modern authentication): the client gets one from the authorization "
     "server and sends Authorization: Bearer <token>; tokens accepted from issuers (principal@tenant) other@tenant; "
     "realm 'contoso'; the token sent was refused: invalid_token (the token \"expired\")"),
    ("bearer error=insufficient_scope",
     "the server takes OAuth 2.0 access tokens (modern authentication): the client gets one from the authorization "
     "server and sends Authorization: Bearer <token>; the token sent was refused: insufficient_scope"),
    ("Basic", auth.scheme_meaning("basic")),
    ("Basic realm=mail", auth.scheme_meaning("basic") + "; realm 'mail'"),
    ("NTLM " + base64.b64encode(ntlm_message(2, 48)).decode(),
     "NTLM continues: the server's NTLM CHALLENGE (type 2); the client answers with type 3"),
    ("Negotiate oRswGaADCgEA", "Negotiate continues: the server's token (9 bytes)"),
    ("Negotiate !!", "Negotiate continues: the server's token (0 bytes)"),
    ("  Negotiate  ", auth.scheme_meaning("negotiate") + "; offered"),
    ("Digest realm=x", "HTTP Digest (RFC 7616): a hash of the password with the server's nonce; offered"),
    ("Foo", "the Foo authentication scheme; offered"),
])
def test_each_challenge_is_explained(challenge: str, meaning: str) -> None:
    assert auth.explain_authenticate(challenge) == meaning


def test_a_stored_bearer_token_still_names_a_user_known_by_email_only() -> None:
    # email is a user claim (the last one looked at) but not a shown one: the stored form must keep it as a claim
    stored = auth.stored_authorization(f"Bearer {jwt({'email': 'e@x', 'nonce': 'n'})}")
    assert stored == 'Bearer <redacted> {"email":"e@x"}'
    assert auth.parse_authorization(stored) == auth.Credentials(
        "Bearer", "Bearer JWT (no readable claims; token not stored)", "e@x")


def test_a_bearer_token_after_a_tab_is_stored_with_its_claims() -> None:
    # "Bearer<TAB>token" reads as "Bearer token" (the tab separates the scheme): its stored form is the same too
    assert auth.stored_authorization(f"Bearer\t{TOKEN}") == auth.stored_authorization(f"Bearer {TOKEN}")
    assert auth.parse_authorization(auth.stored_authorization(f"Bearer\t{TOKEN}")).user == "alice@contoso.com"


def test_times_are_told_in_utc_whatever_the_machine_s_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "IST-5:30")  # POSIX TZ: 5 h 30 min east of UTC
    time.tzset()
    try:
        assert auth.expiry_text(1_700_000_000, None) == "2023-11-14 22:13:20 UTC"
        assert auth.parse_authorization(f"Bearer {jwt({'nbf': 0})}").claims == (("nbf", "1970-01-01 00:00:00 UTC"),)
    finally:
        monkeypatch.undo()
        time.tzset()


def ntlm_value(message: bytes | bytearray, scheme: str = "NTLM") -> str:
    return f"{scheme} " + base64.b64encode(bytes(message)).decode()


def test_ntlm_field_lengths_and_offsets_are_unsigned() -> None:
    # MS-NLMP 2.2.1.3: Len (2 bytes), MaxLen (2), BufferOffset (4), all unsigned little-endian
    message = bytearray(ntlm_authenticate("CONTOSO", "alice", "PHONE1"))
    struct.pack_into("<HHI", message, 36, 0xFFFF, 0xFFFF, 64)  # UserName: 65,535 bytes from 64
    assert auth.parse_authorization(ntlm_value(message)) == auth.Credentials(
        "NTLM", "NTLM: AUTHENTICATE (type 3), a field points outside the message")
    kind = ntlm_message(0xFFFFFFFF)
    assert auth.describe_authorization(ntlm_value(kind)) == "NTLM: unknown NTLM message type 4294967295"


def test_ntlm_empty_and_one_byte_fields() -> None:
    # an empty field is empty wherever its offset points; a one-byte OEM field is read
    message = bytearray(ntlm_authenticate("CONTOSO", "alice", "PHONE1"))
    struct.pack_into("<HHI", message, 28, 0, 0, 0xFFFFFFFF)  # DomainName: empty, offset far past the end
    assert auth.parse_authorization(ntlm_value(message)) == auth.Credentials(
        "NTLM", "NTLM: AUTHENTICATE (type 3), user 'alice', workstation 'PHONE1'; responses hidden", "alice")
    assert auth.parse_authorization(ntlm_value(ntlm_authenticate("", "b", "", unicode=False))).user == "b"


def test_ntlm_unicode_string_that_is_not_utf16_is_replaced_not_raised() -> None:
    # a lone high surrogate (00 d8) before "b": U+FFFD stands for it
    message = bytearray(ntlm_authenticate("", "ab", ""))
    message[88:90] = b"\x00\xd8"
    assert auth.parse_authorization(ntlm_value(message)).user == "\ufffdb"


@pytest.mark.parametrize(("value", "expected"), [
    ("NTLM !!", auth.Credentials("NTLM", "NTLM (token not valid base64; hidden, 2 characters)")),
    (ntlm_value(b"\x01\x02\x03"), auth.Credentials("NTLM", "NTLM (not an NTLM message; hidden, 3 bytes)")),
    # two NTLM messages in one token: the first is read
    (ntlm_value(ntlm_message(1) + ntlm_message(2)), auth.Credentials("NTLM", "NTLM: NEGOTIATE (type 1)")),
    (ntlm_value(b"\x60\x82\x02\x00\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", "Negotiate"),
     auth.Credentials("Negotiate", "Negotiate: Kerberos/SPNEGO token (15 bytes, hidden; names no user without the "
                                   "service key)")),
])
def test_ntlm_and_negotiate_credentials_whole(value: str, expected: auth.Credentials) -> None:
    assert auth.parse_authorization(value) == expected


_BEARER_CHALLENGE = ("the server takes OAuth 2.0 access tokens (modern authentication): the client gets one from the "
                     "authorization server and sends Authorization: Bearer <token>")


@pytest.mark.parametrize(("challenge", "meaning"), [
    ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
     'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
     'authorization_uri="https://login.windows.net/common/oauth2/authorize", error="invalid_token"',
     f"{_BEARER_CHALLENGE}; authorization server https://login.windows.net/common/oauth2/authorize; tokens accepted "
     "from issuers (principal@tenant) 00000001-0000-0000-c000-000000000000@* (00000001-0000-0000-c000-000000000000 "
     "is Microsoft's token service, Azure AD; @* any tenant); the token sent was refused: invalid_token"),
    # not base64 as a whole ("!"): no bytes are read from it
    ("Negotiate oRsw!GaADCgEA", "Negotiate continues: the server's token (0 bytes)"),
    # two NTLM messages: the first is the server's
    (ntlm_value(ntlm_message(2, 48) + ntlm_message(1)),
     "NTLM continues: the server's NTLM CHALLENGE (type 2); the client answers with type 3"),
])
def test_a_challenge_is_explained_in_full(challenge: str, meaning: str) -> None:
    # called directly: explain_headers remembers the notes of the headers it has seen
    assert auth.explain_authenticate(challenge) == meaning
