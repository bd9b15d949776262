"""The ActiveSync contentview: choice over mitmproxy's own views, prettify, and reencode of edited XML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from mitmproxy import contentviews, exceptions, http
from mitmproxy.contentviews import Metadata
from mitmproxy.contentviews._utils import make_metadata
from mitmproxy.test import taddons, tflow, tutils

import eas
from addon.contentview import ActiveSyncContentview, EditRejected
from tests.addon.conftest import (
    ADDON_SCRIPT,
    AUTODISCOVER_REQUEST,
    AUTODISCOVER_RESPONSE,
    FOLDERSYNC_REQUEST,
    FOLDERSYNC_RESPONSE,
    ITEMOPERATIONS_REQUEST,
    MALFORMED_RESPONSE,
    MULTIPART_RESPONSE,
    PING_REQUEST,
    PING_RESPONSE,
    SEARCH_REQUEST,
    SYNC_REQUEST,
    SYNC_RESPONSE,
    TEXT_UNDER_WBXML,
    WBXML_TYPE,
    base64_query,
)
from tests.addon.test_addon import eas_flow


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    """The entry script loaded once, as `-s activesync_addon.py` does: the view is in mitmproxy's registry."""
    with taddons.context() as tctx:
        tctx.script(str(ADDON_SCRIPT))
        yield


@pytest.fixture
def view(registered: None) -> ActiveSyncContentview:
    registered_view = contentviews.registry["ActiveSync"]
    assert isinstance(registered_view, ActiveSyncContentview)
    return registered_view


@pytest.fixture
def tctx() -> Iterator[taddons.context]:
    with taddons.context() as context:
        yield context


def request_metadata(f: http.HTTPFlow) -> Metadata:
    return make_metadata(f.request, f)


def response_metadata(f: http.HTTPFlow) -> Metadata:
    assert f.response is not None
    metadata = make_metadata(f.response, f)
    metadata.original_data = f.response.content
    return metadata


def typed_flow(content_type: str, body: bytes, path: str = "/Microsoft-Server-ActiveSync?Cmd=Sync") -> http.HTTPFlow:
    request = tutils.treq(
        method=b"POST", path=path.encode(), headers=http.Headers(content_type=content_type), content=body
    )
    return tflow.tflow(req=request)


@pytest.mark.parametrize(
    ("content_type", "view_name"),
    [
        ("application/vnd.ms-sync.wbxml", "ActiveSync"),
        ("application/vnd.ms-sync", "ActiveSync"),
        ("application/vnd.ms-sync.multipart", "ActiveSync (read-only)"),
    ],
)
def test_the_view_wins_for_eas_content_types(registered: None, tctx: taddons.context, content_type: str, view_name: str) -> None:
    f = typed_flow(content_type, SYNC_REQUEST, path="/anything")
    metadata = request_metadata(f)
    chosen = contentviews.registry.get_view(SYNC_REQUEST, metadata)
    assert chosen.name == view_name
    assert chosen.render_priority(SYNC_REQUEST, metadata) > contentviews.registry["wbxml"].render_priority(
        SYNC_REQUEST, metadata
    )


@pytest.mark.parametrize("content_type", ["", "application/octet-stream", "application/vnd.wap.wbxml"])
def test_the_view_wins_for_wbxml_on_eas_paths_whatever_the_type(
    view: ActiveSyncContentview, tctx: taddons.context, content_type: str
) -> None:
    f = typed_flow(content_type, SYNC_REQUEST, path="/SOGo/Microsoft-Server-ActiveSync?Cmd=Sync")
    if not content_type:
        del f.request.headers["content-type"]
    assert contentviews.registry.get_view(SYNC_REQUEST, request_metadata(f)).name == "ActiveSync"


@pytest.mark.parametrize(
    ("content_type", "body", "path"),
    [
        ("text/html", b"<html></html>", "/owa/"),
        ("application/octet-stream", SYNC_REQUEST, "/upload"),
        ("message/rfc822", b"From: a\r\n\r\nhi", "/Microsoft-Server-ActiveSync?Cmd=SendMail"),
        ("application/json", b"{}", "/autodiscover/autodiscover.json?Protocol=ActiveSync"),
        (WBXML_TYPE, b"", "/Microsoft-Server-ActiveSync?Cmd=Sync"),
    ],
    ids=["html", "binary-elsewhere", "rfc822", "autodiscover-json", "empty"],
)
def test_the_view_leaves_other_bodies_to_other_views(
    view: ActiveSyncContentview, tctx: taddons.context, content_type: str, body: bytes, path: str
) -> None:
    f = typed_flow(content_type, body, path)
    assert view.render_priority(body, request_metadata(f)) < 0


