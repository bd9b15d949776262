"""eas.auth, eas.sensitive and their use in headers, query and annotation (issue 13, Authentication as it is today;
Secrets in other places)."""

from __future__ import annotations

import base64
import json
import struct

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
