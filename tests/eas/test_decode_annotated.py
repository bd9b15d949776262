"""eas.decode_annotated (contact notes written while decoding) gives what decode + annotate gives."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import eas
from eas.annotate import AnnotationContext, decode_annotated

DATA = Path(__file__).resolve().parent.parent / "data"
DOCUMENTS = sorted(DATA.rglob("*.wbxml"))

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


@pytest.fixture(autouse=True)
def _every_document_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("eas.annotate"), "_FAST_MIN_BYTES", 0)


CONTEXTS = [AnnotationContext(command=command, is_response=is_response, protocol_version="14.1")
            for command in (None, "Sync", "Provision") for is_response in (False, True)]


def _check(data: bytes, context: AnnotationContext) -> None:
    expected = eas.to_xml(eas.annotate(eas.decode(data), context), pretty=False)
    root = decode_annotated(data, context)
    assert eas.to_xml(root, pretty=False) == expected
    assert eas.to_xml(eas.annotate(root, context), pretty=False) == expected  # annotating again adds nothing
    assert eas.encode(root) == eas.encode(eas.decode(data))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: str(path.relative_to(DATA)))
def test_same_tree_as_decode_then_annotate(path: Path) -> None:
    data = path.read_bytes()
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
