"""Benchmark inputs: the real-traffic corpus, a Sync of 1,000 full contacts, a Sync of 200 e-mails with 4 KB bodies."""

from __future__ import annotations

import base64
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import eas  # noqa: E402

REAL_CORPUS = REPO / "tests" / "data" / "real"


@dataclass(frozen=True)
class Shape:
    """A named list of WBXML documents, measured as one workload."""

    name: str
    description: str
    documents: tuple[bytes, ...]
    is_response: tuple[bool, ...]  # per document: a server response (for annotation)

    @property
    def total_bytes(self) -> int:
        return sum(len(doc) for doc in self.documents)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _sync_response(class_name: str, collection_id: str, adds: list[str], namespaces: str) -> str:
    return (f'<Sync xmlns="AirSync" {namespaces}><Collections><Collection><Class>{class_name}</Class>'
            f"<SyncKey>42</SyncKey><CollectionId>{collection_id}</CollectionId><Status>1</Status>"
            f"<Commands>{''.join(adds)}</Commands></Collection></Collections></Sync>")


# A 48x48 PNG-sized photo is a few kB; a repeating pattern keeps the shape deterministic.
_PICTURE = base64.b64encode(hashlib.sha256(b"eas-inspector bench").digest() * 40).decode()

# MS-ASCNTC 2.2.2: every Contacts (page 1) property a 14.1 server sends, and the Contacts2 (page 12) ones.
_CONTACT_FIELDS: tuple[tuple[str, str], ...] = (
    ("contacts:Alias", "ddiaz{i}"),
    ("contacts:Anniversary", "2010-06-15T00:00:00.000Z"),
    ("contacts:AssistantName", "Ann Assist {i}"),
    ("contacts:AssistantPhoneNumber", "+1 555 01{i:04d}"),
    ("contacts:Birthday", "1980-02-29T00:00:00.000Z"),
    ("contacts:Business2PhoneNumber", "+1 555 02{i:04d}"),
    ("contacts:BusinessAddressCity", "Springfield"),
    ("contacts:BusinessAddressCountry", "United States"),
    ("contacts:BusinessAddressPostalCode", "{i:05d}"),
    ("contacts:BusinessAddressState", "IL"),
    ("contacts:BusinessAddressStreet", "{i} Main Street, Suite 100"),
    ("contacts:BusinessFaxNumber", "+1 555 03{i:04d}"),
    ("contacts:BusinessPhoneNumber", "+1 555 04{i:04d}"),
    ("contacts:CarPhoneNumber", "+1 555 05{i:04d}"),
    ("contacts:CompanyName", "Example Corp & Sons"),
    ("contacts:Department", "R&D"),
    ("contacts:Email1Address", '"Dora Diaz {i}" <dora{i}@example.com>'),
    ("contacts:Email2Address", "dora.diaz{i}@example.org"),
    ("contacts:Email3Address", "dd{i}@example.net"),
    ("contacts:FileAs", "Diaz, Dora {i}"),
    ("contacts:FirstName", "Dora"),
    ("contacts:Home2PhoneNumber", "+1 555 06{i:04d}"),
    ("contacts:HomeAddressCity", "Shelbyville"),
    ("contacts:HomeAddressCountry", "United States"),
    ("contacts:HomeAddressPostalCode", "54321"),
    ("contacts:HomeAddressState", "IL"),
    ("contacts:HomeAddressStreet", "2 Elm Street"),
    ("contacts:HomeFaxNumber", "+1 555 07{i:04d}"),
    ("contacts:HomePhoneNumber", "+1 555 08{i:04d}"),
    ("contacts:JobTitle", "Senior Engineer"),
    ("contacts:LastName", "Diaz {i}"),
    ("contacts:MiddleName", "Quinn"),
    ("contacts:MobilePhoneNumber", "+1 555 09{i:04d}"),
    ("contacts:OfficeLocation", "Building 4, room {i}"),
    ("contacts:OtherAddressCity", "Capital City"),
    ("contacts:OtherAddressCountry", "United States"),
    ("contacts:OtherAddressPostalCode", "99999"),
    ("contacts:OtherAddressState", "IL"),
    ("contacts:OtherAddressStreet", "3 Oak Street"),
    ("contacts:PagerNumber", "+1 555 10{i:04d}"),
    ("contacts:RadioPhoneNumber", "+1 555 11{i:04d}"),
    ("contacts:Spouse", "Sam Diaz"),
    ("contacts:Suffix", "Jr."),
    ("contacts:Title", "Dr."),
    ("contacts:WebPage", "https://example.com/people/{i}"),
    ("contacts:YomiCompanyName", "Ekusanpuru"),
    ("contacts:YomiFirstName", "Dōra"),
    ("contacts:YomiLastName", "Diasu"),
    ("contacts:WeightedRank", "{i}"),
    ("contacts2:CustomerId", "C-{i}"),
    ("contacts2:GovernmentId", "G-{i}"),
    ("contacts2:IMAddress", "dora{i}@im.example.com"),
    ("contacts2:IMAddress2", "dora{i}@im2.example.com"),
    ("contacts2:IMAddress3", "dora{i}@im3.example.com"),
    ("contacts2:ManagerName", "Bob Brown"),
    ("contacts2:CompanyMainPhone", "+1 555 0100"),
    ("contacts2:AccountName", "ddiaz{i}"),
    ("contacts2:NickName", "Dee"),
    ("contacts2:MMS", "+1 555 12{i:04d}"),
)