def test_a_request_shows_query_and_headers_as_comments_above_the_xml(
    view: ActiveSyncContentview, tctx: taddons.context
) -> None:
    f = eas_flow()
    text = view.prettify(f.request.content or b"", request_metadata(f))
    root = etree.fromstring(text.encode())  # still one well-formed XML document
    assert etree.QName(root).localname == "Sync"
    head = text.split("<Sync", 1)[0]
    assert "EAS Sync request, protocol 14.1" in head
    # mitmproxy shows the URL and the header values itself: the view adds only their meanings.
    assert "Cmd" not in head and "DEV1" not in head
    assert "MS-ASProtocolVersion: 14.1" not in head
    assert len(head.splitlines()) <= 6  # the XML starts a few lines down (it was about 29 at 160 columns)
    assert "alicepw" not in text and "YWxpY2VAZXhhbXBsZS5jb206YWxpY2Vwdw" not in text
    assert "FilterType 3" in text  # annotated


def test_a_response_shows_its_status_and_meaning(view: ActiveSyncContentview, tctx: taddons.context) -> None:
    f = eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE)
    text = view.prettify(f.response.content or b"", response_metadata(f))
    etree.fromstring(text.encode())
    assert "EAS FolderSync response" in text and "HTTP 200" in text
    assert "status FolderSync/Status = 1" in text
    assert "<DisplayName>Inbox</DisplayName>" in text


def test_mitmproxy_picks_the_view_by_itself(registered: None, tctx: taddons.context) -> None:
    f = eas_flow()
    result = contentviews.prettify_message(f.response, f)
    assert result.view_name == "ActiveSync"
    assert result.syntax_highlight == "xml"
    assert "<Sync" in result.text


@pytest.mark.parametrize(
    ("request_body", "response_body"),
    [
        (FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE),
        (SYNC_REQUEST, SYNC_RESPONSE),
        (PING_REQUEST, PING_RESPONSE),
        (ITEMOPERATIONS_REQUEST, SYNC_RESPONSE),
        (SEARCH_REQUEST, SYNC_RESPONSE),
    ],
    ids=["foldersync", "sync", "ping", "itemoperations", "search"],
)
def test_prettify_then_reencode_gives_the_same_bytes(
    view: ActiveSyncContentview, tctx: taddons.context, request_body: bytes, response_body: bytes
) -> None:
    f = eas_flow("Sync", request_body, response_body)
    for metadata, body in ((request_metadata(f), request_body), (response_metadata(f), response_body)):
        metadata.original_data = body
        assert view.reencode(view.prettify(body, metadata), metadata) == body


def test_an_edit_is_encoded_into_the_body(registered: None, tctx: taddons.context) -> None:
    f = eas_flow()
    text = contentviews.prettify_message(f.response, f).text
    edited = text.replace("<email:Subject>Hello</email:Subject>", "<email:Subject>Changed</email:Subject>")
    assert edited != text
    body = contentviews.reencode_message(edited, f.response, f, "ActiveSync")
    assert body != SYNC_RESPONSE
    assert b"Changed" in body
    subject = eas.decode(body).find(".//{Email}Subject")
    assert subject is not None and subject.text == "Changed"


def test_bad_xml_is_refused_naming_the_line(view: ActiveSyncContentview, tctx: taddons.context) -> None:
    f = eas_flow()
    metadata = request_metadata(f)
    text = view.prettify(SYNC_REQUEST, metadata)
    lines = text.splitlines()
    broken_line = next(number for number, line in enumerate(lines, 1) if "<WindowSize>" in line)
    lines[broken_line - 1] = lines[broken_line - 1].replace("</WindowSize>", "")
    with pytest.raises(EditRejected, match=r"line \d+") as caught:
        view.reencode("\n".join(lines), metadata)
    assert isinstance(caught.value.__cause__, eas.EncodeError)
    assert isinstance(caught.value, exceptions.CommandError)  # mitmproxy's console logs it as one line
    message = str(caught.value)
    assert "\n" not in message and message.startswith("ActiveSync edit not applied, body unchanged:")
    kept = Path(message.rsplit("your text: ", 1)[1].rstrip(")"))
    assert kept.read_text(encoding="utf-8") == "\n".join(lines)  # the edit is not lost
    assert kept.stat().st_mode & 0o777 == 0o600
    kept.unlink()


def test_an_unknown_element_is_refused_naming_it(view: ActiveSyncContentview, tctx: taddons.context) -> None:
    f = eas_flow()
    metadata = request_metadata(f)
    text = view.prettify(SYNC_REQUEST, metadata).replace("<GetChanges/>", "<NoSuchTag/>")
    with pytest.raises(EditRejected, match="NoSuchTag") as caught:
        view.reencode(text, metadata)
    assert isinstance(caught.value.__cause__, eas.EncodeError)


