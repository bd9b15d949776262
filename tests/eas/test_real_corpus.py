"""The real-traffic corpus (tests/data/real, captured from SOGo by tools/capture_lab.py): decode, re-encode, compare with libwbxml."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import eas
from eas.codepages import CODE_PAGES, PAGE_BY_NAMESPACE, WBXML_NS
from eas.multipart import parse_multipart

from .test_libwbxml_diff import (
    LIBWBXML_BINARY_EXTRA,
    LIBWBXML_LAST_PAGE,
    LIBWBXML_NAMES,
    LIBWBXML_NAMESPACES,
    WBXML2XML,
    libwbxml_decode,
)

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
WBXML_FILES = sorted(REAL.glob("*.wbxml"))
MULTIPART_FILES = sorted(REAL.glob("*.multipart"))
NAME = re.compile(r"^(\d{3})-([A-Za-z]+)-(request|response)\.(wbxml|multipart|eml|bin)$")

# What the capture must cover (the scenario of tools/capture_lab.py); a regeneration that loses one fails here.
REQUIRED_COMMANDS = frozenset({
    "Provision", "FolderSync", "Sync", "GetItemEstimate", "ItemOperations", "GetAttachment", "MoveItems",
    "FolderCreate", "FolderUpdate", "FolderDelete", "Ping", "Search", "ResolveRecipients", "Settings",
    "SendMail", "SmartReply", "SmartForward", "MeetingResponse", "ValidateCert", "Find",
})

# libwbxml's namespace URI -> page number (its URIs end in a colon; it has no page 25).
LIBWBXML_PAGE = {uri: number for number, uri in enumerate(LIBWBXML_NAMESPACES)}


def _ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def _elements(root: etree._Element) -> Iterator[etree._Element]:
    return (el for el in root.iter() if isinstance(el.tag, str))


def _page_of(el: etree._Element) -> int:
    return PAGE_BY_NAMESPACE[etree.QName(el).namespace or ""].number


def _leaf_text(el: etree._Element) -> str:
    # libwbxml writes CR raw into its XML, and an XML parser turns CR LF and lone CR into LF
    return (el.text or "").replace("\r\n", "\n").replace("\r", "\n")


def test_corpus_exists_and_is_small() -> None:
    assert len(WBXML_FILES) >= 60, "run tools/capture_lab.py to regenerate tests/data/real"
    total = sum(path.stat().st_size for path in REAL.iterdir())
    assert total < 2 * 1024 * 1024


def test_file_names_follow_the_scheme() -> None:
    for path in REAL.iterdir():
        if path.name in {"README.md", "capture.log", "lab-session.mitm"}:
            continue
        assert NAME.match(path.name), path.name


def test_corpus_covers_the_scenario() -> None:
    commands = {match.group(2) for path in REAL.iterdir() if (match := NAME.match(path.name))}
    assert REQUIRED_COMMANDS <= commands, sorted(REQUIRED_COMMANDS - commands)
    assert MULTIPART_FILES, "no multipart ItemOperations response"
    assert list(REAL.glob("*-SendMail-request.eml")), "no SendMail message/rfc822 body"
    # the FolderDelete of a contacts folder answers plain text under the WBXML content type
    texts = [path.read_bytes() for path in REAL.glob("*-FolderDelete-response.bin")]
    assert any(b"Unsupported folder type" in text for text in texts)


# The code page (MS-ASWBXML 2.1.2.1) of each command's top-level element, which bears the command's name
# (MS-ASCMD 2.2.1; MoveItems' element lives in the Move page, the mail commands' in ComposeMail).
COMMAND_PAGE = {
    "Provision": "Provision", "FolderSync": "FolderHierarchy", "FolderCreate": "FolderHierarchy",
    "FolderUpdate": "FolderHierarchy", "FolderDelete": "FolderHierarchy", "Sync": "AirSync",
    "GetItemEstimate": "GetItemEstimate", "ItemOperations": "ItemOperations", "MoveItems": "Move", "Ping": "Ping",
    "Search": "Search", "ResolveRecipients": "ResolveRecipients", "Settings": "Settings", "SendMail": "ComposeMail",
    "SmartReply": "ComposeMail", "SmartForward": "ComposeMail", "MeetingResponse": "MeetingResponse",
    "ValidateCert": "ValidateCert", "Find": "Find",
}


@pytest.mark.parametrize("path", WBXML_FILES, ids=_ids(WBXML_FILES))
def test_lenient_decode(path: Path) -> None:
    match = NAME.match(path.name)
    assert match is not None
    command = match.group(2)
    root = eas.decode(path.read_bytes())
    assert (etree.QName(root).namespace, etree.QName(root).localname) == (COMMAND_PAGE[command], command)
    # real traffic holds nothing the lenient decoder must guess at: it reads it as the strict one does
    assert eas.to_xml(root) == eas.to_xml(eas.decode(path.read_bytes(), strict=True))


@pytest.mark.parametrize("path", WBXML_FILES, ids=_ids(WBXML_FILES))
def test_strict_decode_finds_no_unknown_token(path: Path) -> None:
    root = eas.decode(path.read_bytes(), strict=True)
    placeholders = [el.tag for el in _elements(root) if etree.QName(el).namespace == WBXML_NS]
    assert placeholders == []


@pytest.mark.parametrize("path", WBXML_FILES, ids=_ids(WBXML_FILES))
def test_reencode_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    assert eas.encode(eas.decode(data)) == data


@pytest.mark.parametrize("path", WBXML_FILES, ids=_ids(WBXML_FILES))
def test_reencode_through_xml_text_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    assert eas.encode(eas.decode_to_xml(data)) == data


@pytest.mark.parametrize("path", WBXML_FILES, ids=_ids(WBXML_FILES))
def test_every_truncation_is_reported_as_truncated(path: Path) -> None:
    data = path.read_bytes()
    # every prefix of small documents; of large ones the first and last 256 and every 16th in between
    cuts = set(range(min(len(data), 256))) | set(range(max(0, len(data) - 256), len(data))) | set(
        range(0, len(data), 16))
    for cut in sorted(cuts):
        with pytest.raises(eas.TruncatedError):
            eas.decode(data[:cut])


@pytest.mark.parametrize("path", MULTIPART_FILES, ids=_ids(MULTIPART_FILES))
def test_multipart_first_part_is_wbxml(path: Path) -> None:
    parts = parse_multipart(path.read_bytes())
    assert len(parts) >= 2
    root = eas.decode(parts[0], strict=True)
    assert etree.QName(root).localname == "ItemOperations"
    assert eas.encode(root) == parts[0]
    referenced = {int(el.text or "-1") for el in _elements(root) if etree.QName(el).localname == "Part"}
    assert referenced and referenced <= set(range(1, len(parts)))


def _libwbxml_tree(data: bytes) -> etree._Element:
    text = libwbxml_decode(data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(text.encode("utf-8"), parser)


@pytest.mark.skipif(WBXML2XML is None, reason="libwbxml2-utils (wbxml2xml) not installed")
@pytest.mark.parametrize("path", WBXML_FILES, ids=_ids(WBXML_FILES))
def test_same_structure_and_text_as_libwbxml(path: Path) -> None:
    data = path.read_bytes()
    ours = list(_elements(eas.decode(data, strict=True)))
    if any(_page_of(el) > LIBWBXML_LAST_PAGE for el in ours):
        pytest.skip("uses a code page libwbxml does not have (25, Find)")
    theirs = list(_elements(_libwbxml_tree(data)))

    def expected(el: etree._Element) -> tuple[int, str]:
        page, name = _page_of(el), etree.QName(el).localname
        return page, LIBWBXML_NAMES.get((page, name), name)

    def found(el: etree._Element) -> tuple[int, str]:
        qname = etree.QName(el)
        return LIBWBXML_PAGE[qname.namespace or ""], qname.localname

    assert [found(el) for el in theirs] == [expected(el) for el in ours]

    opaque = f"{{{WBXML_NS}}}opaque"
    for mine, other in zip(ours, theirs, strict=True):
        markers = {str(name) for name in mine.attrib if str(name).startswith(f"{{{WBXML_NS}}}")}
        if len(mine) or markers - {opaque}:
            continue  # not a string leaf, or sent in pieces the markers describe
        page = _page_of(mine)
        name = etree.QName(mine).localname
        if mine.get(opaque) == "base64":
            content = base64.b64decode(mine.text or "")
        else:
            content = (mine.text or "").encode("utf-8")
        if name in CODE_PAGES[page].opaque_tags or (page, name) in LIBWBXML_BINARY_EXTRA:
            # libwbxml shows the content of the tags it takes for binary as base64
            assert base64.b64decode(other.text or "") == content, name
        else:
            assert _leaf_text(other) == content.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), name


def _flows() -> list[object]:
    from mitmproxy import io

    with (REAL / "lab-session.mitm").open("rb") as fh:
        return list(io.FlowReader(fh).stream())


def test_session_flows_analyze_without_errors() -> None:
    flows = _flows()
    assert len(flows) >= 50
    for flow in flows:
        request, response = flow.request, flow.response  # type: ignore[attr-defined]
        exchange = eas.analyze(
            request.method, request.url, list(request.headers.items(multi=True)), request.raw_content or b"",
            response.status_code, list(response.headers.items(multi=True)), response.raw_content or b"",
        )
        errors = [problem for problem in exchange.problems if problem.severity == "error"]
        assert errors == [], (request.url, errors)


def test_session_flows_carry_no_credentials() -> None:
    for flow in _flows():
        authorization = flow.request.headers.get("authorization", "")  # type: ignore[attr-defined]
        assert authorization in ("", "Basic cmVkYWN0ZWQ6cmVkYWN0ZWQ="), authorization
    raw = (REAL / "lab-session.mitm").read_bytes()
    for user in ("alice", "bob", "carol"):
        assert f"{user}pw".encode() not in raw
        assert base64.b64encode(f"{user}:{user}pw".encode()) not in raw