def contact_xml(i: int) -> str:
    fields = "".join(f"<{tag}>{_escape(value.format(i=i))}</{tag}>" for tag, value in _CONTACT_FIELDS)
    return (f"<Add><ServerId>{i:06d}.vcf</ServerId><ApplicationData>{fields}"
            "<contacts:Categories><contacts:Category>Lab</contacts:Category><contacts:Category>VIP</contacts:Category>"
            "</contacts:Categories><contacts:Children><contacts:Child>Dana</contacts:Child>"
            "<contacts:Child>Eli</contacts:Child></contacts:Children>"
            "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:EstimatedDataSize>44"
            "</airsyncbase:EstimatedDataSize><airsyncbase:Data>Met at the lab. Café ☕ — notes for contact "
            f"{i}.</airsyncbase:Data></airsyncbase:Body><contacts:Picture>{_PICTURE}</contacts:Picture>"
            "</ApplicationData></Add>")


def contacts_sync(count: int = 1000) -> bytes:
    """A Sync response with `count` contacts, each with every MS-ASCNTC property."""
    xml = _sync_response("Contacts", "vcard%2Fpersonal", [contact_xml(i) for i in range(count)],
                         'xmlns:contacts="Contacts" xmlns:contacts2="Contacts2" xmlns:airsyncbase="AirSyncBase"')
    return eas.encode(xml)


_PARAGRAPH = ("Hello team,\r\n\r\nplease find below the minutes of today's meeting. We agreed to ship the "
              "release candidate on Friday if the remaining issues (#1234, #1240 & #1251) are closed by "
              "Thursday noon; otherwise we move the date by one week. Naïve estimates <don't> count.\r\n")


def mail_body(i: int, size: int = 4096) -> str:
    text = f"Message {i}\r\n"
    while len(text.encode("utf-8")) < size:
        text += _PARAGRAPH
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")