def test_a_multipart_body_shows_its_parts_and_refuses_reencode(
    view: ActiveSyncContentview, tctx: taddons.context
) -> None:
    f = eas_flow(
        "ItemOperations", ITEMOPERATIONS_REQUEST, MULTIPART_RESPONSE,
        response_headers=((b"Content-Type", b"application/vnd.ms-sync.multipart"),),
    )
    metadata = response_metadata(f)
    shown = contentviews.registry.get_view(MULTIPART_RESPONSE, metadata)
    # Not interactive: mitmproxy's console offers no ActiveSync editor for it (console.edit.focus.options).
    assert shown.name == "ActiveSync (read-only)"
    assert not isinstance(shown, contentviews.InteractiveContentview)
    text = shown.prettify(MULTIPART_RESPONSE, metadata)
    assert "multipart body" in text
    assert "part 0:" in text and "part 1:" in text
    assert "<ItemOperations" in text
    with pytest.raises(EditRejected, match="multipart"):  # the ActiveSync view chosen by hand
        view.reencode(text, metadata)


@pytest.mark.parametrize(("body", "status"), [(MALFORMED_RESPONSE, 200), (TEXT_UNDER_WBXML, 500)], ids=["malformed", "text"])
def test_undecodable_bodies_show_the_problem(
    view: ActiveSyncContentview, tctx: taddons.context, body: bytes, status: int
) -> None:
    f = eas_flow("Sync", SYNC_REQUEST, body, status=status)
    text = view.prettify(body, response_metadata(f))
    assert re.search(r"<!-- (error|warning): response body", text)
    if body == TEXT_UNDER_WBXML:
        assert "Unsupported folder type during creation." in text
        assert contentviews.registry.get_view(body, response_metadata(f)).name == "ActiveSync (read-only)"
        with pytest.raises(EditRejected, match="not WBXML"):
            view.reencode(text, response_metadata(f))


def canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    return bytes(etree.tostring(etree.fromstring(xml, parser), method="c14n"))


def test_autodiscover_xml_is_shown_annotated_and_written_back_as_xml(
    view: ActiveSyncContentview, tctx: taddons.context
) -> None:
    f = typed_flow("text/xml", AUTODISCOVER_REQUEST, "/autodiscover/autodiscover.xml")
    f.response = tutils.tresp(headers=http.Headers(content_type="text/xml; charset=utf-8"), content=AUTODISCOVER_RESPONSE)
    for metadata, body in ((request_metadata(f), AUTODISCOVER_REQUEST), (response_metadata(f), AUTODISCOVER_RESPONSE)):
        assert contentviews.registry.get_view(body, metadata).name == "ActiveSync"
        text = view.prettify(body, metadata)
        assert text.startswith("<!-- Autodiscover re")
        written = view.reencode(text, metadata)
        assert b"<!--" not in written
        assert canonical(written) == canonical(body)  # same document; layout whitespace may differ


def test_a_body_without_a_flow_is_still_shown(view: ActiveSyncContentview) -> None:
    metadata = Metadata(content_type=WBXML_TYPE)
    assert view.render_priority(SYNC_RESPONSE, metadata) > 1
    text = view.prettify(SYNC_RESPONSE, metadata)
    assert "<Sync" in text
    assert view.reencode(text, metadata) == SYNC_RESPONSE


def test_a_base64_query_is_decoded_on_one_folded_line(view: ActiveSyncContentview, tctx: taddons.context) -> None:
    f = eas_flow("Sync", path=f"/Microsoft-Server-ActiveSync?{base64_query()}")
    head = view.prettify(SYNC_REQUEST, request_metadata(f)).split("<Sync", 1)[0]
    (line,) = [row for row in head.splitlines() if "base64 query" in row]
    # the values packed by base64_query(): MS-ASHTTP 2.2.1.1.1.1
    assert "Cmd=Sync" in line and "DeviceId=01020304" in line and "DeviceType=iPhone" in line
    assert len(head.splitlines()) <= 7


def test_header_values_are_left_to_mitmproxy_and_their_meanings_shown(
    view: ActiveSyncContentview, tctx: taddons.context
) -> None:
    f = eas_flow()
    head = view.prettify(SYNC_REQUEST, request_metadata(f)).split("<Sync", 1)[0]
    assert "X-MS-PolicyKey: the policy key" in head  # what the header means (MS-ASHTTP 2.2.1.1.2.7)
    assert f.request.headers["X-MS-PolicyKey"] not in head  # its value is in mitmproxy's own header list
