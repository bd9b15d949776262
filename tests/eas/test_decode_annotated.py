"""eas.decode_annotated (notes written while decoding) gives what decode + annotate gives."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eas
from eas.wbxml_decode import decode_xml_bytes
from eas.wbxml_tables import DecoderNotes
from eas.annotate import AnnotationContext, decode_annotated
from eas.multipart import parse_multipart

DATA = Path(__file__).resolve().parent.parent / "data"
DOCUMENTS = sorted(DATA.rglob("*.wbxml"))
MULTIPARTS = sorted(DATA.rglob("*.multipart"))

CONTACT = """<Sync xmlns="AirSync" xmlns:contacts="Contacts" xmlns:contacts2="Contacts2" xmlns:base="AirSyncBase">
<Collections><Collection><SyncKey>0</SyncKey><CollectionId>2</CollectionId><Status>1</Status><Commands><Add>
<ServerId>2:1</ServerId><ApplicationData><contacts:FileAs>Doe, J</contacts:FileAs><contacts:Title></contacts:Title>
<contacts:Birthday>2001-01-01T00:00:00.000Z</contacts:Birthday><contacts:Anniversary/>
<contacts:Categories><contacts:Category>A</contacts:Category><contacts:Category/></contacts:Categories>
<contacts:Children>t1<contacts:Child>x</contacts:Child>t2<contacts:Child/>t3</contacts:Children>
<contacts:Picture>iVBORw0KGgo=</contacts:Picture><contacts2:NickName> </contacts2:NickName>
<contacts2:MMS>--x--</contacts2:MMS><base:Body><base:Type>1</base:Type><base:Data>hi</base:Data></base:Body>
<contacts:Email1Address>a&amp;b &lt;c@d&gt;</contacts:Email1Address></ApplicationData></Add></Commands>
</Collection></Collections></Sync>"""
SUPPORTED = ("<Sync xmlns=\"AirSync\" xmlns:contacts=\"Contacts\"><Collections><Collection><SyncKey>0</SyncKey>"
             "<CollectionId>2</CollectionId><Supported><contacts:FileAs/><contacts:Title/></Supported>"
             "</Collection></Collections></Sync>")


CONTEXTS = [AnnotationContext(command=command, is_response=is_response, protocol_version="14.1")
            for command in (None, "Sync", "Provision") for is_response in (False, True)]


def _check(data: bytes, context: AnnotationContext) -> None:
    expected = eas.to_xml(eas.annotate(eas.decode(data), context), pretty=False)
    root = decode_annotated(data, context)
    assert eas.to_xml(root, pretty=False) == expected
    assert eas.to_xml(eas.annotate(root, context), pretty=False) == expected  # annotating again adds nothing
    assert eas.encode(root) == eas.encode(eas.decode(data))


def _body(path: Path) -> bytes:
    data = path.read_bytes()
    return parse_multipart(data)[0] if path.suffix == ".multipart" else data


@pytest.mark.parametrize("path", DOCUMENTS + MULTIPARTS, ids=lambda path: str(path.relative_to(DATA)))
def test_same_tree_as_decode_then_annotate(path: Path) -> None:
    data = _body(path)
    try:
        eas.decode(data)
    except eas.EasError:
        with pytest.raises(eas.EasError):
            decode_annotated(data, CONTEXTS[0])
        return
    for context in CONTEXTS:
        _check(data, context)
    try:
        strict = eas.decode(data, strict=True)
    except eas.EasError:
        return
    expected = eas.to_xml(eas.annotate(strict, CONTEXTS[1]), pretty=False)
    assert eas.to_xml(decode_annotated(data, CONTEXTS[1], strict=True), pretty=False) == expected


@pytest.mark.parametrize("xml", [CONTACT, SUPPORTED], ids=["contact", "supported"])
def test_contacts_empty_nested_mixed_and_supported(xml: str) -> None:
    data = eas.encode(xml)
    for context in CONTEXTS:
        _check(data, context)
    root = decode_annotated(data, CONTEXTS[0])
    assert eas.encode(root) == data


def test_context_from_the_root() -> None:
    data = eas.encode(CONTACT)
    seen: list[str] = []

    def context(root: object) -> AnnotationContext:
        seen.append(eas.to_xml(root, pretty=False))  # type: ignore[arg-type]
        return CONTEXTS[1]

    root = decode_annotated(data, context)
    assert len(seen) == 1 and eas.to_xml(root, pretty=False) == eas.to_xml(
        eas.annotate(eas.decode(data), CONTEXTS[1]), pretty=False)


FILTERED_SYNC = """<Sync xmlns="AirSync"><Collections><Collection><SyncKey>1</SyncKey>
<CollectionId>5</CollectionId><Options><FilterType>4</FilterType></Options></Collection></Collections></Sync>"""


def test_complete_gives_the_context_from_the_root() -> None:
    """With `complete`, the notes that need the whole context (FilterType: the collection's class) follow the
    context it makes from the decoded root; the decoder's own notes follow `context` (its command is kept)."""
    data = eas.encode(FILTERED_SYNC)
    seen: list[object] = []

    def complete(root: object) -> AnnotationContext:
        seen.append(root)
        return AnnotationContext(command="Ping", protocol_version="14.1", collection_class="Calendar")

    base = AnnotationContext(command="Sync", protocol_version="14.1")
    root = decode_annotated(data, base, complete=complete)
    whole = AnnotationContext(command="Sync", protocol_version="14.1", collection_class="Calendar")
    assert len(seen) == 1
    assert eas.to_xml(root, pretty=False) == eas.to_xml(eas.annotate(eas.decode(data), whole), pretty=False)
    assert eas.to_xml(root, pretty=False) != eas.to_xml(eas.annotate(eas.decode(data), base), pretty=False)


def _decoder_notes(data: bytes, context: AnnotationContext) -> DecoderNotes:
    module = importlib.import_module("eas.annotate")
    plan = module._note_plan(context)
    notes = DecoderNotes(plan.static, plan.kinds, module._VALUE_NOTES, plan.place_memo, plan.note_of)
    decode_xml_bytes(data, False, notes)
    return notes


@pytest.mark.parametrize("path", sorted((DATA / "real").glob("*.wbxml")) + MULTIPARTS,
                         ids=lambda path: str(path.relative_to(DATA)))
def test_the_decoder_writes_the_notes_of_the_real_corpus(path: Path) -> None:
    """No real document needs the second decode (the fast path covers markers, OPAQUE data, Provision)."""
    data = _body(path)
    for context in CONTEXTS:
        assert not _decoder_notes(data, context).missed


@pytest.mark.parametrize("xml, missed", [
    ("<Sync xmlns=\"AirSync\"><Status><Class>Email</Class></Status></Sync>", True),  # a noted leaf with a child
    ("<Sync xmlns=\"AirSync\"><Collections><Collection><Status>1</Status></Collection></Collections></Sync>", False),
    ("<Sync xmlns=\"AirSync\" xmlns:wbxml=\"urn:eas-inspector:wbxml\"><Collections><Collection>"
     "<Status wbxml:content=\"empty\"/></Collection></Collections></Sync>", True),
    ("<Sync xmlns=\"AirSync\" xmlns:wbxml=\"urn:eas-inspector:wbxml\"><Collections><Collection>"
     "<Status wbxml:opaque=\"text\">1</Status></Collection></Collections></Sync>", True),
    ("<Sync xmlns=\"AirSync\" xmlns:wbxml=\"urn:eas-inspector:wbxml\" xmlns:contacts=\"Contacts\"><Collections>"
     "<Collection><contacts:FileAs wbxml:content=\"empty\"/></Collection></Collections></Sync>", True),
    ("<Sync xmlns=\"AirSync\"><Collections><Collection><FilterType>3</FilterType></Collection></Collections>"
     "</Sync>", False),
    ("<Sync xmlns=\"AirSync\"><Collections><Collection><Class>a&#13;&lt;b</Class></Collection></Collections>"
     "</Sync>", True),  # a CR in a note does not survive the XML parse: the plain way
])
def test_what_the_decoder_cannot_note_is_annotated_the_plain_way(xml: str, missed: bool) -> None:
    data = eas.encode(xml)
    for context in CONTEXTS:
        assert _decoder_notes(data, context).missed is missed
        _check(data, context)


@pytest.mark.parametrize("xml", [
    # the root's own tag (here a noted one) gets no note, the same tag inside does
    "<Policies xmlns=\"Provision\"><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><Status>1</Status>"
    "<Data><EASProvisionDoc><DevicePasswordEnabled>1</DevicePasswordEnabled><AllowCamera/></EASProvisionDoc>"
    "</Data></Policy><Policies/></Policies>",
    # contact properties on the root's page (unprefixed), a contact date, notes on the root's page
    "<Birthday xmlns=\"Contacts\"><FileAs>x</FileAs><Birthday>2001-01-01T00:00:00.000Z</Birthday><Title/></Birthday>",
    "<Ping xmlns=\"Ping\"><Status>2</Status><Folders><Folder>1</Folder></Folders><HeartbeatInterval>80"
    "</HeartbeatInterval></Ping>",
    # Status by place: Sync item, Sync collection; EstimatedDataSize of a body and of an attachment
    "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection><Status>1</Status>"
    "<Responses><Add><Status>6</Status></Add><Fetch><Status>8</Status><ApplicationData><airsyncbase:Body>"
    "<airsyncbase:Type>4</airsyncbase:Type><airsyncbase:EstimatedDataSize>12</airsyncbase:EstimatedDataSize>"
    "<airsyncbase:Data>From: a\nSubject: b\n\nc</airsyncbase:Data></airsyncbase:Body><airsyncbase:Attachments>"
    "<airsyncbase:Attachment><airsyncbase:EstimatedDataSize>3</airsyncbase:EstimatedDataSize>"
    "<airsyncbase:Method>1</airsyncbase:Method></airsyncbase:Attachment></airsyncbase:Attachments>"
    "</ApplicationData></Fetch></Responses><MoreAvailable/></Collection></Collections></Sync>",
    # a MIME body whose Type comes after its Data, a plain-text body (no Data note: the pass is skipped)
    "<Sync xmlns=\"AirSync\" xmlns:airsyncbase=\"AirSyncBase\"><Collections><Collection><Commands><Add>"
    "<ApplicationData><airsyncbase:Body><airsyncbase:Data>From: a\n\nb</airsyncbase:Data><airsyncbase:Type> 4 "
    "</airsyncbase:Type></airsyncbase:Body></ApplicationData></Add><Add><ApplicationData><airsyncbase:Body>"
    "<airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>From: a\n\nb</airsyncbase:Data></airsyncbase:Body>"
    "</ApplicationData></Add></Commands></Collection></Collections></Sync>",
])
def test_notes_by_place_and_on_the_roots_page(xml: str) -> None:
    data = eas.encode(xml)
    for context in CONTEXTS:
        _check(data, context)


def test_the_decoders_memos_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("eas.annotate")
    monkeypatch.setattr(module, "_MAX_CACHED_VALUE_NOTES", 10)
    monkeypatch.setattr(module, "_MAX_CACHED_PLACE_NOTES", 5)
    xml = ('<Sync xmlns="AirSync"><Collections>'
           + "".join(f"<Collection><Class>C{n}</Class><Status>{n}</Status></Collection>" for n in range(50))
           + "</Collections></Sync>")
    data = eas.encode(xml)
    for context in CONTEXTS:
        _check(data, context)
        assert len(module._VALUE_NOTES) <= 10
        assert len(module._note_plan(context).place_memo) <= 5


REAL_BODIES = [_body(path) for path in sorted((DATA / "real").glob("*.wbxml")) + MULTIPARTS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_same_tree_as_decode_then_annotate_on_damaged_real_bodies(data: st.DataObject) -> None:
    """Bytes changed, inserted (tokens that make markers, placeholders, mixed content) or removed."""
    body = bytearray(data.draw(st.sampled_from(REAL_BODIES)))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            body[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            body.insert(position, data.draw(st.sampled_from([0x00, 0x01, 0x03, 0x83, 0xC3, 0x45, 0x4E, 0x0D, 0x26])))
        else:
            del body[position]
    strict = data.draw(st.booleans())
    context = data.draw(st.sampled_from(CONTEXTS))
    try:
        plain = eas.decode(bytes(body), strict=strict)
    except eas.EasError:
        return
    expected = eas.to_xml(eas.annotate(plain, context), pretty=False)
    assert eas.to_xml(decode_annotated(bytes(body), context, strict=strict), pretty=False) == expected


def test_threads_decoding_at_once_get_the_same_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memos shared by the threads (and emptied while they run: small bounds) give every thread its notes."""
    from concurrent.futures import ThreadPoolExecutor

    module = importlib.import_module("eas.annotate")
    monkeypatch.setattr(module, "_MAX_CACHED_VALUE_NOTES", 16)
    monkeypatch.setattr(module, "MAX_CACHED_NOTES", 16)  # the handlers' memo, as eas.annotate bounds it
    monkeypatch.setattr(module, "_MAX_CACHED_PLACE_NOTES", 4)
    jobs = [(body, context) for body in REAL_BODIES for context in CONTEXTS[:2]]

    def annotated(job: tuple[bytes, AnnotationContext]) -> str:
        return eas.to_xml(decode_annotated(*job), pretty=False)

    expected = [eas.to_xml(eas.annotate(eas.decode(body), context), pretty=False) for body, context in jobs]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(annotated, jobs * 3)) == expected * 3
