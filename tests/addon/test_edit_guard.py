"""The edit guard on mitmproxy's real View: what mitmweb's Edit does to a WBXML body, and what the guard makes of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from mitmproxy import contentviews, http
from mitmproxy.addons.view import View
from mitmproxy.test import taddons

import eas
from addon.edit_guard import EditGuardAddon
from tests.addon.conftest import ADDON_SCRIPT, mb_u_int32, page, tag, text, wbxml
from tests.addon.test_addon import eas_flow

# Code page 21 ComposeMail (MS-ASWBXML 2.1.2.1.22): SendMail 0x05, SaveInSentItems 0x08, Mime 0x10, ClientId 0x11.
# The MIME is Latin-1 and longer than 127 bytes, so the body holds bytes that are not UTF-8 (0xE9, and the
# mb_u_int32 length 0x81 0x..): what a browser's text editor cannot give back.
MIME = b"Subject: caf\xe9\r\n\r\n" + b"x" * 200
SENDMAIL_REQUEST = wbxml(
    page(21), tag(0x05, tag(0x11, text("c1")), tag(0x08), tag(0x10, b"\xc3" + mb_u_int32(len(MIME)) + MIME))
)
CONTENT_LENGTH = str(len(SENDMAIL_REQUEST))


@pytest.fixture
def view() -> Iterator[tuple[View, taddons.context]]:
    """mitmproxy's View with the entry script loaded, as in the console or mitmweb; one SendMail flow in it."""
    view = View()
    with taddons.context(view) as tctx:
        tctx.script(str(ADDON_SCRIPT))
        guard = tctx.master.addons.get("editguardaddon")  # the entry script's
        assert isinstance(guard, EditGuardAddon)
        guard.running()
        yield view, tctx


def sendmail_flow() -> http.HTTPFlow:
    f = eas_flow("SendMail", SENDMAIL_REQUEST, None)
    f.request.headers["Content-Length"] = CONTENT_LENGTH
    return f


def web_edit(view: View, f: http.HTTPFlow, text: str) -> None:
    """What mitmweb's PUT /flows/<id> does with {"request": {"content": text}} (tools/web/app.py FlowHandler.put)."""
    f.backup()
    f.request.text = text
    view.update([f])


def test_the_body_holds_bytes_a_text_editor_cannot_keep() -> None:
    with pytest.raises(UnicodeDecodeError):
        SENDMAIL_REQUEST.decode("utf-8")


def test_done_without_a_change_keeps_every_byte(view: tuple[View, taddons.context]) -> None:
    v, _ = view
    f = sendmail_flow()
    v.add([f])
    web_edit(v, f, SENDMAIL_REQUEST.decode("utf-8", errors="replace"))  # what the browser shows and sends back
    assert f.request.raw_content == SENDMAIL_REQUEST
    assert f.request.headers["Content-Length"] == CONTENT_LENGTH
    assert f.request.headers["Content-Type"] == "application/vnd.ms-sync.wbxml"  # no "; charset=utf-8"


def test_without_the_guard_the_same_edit_corrupts_the_body() -> None:
    f = sendmail_flow()
    f.request.text = SENDMAIL_REQUEST.decode("utf-8", errors="replace")
    assert f.request.raw_content != SENDMAIL_REQUEST


def test_pasted_xml_is_re_encoded_to_wbxml(view: tuple[View, taddons.context]) -> None:
    v, _ = view
    f = eas_flow()
    v.add([f])
    xml = contentviews.prettify_message(f.request, f).text.replace("<WindowSize>50<", "<WindowSize>25<")
    web_edit(v, f, xml)
    body = f.request.raw_content or b""
    assert body.startswith(b"\x03\x01\x6a")
    window = eas.decode(body).find(".//{AirSync}WindowSize")
    assert window is not None and window.text == "25"
    assert f.request.headers["Content-Type"] == "application/vnd.ms-sync.wbxml"


def test_bad_xml_is_refused_in_one_line_and_the_body_stays(
    view: tuple[View, taddons.context], caplog: pytest.LogCaptureFixture
) -> None:
    v, _ = view
    f = sendmail_flow()
    v.add([f])
    with caplog.at_level(logging.INFO):
        web_edit(v, f, "<SendMail xmlns='ComposeMail'><NoSuchTag/></SendMail>")
    assert f.request.raw_content == SENDMAIL_REQUEST
    (record,) = [r for r in caplog.records if "edit not applied" in r.getMessage()]
    assert record.levelno == logging.ERROR and "NoSuchTag" in record.getMessage() and "\n" not in record.getMessage()


def test_an_edit_of_the_bytes_shown_as_text_is_refused(view: tuple[View, taddons.context]) -> None:
    v, _ = view
    f = sendmail_flow()
    v.add([f])
    shown = SENDMAIL_REQUEST.decode("utf-8", errors="replace")
    web_edit(v, f, shown.replace("xxxx", "yyyy", 1))
    assert f.request.raw_content == SENDMAIL_REQUEST


def test_a_wbxml_file_uploaded_with_replace_is_kept(view: tuple[View, taddons.context]) -> None:
    v, _ = view
    f = sendmail_flow()
    v.add([f])
    f.backup()
    f.request.content = eas_flow().request.raw_content  # mitmweb's Replace: POST .../request/content.data
    v.update([f])
    assert f.request.raw_content == eas_flow().request.raw_content
