"""The ActiveSync contentview with secrets (issue 13): a password shown as its placeholder is written back as it
was, never as the placeholder; a bearer token's expiry is told against the flow's request time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mitmproxy import contentviews, exceptions, http
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow, tutils

import eas
from addon.contentview import EditRejected
from addon.edit_guard import EditGuardAddon
from eas.sensitive import redact_wbxml
from tests.addon.conftest import ADDON_SCRIPT, SYNC_REQUEST, SYNC_RESPONSE, eas_headers, eas_path
from tests.eas.test_auth import jwt
from tests.eas.test_hidden_secrets import DEVICE_PASSWORD, PASSWORD, passwords

# 2021-01-01 00:00:00 UTC: years before any day these tests run, so "3 min" can only come from the flow's time.
REQUEST_TIME = 1_609_459_200.0


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    """The entry script loaded, as `-s activesync_addon.py` does: the view is in mitmproxy's registry."""
    with taddons.context() as tctx:
        tctx.script(str(ADDON_SCRIPT))
        yield


def flow(cmd: str, body: bytes, headers: dict[str, str] | None = None) -> http.HTTPFlow:
    request = tutils.treq(
        method=b"POST", host="mail.example.com", port=443, scheme=b"https", path=eas_path(cmd).encode(),
        headers=http.Headers([(k.encode(), v.encode()) for k, v in (headers or eas_headers()).items()]),
        content=body, timestamp_start=REQUEST_TIME, timestamp_end=REQUEST_TIME + 0.1,
    )
    f = tflow.tflow(req=request)
    f.response = tutils.tresp(
        status_code=200, headers=http.Headers([(b"Content-Type", b"application/vnd.ms-sync.wbxml")]),
        content=SYNC_RESPONSE, timestamp_start=REQUEST_TIME + 0.2, timestamp_end=REQUEST_TIME + 0.3,
    )
    return f


def shown(f: http.HTTPFlow) -> str:
    result = contentviews.prettify_message(f.request, f, "ActiveSync")
    assert result.view_name == "ActiveSync"
    return result.text


def test_the_password_is_shown_as_its_placeholder(registered: None) -> None:
    text = shown(flow("Settings", DEVICE_PASSWORD))
    assert "<Password>(hidden) 9 characters</Password>" in text
    assert PASSWORD not in text


def test_a_no_op_edit_gives_the_original_bytes(registered: None) -> None:
    f = flow("Settings", DEVICE_PASSWORD)
    body = contentviews.reencode_message(shown(f), f.request, f, "ActiveSync")
    assert body == DEVICE_PASSWORD


def test_editing_another_element_keeps_the_original_password(registered: None) -> None:
    f = flow("Settings", DEVICE_PASSWORD)
    edited = shown(f).replace("<Model>X</Model>", "<Model>Pixel 9</Model>")
    body = contentviews.reencode_message(edited, f.request, f, "ActiveSync")
    assert passwords(body) == [PASSWORD]
    assert eas.decode(body).findtext(".//{Settings}Model") == "Pixel 9"
    assert b"(hidden)" not in body


def test_a_typed_password_is_written(registered: None) -> None:
    f = flow("Settings", DEVICE_PASSWORD)
    edited = shown(f).replace("(hidden) 9 characters", "n3w-pass")
    body = contentviews.reencode_message(edited, f.request, f, "ActiveSync")
    assert passwords(body) == ["n3w-pass"]


def test_a_password_the_capture_hid_is_refused_in_one_line(registered: None) -> None:
    stored = redact_wbxml(DEVICE_PASSWORD)
    assert stored is not None
    f = flow("Settings", stored)  # a flow read back from a capture made without keep_credentials
    with pytest.raises(EditRejected) as caught:
        contentviews.reencode_message(shown(f), f.request, f, "ActiveSync")
    message = str(caught.value)
    assert isinstance(caught.value, exceptions.CommandError)  # the console logs it as one line
    assert "\n" not in message and message.startswith("ActiveSync edit not applied, body unchanged:")
    assert "Password" in message and "the capture hid the original value" in message


def test_mitmwebs_text_edit_keeps_the_original_password() -> None:
    """mitmweb's Edit stores the pasted XML as text; the edit guard re-encodes it through the same function."""
    view = View()
    with taddons.context(view) as tctx:
        tctx.script(str(ADDON_SCRIPT))
        guard = tctx.master.addons.get("editguardaddon")
        assert isinstance(guard, EditGuardAddon)
        guard.running()
        f = flow("Settings", DEVICE_PASSWORD)
        view.add([f])
        edited = shown(f).replace("<Model>X</Model>", "<Model>Y</Model>")
        f.backup()
        f.request.text = edited  # what mitmweb's PUT /flows/<id> does with {"request": {"content": ...}}
        view.update([f])
        body = f.request.raw_content or b""
        assert passwords(body) == [PASSWORD]
        assert eas.decode(body).findtext(".//{Settings}Model") == "Y"


def bearer_headers(expires: float) -> dict[str, str]:
    headers = eas_headers()
    token = jwt({"aud": "https://outlook.office365.com", "upn": "alice@example.com", "exp": int(expires)})
    headers["Authorization"] = f"Bearer {token}"
    return headers


def test_a_bearer_tokens_expiry_is_told_against_the_request_time(registered: None) -> None:
    f = flow("Sync", SYNC_REQUEST, bearer_headers(REQUEST_TIME - 180))
    text = shown(f)
    assert "expired 3 min before this request" in text
    response = contentviews.prettify_message(f.response, f, "ActiveSync").text  # type: ignore[arg-type]
    assert "<Sync" in response
    assert f.request.headers["Authorization"].split()[1] not in text  # the token itself is never shown here


def test_a_token_valid_at_the_request_is_told_so(registered: None) -> None:
    f = flow("Sync", SYNC_REQUEST, bearer_headers(REQUEST_TIME + 45 * 60))
    assert "valid for 45 min after this request" in shown(f)
