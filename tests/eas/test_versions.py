"""eas.versions and the version-aware request check (issue 13, Version awareness; Annotation notes that mislead)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

import eas
from eas.annotate import AnnotationContext, annotate, decode_annotated
from eas.query import decode_query
from eas.schema import validate_request
from eas.versions import LATER_PLACEMENTS, REPLACED_BY, _trie_alternation, add_version_notes, version_findings

REAL = Path(__file__).resolve().parent.parent / "data" / "real"


def xml(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


def comments(root: etree._Element) -> list[str]:
    return [str(node.text).strip() for node in root.iter(etree.Comment)]


def version_comments(root: etree._Element) -> list[str]:
    return [text for text in comments(root) if text.startswith("version:")]


# A 16.0 draft added by Sync (MS-ASEMAIL: drafts are synchronized in 16.0 and 16.1; email2:Send MS-ASEMAIL 2.2.2.69).
DRAFT_ADD = (
    '<Sync xmlns="AirSync" xmlns:email="Email" xmlns:email2="Email2" xmlns:airsyncbase="AirSyncBase">'
    "<Collections><Collection><SyncKey>5</SyncKey><CollectionId>drafts</CollectionId><Commands><Add>"
    "<ClientId>c1</ClientId><ApplicationData><email:To>bob@example.com</email:To><email:Subject>Hello</email:Subject>"
    "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>hi</airsyncbase:Data>"
    "</airsyncbase:Body><email2:Send/></ApplicationData></Add></Commands></Collection></Collections></Sync>"
)
# A 16.0 calendar item with the structured location (MS-ASAIRS 2.2.2.28) and ClientUid (MS-ASWBXML 0x3C, 16.0).
CALENDAR_ADD = (
    '<Sync xmlns="AirSync" xmlns:calendar="Calendar" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
    "<SyncKey>5</SyncKey><CollectionId>cal</CollectionId><Commands><Add><ClientId>c1</ClientId><ApplicationData>"
    "<calendar:Timezone>AAAA</calendar:Timezone><calendar:Subject>x</calendar:Subject>"
    "<airsyncbase:Location><airsyncbase:DisplayName>Room 1</airsyncbase:DisplayName></airsyncbase:Location>"
    "<calendar:ClientUid>u1</calendar:ClientUid></ApplicationData></Add></Commands></Collection></Collections></Sync>"
)


# ---- Version awareness: the request check -------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["16.0", "16.1", None])
def test_16x_draft_and_location_are_valid_at_16x(version: str | None) -> None:
    assert validate_request(xml(DRAFT_ADD), version) == []
    assert validate_request(xml(CALENDAR_ADD), version) == []


def test_16x_elements_in_a_141_session_are_flagged_with_the_reason() -> None:
    messages = validate_request(xml(CALENDAR_ADD), "14.1")
    assert messages == [
        "Sync/Collections/Collection/Commands/Add/ApplicationData/Location: airsyncbase:Location is from protocol "
        "16.0; this session speaks 14.1",
        "Sync/Collections/Collection/Commands/Add/ApplicationData/ClientUid: calendar:ClientUid is from protocol "
        "16.0; this session speaks 14.1",
    ]


def test_a_draft_in_a_141_session_is_flagged_and_says_from_when() -> None:
    messages = validate_request(xml(DRAFT_ADD), "14.1")
    assert messages[0] == ("Sync/Collections/Collection/Commands/Add/ApplicationData/Send: email2:Send is from "
                           "protocol 16.0; this session speaks 14.1")
    assert "Element 'Subject': This element is not expected" in messages[1]
    assert "allowed here from 16.0" in messages[1]


def test_an_element_dropped_before_the_session_is_flagged() -> None:
    # MS-ASWBXML 2.1.2.1.7: itemestimate:Class is 2.5, 12.0, 12.1; note 1: airsync:Class from 14.0.
    request = ('<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>'
               "<airsync:SyncKey>1</airsync:SyncKey><CollectionId>1</CollectionId><Class>Email</Class>"
               "</Collection></Collections></GetItemEstimate>")
    assert validate_request(xml(request), "16.1") == [
        "GetItemEstimate/Collections/Collection/Class: itemestimate:Class is used in 2.5 to 12.1, not in 16.1 "
        "(airsync:Class from 14.0)"]
    assert validate_request(xml(request), "12.1") == []  # valid in 12.1, though the 14.0 schema has no place for it


@pytest.mark.parametrize("version", ["12.1", "14.1", "16.1", None])
def test_real_violation_stays_flagged_in_every_version(version: str | None) -> None:
    # GetItemEstimate's Collections is in the GetItemEstimate namespace (MS-ASCMD 2.2.3.34), never AirSync's.
    request = ('<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><airsync:Collections><Collection>'
               "<airsync:SyncKey>1</airsync:SyncKey><CollectionId>1</CollectionId></Collection>"
               "</airsync:Collections></GetItemEstimate>")
    messages = validate_request(xml(request), version)
    assert len(messages) == 1
    assert "Element 'Collections': This element is not expected" in messages[0]


def test_an_old_editions_token_is_flagged_in_any_known_version() -> None:
    # Email 0x0B AttRemoved: named by the first edition only (the current MS-ASWBXML table skips 0x0B).
    found = version_findings(xml('<ApplicationData xmlns="AirSync" xmlns:email="Email"><email:AttRemoved/>'
                                 "</ApplicationData>"), "2.5")
    assert [finding.reason for finding in found] == [
        "email:AttRemoved is in no protocol version of the current MS-ASWBXML (a token of an older edition)"]


def test_unknown_version_checks_no_versions() -> None:
    assert version_findings(xml(CALENDAR_ADD), "17.0") == []
    assert version_findings(xml(CALENDAR_ADD), None) == []


def test_later_placements_and_replacements_cite_their_source() -> None:
    for placement in LATER_PLACEMENTS:
        assert placement.source.startswith(("MS-ASEMAIL", "MS-ASAIRS", "MS-ASCMD")), placement
    assert REPLACED_BY[(2, "GlobalObjId")] == "calendar:UID from 16.0"  # MS-ASWBXML 2.1.2.1.3 note 4


def _lab_flows() -> list[object]:
    io = pytest.importorskip("mitmproxy.io")
    with (REAL / "lab-session.mitm").open("rb") as handle:
        return list(io.FlowReader(handle).stream())


def test_real_lab_traffic_gives_no_schema_false_positive() -> None:
    # tests/data/real: device A at 14.1 / 12.1 and pyactivesync at 16.1 against SOGo; each request checked against
    # the version its own session speaks (header or base64 query). Issue 13, Version awareness.
    flows = _lab_flows()
    versions_seen = set()
    for flow in flows:
        request, response = flow.request, flow.response  # type: ignore[attr-defined]
        exchange = eas.analyze(request.method, request.url, list(request.headers.items(multi=True)),
                               request.raw_content or b"", response.status_code if response else None,
                               list(response.headers.items(multi=True)) if response else None,
                               response.raw_content if response else None, annotate=False)
        versions_seen.add(exchange.protocol_version)
        assert not [p for p in exchange.problems if p.reason.startswith("schema")], (request.url, exchange.problems)
    assert {"14.1", "16.1"} <= versions_seen


@pytest.mark.parametrize("number", range(69, 77))
def test_real_161_requests_are_valid_at_161(number: int) -> None:
    (path,) = REAL.glob(f"{number:03d}-*-request.wbxml")
    root = eas.decode(path.read_bytes())
    assert validate_request(root, "16.1") == []
    assert version_findings(root, "16.1") == []


# ---- Version awareness: annotation says when an element is newer (or older) than the session -------------------

@pytest.mark.parametrize(("document", "version", "expected"), [
    # MS-ASWBXML 2.1.2.1.1: AirSync Truncation is 2.5 only.
    ('<Sync xmlns="AirSync"><Collections><Collection><Options><Truncation>1</Truncation></Options></Collection>'
     "</Collections></Sync>", "12.1",
     ["version: airsync:Truncation is used in 2.5 only, not in 12.1 (airsyncbase:BodyPreference from 12.0)"]),
    ('<Sync xmlns="AirSync"><Collections><Collection><Options><Truncation>1</Truncation></Options></Collection>'
     "</Collections></Sync>", "2.5", []),
    # 2.1.2.1.8: FolderHierarchy Folders/Folder are used in 2.5, 12.0, 12.1.
    ('<FolderSync xmlns="FolderHierarchy"><Folders><Folder/></Folders></FolderSync>', "12.1", []),
    ('<FolderSync xmlns="FolderHierarchy"><Folders/></FolderSync>', "14.0",
     ["version: folderhierarchy:Folders is used in 2.5 to 12.1, not in 14.0"]),
    # 2.1.2.1.16: Search Or from 12.0.
    ('<Search xmlns="Search"><Store><Query><Or/></Query></Store></Search>', "12.0", []),
    ('<Search xmlns="Search"><Store><Query><Or/></Query></Store></Search>', "2.5",
     ["version: search:Or is from protocol 12.0; this session speaks 2.5"]),
    # 2.1.2.1.3 note 4: GlobalObjId is replaced by calendar:UID in 16.0 and 16.1.
    ('<ApplicationData xmlns="AirSync" xmlns:email="Email"><email:GlobalObjId>AAAA</email:GlobalObjId>'
     "</ApplicationData>", "16.1",
     ["version: email:GlobalObjId is used in 2.5 to 14.1, not in 16.1 (calendar:UID from 16.0)"]),
    ('<ApplicationData xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><airsyncbase:Location/></ApplicationData>',
     "14.1", ["version: airsyncbase:Location is from protocol 16.0; this session speaks 14.1"]),
])
def test_annotation_says_when_an_element_is_not_of_the_sessions_version(document: str, version: str,
                                                                      expected: list[str]) -> None:
    root = annotate(xml(document), AnnotationContext(protocol_version=version))
    assert version_comments(root) == expected
    again = annotate(root, AnnotationContext(protocol_version=version))
    assert version_comments(again) == expected  # annotating twice adds nothing


def test_decode_annotated_adds_the_same_version_notes() -> None:
    data = eas.encode('<ApplicationData xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><airsyncbase:Location>'
                      "<airsyncbase:City>Paris</airsyncbase:City></airsyncbase:Location></ApplicationData>")
    root = decode_annotated(data, AnnotationContext(protocol_version="14.1"))
    assert version_comments(root) == [  # in document order: City's note inside Location, Location's after it
        "version: airsyncbase:City is from protocol 16.0; this session speaks 14.1",
        "version: airsyncbase:Location is from protocol 16.0; this session speaks 14.1",
    ]
    assert version_comments(decode_annotated(data, AnnotationContext(protocol_version="16.1"))) == []


def test_add_version_notes_without_a_version_adds_nothing() -> None:
    root = xml('<FolderSync xmlns="FolderHierarchy"><Folders/></FolderSync>')
    add_version_notes(root, None)
    assert comments(root) == []


# ---- Annotation notes that mislead ----------------------------------------------------------------------------------

def test_device_encryption_enabled_is_the_old_name_of_storage_card_encryption() -> None:
    # MS-ASWBXML 2.1.2.1.15 token 0x10 RequireStorageCardEncryption; RequireDeviceEncryption is 0x1D.
    root = annotate(xml('<Provision xmlns="Provision"><Policies><Policy><Data><EASProvisionDoc>'
                        "<DeviceEncryptionEnabled>1</DeviceEncryptionEnabled></EASProvisionDoc></Data></Policy>"
                        "</Policies></Provision>"), AnnotationContext(is_response=True))
    (note,) = [text for text in comments(root) if text.startswith("DeviceEncryptionEnabled")]
    assert "storage card" in note
    assert "RequireStorageCardEncryption" in note
    assert "RequireDeviceEncryption" not in note


@pytest.mark.parametrize(("tag", "name"), [(2, "CollectionName"), (5, "ParentId")])
def test_query_says_collectionname_and_parentid_are_2009_only(tag: int, name: str) -> None:
    # MS-ASHTTP current edition 2.2.1.1.1.1.3 lists tags 0, 1, 3, 4, 6, 7, 8; the 2009 edition also 2 and 5.
    import base64
    raw = bytes([141, 9, 0x09, 0x04, 1, 0xAB, 0, 2]) + b"SP" + bytes([tag, 1]) + b"x"
    query = decode_query(base64.b64encode(raw).decode())
    assert (name, "x") in query.parameters
    assert any("2009 edition" in note and "0, 1, 3, 4, 6, 7, 8" in note for note in query.notes), query.notes


def test_query_tag_1_has_no_edition_note() -> None:
    import base64
    raw = bytes([141, 9, 0x09, 0x04, 1, 0xAB, 0, 2]) + b"SP" + bytes([1, 1]) + b"x"
    assert not any("edition" in note for note in decode_query(base64.b64encode(raw).decode()).notes)


@pytest.mark.parametrize(("value", "version", "expected"), [
    # MS-ASCAL BusyStatus: 4 (working elsewhere) and -1 (status unknown) are not supported in 2.5-14.1.
    ("4", "14.1", ["version: calendar:BusyStatus 4 (working elsewhere) is from protocol 16.0; this session speaks "
                   "14.1"]),
    ("-1", "12.1", ["version: calendar:BusyStatus -1 (status unknown) is from protocol 16.0; this session speaks "
                    "12.1"]),
    ("4", "16.0", []),
    ("2", "14.1", []),
])
def test_annotation_says_when_a_value_is_newer_than_the_session(value: str, version: str,
                                                               expected: list[str]) -> None:
    document = (f'<ApplicationData xmlns="AirSync" xmlns:c="Calendar"><c:BusyStatus>{value}</c:BusyStatus>'
                "</ApplicationData>")
    assert version_comments(annotate(xml(document), AnnotationContext(protocol_version=version))) == expected
    data = eas.encode(document)
    assert version_comments(decode_annotated(data, AnnotationContext(protocol_version=version))) == expected


# Words of a few bytes, regex metacharacters among them, so that one word is often the start of another.
_WORDS = st.lists(st.sampled_from([b"a", b"b", b".", b"*", b"\xff"]), min_size=1, max_size=4).map(b"".join)


@given(st.sets(_WORDS, min_size=1, max_size=12), _WORDS | st.just(b""))
def test_the_trie_of_the_noted_tags_matches_exactly_its_words(words: set[bytes], probe: bytes) -> None:
    pattern = re.compile(b"(?:" + _trie_alternation(sorted(words)) + b")", re.DOTALL)
    assert all(pattern.fullmatch(word) for word in words)
    assert (pattern.fullmatch(probe) is not None) == (probe in words)