def mail_xml(i: int) -> str:
    conversation = base64.b64encode(hashlib.md5(f"conv{i // 4}".encode()).digest()).decode()
    index = base64.b64encode(bytes([1, 0xD4, i % 256, 0x10, 0x20])).decode()
    return (f"<Add><ServerId>{i}</ServerId><ApplicationData>"
            f"<email:To>\"Alice Anderson\" &lt;alice@example.com&gt;</email:To>"
            f"<email:From>\"Bob Brown\" &lt;bob@example.com&gt;</email:From>"
            f"<email:Subject>Minutes {i}: release planning</email:Subject>"
            "<email:DateReceived>2026-01-01T10:00:00.000Z</email:DateReceived>"
            "<email:DisplayTo>Alice Anderson</email:DisplayTo>"
            f"<email:ThreadTopic>Minutes {i}: release planning</email:ThreadTopic>"
            "<email:Importance>1</email:Importance><email:Read>0</email:Read>"
            "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
            "<airsyncbase:EstimatedDataSize>4096</airsyncbase:EstimatedDataSize>"
            f"<airsyncbase:Data>{_escape(mail_body(i))}</airsyncbase:Data></airsyncbase:Body>"
            "<email:MessageClass>IPM.Note</email:MessageClass><email:InternetCPID>65001</email:InternetCPID>"
            "<email:Flag/><email:ContentClass>urn:content-classes:message</email:ContentClass>"
            "<airsyncbase:NativeBodyType>1</airsyncbase:NativeBodyType>"
            f'<email2:ConversationId wbxml:opaque="base64">{conversation}</email2:ConversationId>'
            f'<email2:ConversationIndex wbxml:opaque="base64">{index}</email2:ConversationIndex>'
            "<email:Categories/></ApplicationData></Add>")


def mails_sync(count: int = 200) -> bytes:
    """A Sync response with `count` e-mails with 4 KB plain-text bodies (CR LF line ends, some escaping)."""
    xml = _sync_response("Email", "mail%2FINBOX", [mail_xml(i) for i in range(count)],
                         'xmlns:email="Email" xmlns:airsyncbase="AirSyncBase" xmlns:email2="Email2" '
                         f'xmlns:wbxml="{eas.codepages.WBXML_NS}"')
    return eas.encode(xml)


def _small_documents(count: int) -> list[bytes]:
    """Small Sync / Ping / FolderSync requests and answers, when the real corpus is not there."""
    templates = [
        '<Ping xmlns="Ping"><Status>2</Status><Folders><Folder>mail%2FINBOX{i}</Folder></Folders></Ping>',
        '<FolderSync xmlns="FolderHierarchy"><SyncKey>{i}</SyncKey></FolderSync>',
        ('<Sync xmlns="AirSync"><Collections><Collection><SyncKey>{i}</SyncKey><CollectionId>mail%2FINBOX'
         "</CollectionId><GetChanges>1</GetChanges><WindowSize>25</WindowSize></Collection></Collections></Sync>"),
        ('<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>{i}</SyncKey><Changes><Count>1</Count>'
         "<Add><ServerId>f{i}</ServerId><ParentId>0</ParentId><DisplayName>Folder {i}</DisplayName><Type>12</Type>"
         "</Add></Changes></FolderSync>"),
    ]
    return [eas.encode(templates[i % len(templates)].format(i=i)) for i in range(count)]


def real_corpus_entries() -> list[tuple[bool, bytes]]:
    """(is a response, body) for every WBXML body of tests/data/real and the WBXML part of each multipart."""
    from eas.multipart import parse_multipart

    entries = [("-response." in path.name, path.read_bytes()) for path in sorted(REAL_CORPUS.glob("*.wbxml"))]
    entries += [(True, parse_multipart(path.read_bytes())[0]) for path in sorted(REAL_CORPUS.glob("*.multipart"))]
    return entries


def real_corpus() -> list[bytes]:
    """Every WBXML body of tests/data/real (requests and responses), plus the WBXML part of each multipart."""
    return [body for _, body in real_corpus_entries()]


def shapes() -> list[Shape]:
    corpus = real_corpus_entries()
    if len(corpus) >= 50:
        first = Shape("real corpus", f"{len(corpus)} real SOGo/pyactivesync bodies (tests/data/real)",
                      tuple(body for _, body in corpus), tuple(is_response for is_response, _ in corpus))
    else:
        small = _small_documents(1000)
        first = Shape("small documents", "1,000 small Sync/Ping/FolderSync documents", tuple(small),
                      tuple(i % 4 in (0, 3) for i in range(len(small))))  # templates 0 and 3 are responses
    return [
        first,
        Shape("1,000 contacts", "one Sync response, 1,000 contacts with every MS-ASCNTC property",
              (contacts_sync(),), (True,)),
        Shape("200 e-mails", "one Sync response, 200 e-mails with 4 KB plain-text bodies", (mails_sync(),), (True,)),
    ]
