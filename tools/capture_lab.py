"""Regenerate tests/data/real/: drive real clients against the lab ActiveSync server through mitmdump."""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import eas  # noqa: E402
from eas.query import EasQuery, encode_base64  # noqa: E402

LAB_ORIGIN = os.environ.get("EAS_LAB_ORIGIN", "http://127.0.0.1:18081")
MITMDUMP = Path(sys.executable).with_name("mitmdump")
OUT = REPO / "tests" / "data" / "real"
DEVICE_A = ("EASI0001A", "TestDevice")
DEVICE_B = ("EASI0002B", "OtherDevice")
WBXML = "application/vnd.ms-sync.wbxml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"mitmdump did not listen on {port}")


@contextmanager
def mitmdump(flow_file: Path, confdir: Path) -> Iterator[int]:
    """A plain mitmdump in reverse mode in front of the lab server, writing every flow to flow_file."""
    port = free_port()
    proc = subprocess.Popen(
        [str(MITMDUMP), "-q", "--set", f"confdir={confdir}", "--mode", f"reverse:{LAB_ORIGIN}",
         "--listen-host", "127.0.0.1", "-p", str(port), "-w", str(flow_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def find_text(root: etree._Element, *names: str) -> list[str]:
    """Texts of every element whose local name path ends with names (namespace-blind)."""
    found = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        path = [local(el)]
        parent = el.getparent()
        while parent is not None and len(path) < len(names):
            path.insert(0, local(parent))
            parent = parent.getparent()
        if path[-len(names):] == list(names):
            found.append(el.text or "")
    return found


class Device:
    """One EAS device talking to the lab through the proxy."""

    def __init__(self, port: int, user: str, password: str, device: tuple[str, str], version: str = "14.1"):
        self.base = f"http://127.0.0.1:{port}/Microsoft-Server-ActiveSync"
        self.user, self.device_id, self.device_type = user, device[0], device[1]
        self.version = version
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = (user, password)
        self.policy_key: str | None = None

    def post(self, cmd: str, xml: str | None, *, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             base64_query: bool = False, timeout: float = 30) -> requests.Response:
        hdrs = {"MS-ASProtocolVersion": self.version, "User-Agent": "eas-inspector-lab/1.0"}
        if xml is not None:
            body = eas.encode(xml)
            hdrs["Content-Type"] = WBXML
        if self.policy_key:
            hdrs["X-MS-PolicyKey"] = self.policy_key
        hdrs.update(headers or {})
        if base64_query:
            query = EasQuery(
                form="base64", command=cmd, user=self.user, device_id=self.device_id,
                device_type=self.device_type, protocol_version=self.version, locale=0x0409,
                parameters=tuple((params or {}).items()),
            )
            url = f"{self.base}?{encode_base64(query)}"
            # the base64 form carries version and policy key itself (MS-ASHTTP 2.2.1.1.1.1)
            hdrs.pop("MS-ASProtocolVersion", None)
            return self.session.post(url, data=body, headers=hdrs, timeout=timeout)
        query_params = {"Cmd": cmd, "User": self.user, "DeviceId": self.device_id, "DeviceType": self.device_type}
        query_params.update(params or {})
        return self.session.post(self.base, params=query_params, data=body, headers=hdrs, timeout=timeout)

    def decode(self, response: requests.Response) -> etree._Element | None:
        if not response.content or "wbxml" not in response.headers.get("Content-Type", ""):
            return None
        try:
            return eas.decode(response.content)
        except eas.EasError:
            return None


def sync_xml(collection_id: str, sync_key: str, inner: str = "", options: str = "") -> str:
    return (f'<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
            f"<SyncKey>{sync_key}</SyncKey><CollectionId>{collection_id}</CollectionId>{inner}"
            f"{options}</Collection></Collections></Sync>")


def sync_key_of(root: etree._Element | None) -> str:
    keys = find_text(root, "Collection", "SyncKey") if root is not None else []
    return keys[0] if keys else "0"


CONTACT_ALL_FIELDS = """
<contacts:Anniversary>2010-06-15T00:00:00.000Z</contacts:Anniversary>
<contacts:AssistantName>Ann Assist</contacts:AssistantName>
<contacts:AssistantPhoneNumber>+1 555 0110</contacts:AssistantPhoneNumber>
<contacts:Birthday>1980-02-29T00:00:00.000Z</contacts:Birthday>
<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>Met at the lab. Café ☕</airsyncbase:Data></airsyncbase:Body>
<contacts:Business2PhoneNumber>+1 555 0111</contacts:Business2PhoneNumber>
<contacts:BusinessAddressCity>Springfield</contacts:BusinessAddressCity>
<contacts:BusinessAddressCountry>US</contacts:BusinessAddressCountry>
<contacts:BusinessAddressPostalCode>12345</contacts:BusinessAddressPostalCode>
<contacts:BusinessAddressState>IL</contacts:BusinessAddressState>
<contacts:BusinessAddressStreet>1 Main St</contacts:BusinessAddressStreet>
<contacts:BusinessFaxNumber>+1 555 0112</contacts:BusinessFaxNumber>
<contacts:BusinessPhoneNumber>+1 555 0113</contacts:BusinessPhoneNumber>
<contacts:CarPhoneNumber>+1 555 0114</contacts:CarPhoneNumber>
<contacts:Categories><contacts:Category>Lab</contacts:Category><contacts:Category>VIP</contacts:Category></contacts:Categories>
<contacts:Children><contacts:Child>Dana</contacts:Child><contacts:Child>Eli</contacts:Child></contacts:Children>
<contacts:CompanyName>Example Corp</contacts:CompanyName>
<contacts:Department>R&amp;D</contacts:Department>
<contacts:Email1Address>"Dora Diaz" &lt;dora@example.com&gt;</contacts:Email1Address>
<contacts:Email2Address>dora.diaz@example.org</contacts:Email2Address>
<contacts:Email3Address>dd@example.net</contacts:Email3Address>
<contacts:FileAs>Diaz, Dora</contacts:FileAs>
<contacts:FirstName>Dora</contacts:FirstName>
<contacts:Home2PhoneNumber>+1 555 0115</contacts:Home2PhoneNumber>
<contacts:HomeAddressCity>Shelbyville</contacts:HomeAddressCity>
<contacts:HomeAddressCountry>US</contacts:HomeAddressCountry>
<contacts:HomeAddressPostalCode>54321</contacts:HomeAddressPostalCode>
<contacts:HomeAddressState>IL</contacts:HomeAddressState>
<contacts:HomeAddressStreet>2 Elm St</contacts:HomeAddressStreet>
<contacts:HomeFaxNumber>+1 555 0116</contacts:HomeFaxNumber>
<contacts:HomePhoneNumber>+1 555 0117</contacts:HomePhoneNumber>
<contacts:JobTitle>Engineer</contacts:JobTitle>
<contacts:LastName>Diaz</contacts:LastName>
<contacts:MiddleName>Q</contacts:MiddleName>
<contacts:MobilePhoneNumber>+1 555 0118</contacts:MobilePhoneNumber>
<contacts:OfficeLocation>Building 4</contacts:OfficeLocation>
<contacts:OtherAddressCity>Capital City</contacts:OtherAddressCity>
<contacts:OtherAddressCountry>US</contacts:OtherAddressCountry>
<contacts:OtherAddressPostalCode>99999</contacts:OtherAddressPostalCode>
<contacts:OtherAddressState>IL</contacts:OtherAddressState>
<contacts:OtherAddressStreet>3 Oak St</contacts:OtherAddressStreet>
<contacts:PagerNumber>+1 555 0119</contacts:PagerNumber>
<contacts:RadioPhoneNumber>+1 555 0120</contacts:RadioPhoneNumber>
<contacts:Spouse>Sam Diaz</contacts:Spouse>
<contacts:Suffix>Jr.</contacts:Suffix>
<contacts:Title>Dr.</contacts:Title>
<contacts:WebPage>https://example.com/dora</contacts:WebPage>
<contacts:YomiCompanyName>Ekusanpuru</contacts:YomiCompanyName>
<contacts:YomiFirstName>Dora</contacts:YomiFirstName>
<contacts:YomiLastName>Diasu</contacts:YomiLastName>
<contacts:Picture>iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII=</contacts:Picture>
<contacts2:CustomerId>C-1001</contacts2:CustomerId>
<contacts2:GovernmentId>G-2002</contacts2:GovernmentId>
<contacts2:IMAddress>dora@im.example.com</contacts2:IMAddress>
<contacts2:IMAddress2>dora2@im.example.com</contacts2:IMAddress2>
<contacts2:IMAddress3>dora3@im.example.com</contacts2:IMAddress3>
<contacts2:ManagerName>Bob Brown</contacts2:ManagerName>
<contacts2:CompanyMainPhone>+1 555 0121</contacts2:CompanyMainPhone>
<contacts2:AccountName>ddiaz</contacts2:AccountName>
<contacts2:NickName>Dee</contacts2:NickName>
<contacts2:MMS>+1 555 0122</contacts2:MMS>
"""

# Eastern time (UTC-5, DST second Sunday of March to first Sunday of November) as TIME_ZONE_INFORMATION
TIMEZONE_EST = base64.b64encode(
    (300).to_bytes(4, "little", signed=True)
    + "Eastern Standard Time".encode("utf-16-le").ljust(64, b"\0")
    + bytes([0, 0, 11, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0])
    + (0).to_bytes(4, "little", signed=True)
    + "Eastern Daylight Time".encode("utf-16-le").ljust(64, b"\0")
    + bytes([0, 0, 3, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0])
    + (-60).to_bytes(4, "little", signed=True)
).decode()

CALENDAR_EVENT = f"""
<calendar:TimeZone>{TIMEZONE_EST}</calendar:TimeZone>
<calendar:AllDayEvent>0</calendar:AllDayEvent>
<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>Weekly sync, bring notes.</airsyncbase:Data></airsyncbase:Body>
<calendar:BusyStatus>2</calendar:BusyStatus>
<calendar:DtStamp>20270101T090000Z</calendar:DtStamp>
<calendar:EndTime>20270112T160000Z</calendar:EndTime>
<calendar:Location>Room 7</calendar:Location>
<calendar:Reminder>15</calendar:Reminder>
<calendar:Sensitivity>0</calendar:Sensitivity>
<calendar:Subject>Team sync</calendar:Subject>
<calendar:StartTime>20270112T150000Z</calendar:StartTime>
<calendar:MeetingStatus>1</calendar:MeetingStatus>
<calendar:Attendees>
  <calendar:Attendee><calendar:Email>bob@example.com</calendar:Email><calendar:Name>Bob Brown</calendar:Name><calendar:AttendeeType>1</calendar:AttendeeType></calendar:Attendee>
  <calendar:Attendee><calendar:Email>carol@example.com</calendar:Email><calendar:Name>Carol Clark</calendar:Name><calendar:AttendeeType>2</calendar:AttendeeType></calendar:Attendee>
</calendar:Attendees>
<calendar:Recurrence><calendar:Type>1</calendar:Type><calendar:Interval>1</calendar:Interval><calendar:DayOfWeek>4</calendar:DayOfWeek><calendar:Occurrences>10</calendar:Occurrences></calendar:Recurrence>
"""

TASK = """
<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>File the report.</airsyncbase:Data></airsyncbase:Body>
<tasks:Subject>Quarterly report</tasks:Subject>
<tasks:Importance>2</tasks:Importance>
<tasks:UtcStartDate>2027-01-10T09:00:00.000Z</tasks:UtcStartDate>
<tasks:StartDate>2027-01-10T09:00:00.000Z</tasks:StartDate>
<tasks:UtcDueDate>2027-01-20T17:00:00.000Z</tasks:UtcDueDate>
<tasks:DueDate>2027-01-20T17:00:00.000Z</tasks:DueDate>
<tasks:Complete>0</tasks:Complete>
<tasks:Sensitivity>0</tasks:Sensitivity>
<tasks:ReminderSet>1</tasks:ReminderSet>
<tasks:ReminderTime>2027-01-19T09:00:00.000Z</tasks:ReminderTime>
"""

NS_ALL = ('xmlns:airsyncbase="AirSyncBase" xmlns:contacts="Contacts" xmlns:contacts2="Contacts2" '
          'xmlns:calendar="Calendar" xmlns:tasks="Tasks" xmlns:email="Email"')


def rfc822(subject: str, to: str = "bob@example.com") -> bytes:
    return (f"From: Alice Anderson <alice@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            f"Hello from the eas-inspector lab. Grüße, naïve café.\r\n").encode()


def run_scenario(port: int, log: list[str]) -> None:
    a = Device(port, "alice", "alicepw", DEVICE_A)

    def step(name: str, resp: requests.Response) -> requests.Response:
        log.append(f"{name}: HTTP {resp.status_code} {resp.headers.get('Content-Type', '')} {len(resp.content)} bytes")
        return resp

    step("OPTIONS", a.session.options(a.base, params={"User": "alice", "DeviceId": a.device_id,
                                                       "DeviceType": a.device_type}))
    prov = step("Provision", a.post("Provision", (
        '<Provision xmlns="Provision" xmlns:settings="Settings"><settings:DeviceInformation><settings:Set>'
        "<settings:Model>Lab Phone</settings:Model><settings:IMEI>356938035643809</settings:IMEI>"
        "<settings:FriendlyName>Alice's lab phone</settings:FriendlyName><settings:OS>LabOS 1.0</settings:OS>"
        "<settings:OSLanguage>English</settings:OSLanguage><settings:PhoneNumber>+15550101</settings:PhoneNumber>"
        "<settings:UserAgent>eas-inspector-lab/1.0</settings:UserAgent><settings:MobileOperator>Loopback</settings:MobileOperator>"
        "</settings:Set></settings:DeviceInformation><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>"
        "</Policy></Policies></Provision>")))
    root = a.decode(prov)
    keys = find_text(root, "Policy", "PolicyKey") if root is not None else []
    if keys:
        a.policy_key = keys[0]

    fs = step("FolderSync 0", a.post("FolderSync", '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>'))
    root = a.decode(fs)
    assert root is not None, "FolderSync did not decode"
    folders: dict[str, tuple[str, str]] = {}
    for add in root.iter("{FolderHierarchy}Add"):
        fields = {local(c): (c.text or "") for c in add}
        folders[fields["DisplayName"]] = (fields["ServerId"], fields["Type"])
    by_type = {t: sid for name, (sid, t) in folders.items()}
    folder_key = find_text(root, "FolderSync", "SyncKey")[0]
    inbox, contacts, calendar, tasks = by_type["2"], by_type["9"], by_type["8"], by_type["7"]
    archive = folders.get("Archive", (inbox, ""))[0]
    log.append(f"folders: {folders}")
    step("FolderSync again", a.post("FolderSync", f'<FolderSync xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey></FolderSync>',
                                    base64_query=True))

    # INBOX: initial, then changes with HTML bodies
    r = step("Sync INBOX 0", a.post("Sync", sync_xml(inbox, "0")))
    key = sync_key_of(a.decode(r))
    r = step("Sync INBOX html", a.post("Sync", sync_xml(inbox, key, "<DeletesAsMoves>1</DeletesAsMoves><GetChanges>1</GetChanges><WindowSize>25</WindowSize>",
             "<Options><FilterType>0</FilterType><airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type>"
             "<airsyncbase:TruncationSize>51200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>")))
    inbox_root = a.decode(r)
    inbox_key = sync_key_of(inbox_root)
    server_ids = find_text(inbox_root, "Add", "ServerId") if inbox_root is not None else []
    file_refs = find_text(inbox_root, "Attachment", "FileReference") if inbox_root is not None else []
    log.append(f"inbox items {server_ids} attachments {file_refs}")
    r = step("GetItemEstimate", a.post("GetItemEstimate", (
        '<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>'
        f"<airsync:SyncKey>{inbox_key}</airsync:SyncKey><CollectionId>{inbox}</CollectionId>"
        "<airsync:Options><airsync:FilterType>0</airsync:FilterType></airsync:Options></Collection></Collections></GetItemEstimate>")))

    # Archive with MIME bodies (type 4) and plain text (type 1)
    r = step("Sync Archive 0", a.post("Sync", sync_xml(archive, "0")))
    key = sync_key_of(a.decode(r))
    step("Sync Archive mime", a.post("Sync", sync_xml(archive, key, "<GetChanges>1</GetChanges><WindowSize>10</WindowSize>",
         "<Options><MIMESupport>2</MIMESupport><airsyncbase:BodyPreference><airsyncbase:Type>4</airsyncbase:Type>"
         "</airsyncbase:BodyPreference></Options>"), base64_query=True))

    if server_ids:
        fetch = ('<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase">'
                 f"<Fetch><Store>Mailbox</Store><airsync:CollectionId>{inbox}</airsync:CollectionId>"
                 f"<airsync:ServerId>{server_ids[-1]}</airsync:ServerId><Options><airsyncbase:BodyPreference>"
                 "<airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch></ItemOperations>")
        step("ItemOperations fetch", a.post("ItemOperations", fetch))
        step("ItemOperations multipart", a.post("ItemOperations", fetch.replace("<airsyncbase:Type>1<", "<airsyncbase:Type>4<"),
                                                 headers={"MS-ASAcceptMultiPart": "T"}))
    if file_refs:
        step("ItemOperations attachment", a.post("ItemOperations", (
            '<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase"><Fetch><Store>Mailbox</Store>'
            f"<airsyncbase:FileReference>{file_refs[0]}</airsyncbase:FileReference></Fetch></ItemOperations>"),
            headers={"MS-ASAcceptMultiPart": "T"}))
        a12 = Device(port, "alice", "alicepw", DEVICE_A, version="12.1")
        a12.policy_key = a.policy_key
        step("GetAttachment", a12.post("GetAttachment", None, params={"AttachmentName": file_refs[0]}))

    # Contacts: add one with every MS-ASCNTC field, then a second device reads it back
    r = step("Sync Contacts 0", a.post("Sync", sync_xml(contacts, "0")))
    key = sync_key_of(a.decode(r))
    add = (f'<Sync xmlns="AirSync" {NS_ALL}><Collections><Collection><SyncKey>{key}</SyncKey>'
           f"<CollectionId>{contacts}</CollectionId><Commands><Add><ClientId>c-1</ClientId><ApplicationData>"
           f"{CONTACT_ALL_FIELDS}</ApplicationData></Add></Commands></Collection></Collections></Sync>")
    step("Sync Contacts add", a.post("Sync", add))
    b = Device(port, "alice", "alicepw", DEVICE_B)
    b.policy_key = a.policy_key
    step("FolderSync B", b.post("FolderSync", '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>'))
    for name, cid in (("Contacts", contacts), ("Calendar", calendar), ("Tasks", tasks)):
        if name == "Calendar":
            r = step("Sync Calendar 0", a.post("Sync", sync_xml(calendar, "0")))
            key = sync_key_of(a.decode(r))
            step("Sync Calendar add", a.post("Sync", (
                f'<Sync xmlns="AirSync" {NS_ALL}><Collections><Collection><SyncKey>{key}</SyncKey>'
                f"<CollectionId>{calendar}</CollectionId><Commands><Add><ClientId>e-1</ClientId><ApplicationData>"
                f"{CALENDAR_EVENT}</ApplicationData></Add></Commands></Collection></Collections></Sync>")))
        if name == "Tasks":
            r = step("Sync Tasks 0", a.post("Sync", sync_xml(tasks, "0")))
            key = sync_key_of(a.decode(r))
            step("Sync Tasks add", a.post("Sync", (
                f'<Sync xmlns="AirSync" {NS_ALL}><Collections><Collection><SyncKey>{key}</SyncKey>'
                f"<CollectionId>{tasks}</CollectionId><Commands><Add><ClientId>t-1</ClientId><ApplicationData>"
                f"{TASK}</ApplicationData></Add></Commands></Collection></Collections></Sync>")))
        r = step(f"Sync {name} B 0", b.post("Sync", sync_xml(cid, "0")))
        key = sync_key_of(b.decode(r))
        step(f"Sync {name} B changes", b.post("Sync", sync_xml(cid, key, "<GetChanges>1</GetChanges>",
             "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference></Options>")))

    # Folder hierarchy changes, incl. the plain-text 500 for a contacts folder
    r = step("FolderCreate", a.post("FolderCreate", (
        f'<FolderCreate xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ParentId>0</ParentId>'
        "<DisplayName>Lab Projects</DisplayName><Type>12</Type></FolderCreate>")))
    root = a.decode(r)
    new_folder = find_text(root, "FolderCreate", "ServerId")[0] if root is not None and find_text(root, "FolderCreate", "ServerId") else None
    folder_key = (find_text(root, "FolderCreate", "SyncKey") or [folder_key])[0] if root is not None else folder_key
    if new_folder:
        r = step("FolderUpdate", a.post("FolderUpdate", (
            f'<FolderUpdate xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ServerId>{new_folder}</ServerId>'
            "<ParentId>0</ParentId><DisplayName>Lab Projects 2</DisplayName></FolderUpdate>")))
        root = a.decode(r)
        folder_key = (find_text(root, "FolderUpdate", "SyncKey") or [folder_key])[0] if root is not None else folder_key
        if server_ids:
            step("MoveItems", a.post("MoveItems", (
                f'<MoveItems xmlns="Move"><Move><SrcMsgId>{server_ids[0]}</SrcMsgId><SrcFldId>{inbox}</SrcFldId>'
                f"<DstFldId>{new_folder}</DstFldId></Move></MoveItems>")))
        r = step("FolderDelete", a.post("FolderDelete", (
            f'<FolderDelete xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ServerId>{new_folder}</ServerId></FolderDelete>')))
        root = a.decode(r)
        folder_key = (find_text(root, "FolderDelete", "SyncKey") or [folder_key])[0] if root is not None else folder_key
    r = step("FolderCreate contacts", a.post("FolderCreate", (
        f'<FolderCreate xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ParentId>0</ParentId>'
        "<DisplayName>Lab Contacts</DisplayName><Type>14</Type></FolderCreate>")))
    root = a.decode(r)
    contacts_folder = (find_text(root, "FolderCreate", "ServerId") or [None])[0] if root is not None else None
    folder_key = (find_text(root, "FolderCreate", "SyncKey") or [folder_key])[0] if root is not None else folder_key
    if contacts_folder:
        step("FolderDelete contacts (text 500)", a.post("FolderDelete", (
            f'<FolderDelete xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ServerId>{contacts_folder}</ServerId></FolderDelete>')))

    # Search, ResolveRecipients, Settings
    step("Search Mailbox", a.post("Search", (
        '<Search xmlns="Search" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase"><Store><Name>Mailbox</Name><Query><And>'
        f"<airsync:CollectionId>{inbox}</airsync:CollectionId><FreeText>report</FreeText></And></Query>"
        "<Options><Range>0-9</Range><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
        "<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options></Store></Search>")))
    step("Search GAL", a.post("Search", (
        '<Search xmlns="Search"><Store><Name>GAL</Name><Query>bob</Query><Options><Range>0-9</Range></Options></Store></Search>')))
    step("ResolveRecipients", a.post("ResolveRecipients", (
        '<ResolveRecipients xmlns="ResolveRecipients"><To>bob@example.com</To><To>nobody@nowhere.invalid</To>'
        "<Options><MaxAmbiguousRecipients>5</MaxAmbiguousRecipients></Options></ResolveRecipients>")))
    step("Settings", a.post("Settings", (
        '<Settings xmlns="Settings"><UserInformation><Get/></UserInformation><Oof><Get><BodyType>Text</BodyType></Get></Oof>'
        "<DeviceInformation><Set><Model>Lab Phone</Model><OS>LabOS 1.0</OS><UserAgent>eas-inspector-lab/1.0</UserAgent>"
        "</Set></DeviceInformation></Settings>")))

    # Ping: quick answer (status 1 or 2), heartbeat too long (status 5), empty body (status 3)
    ping = (f'<Ping xmlns="Ping"><HeartbeatInterval>{{hb}}</HeartbeatInterval><Folders><Folder><Id>{inbox}</Id>'
            "<Class>Email</Class></Folder></Folders></Ping>")
    step("Ping", a.post("Ping", ping.format(hb=5), timeout=60))
    step("Ping too long", a.post("Ping", ping.format(hb=3600), timeout=60))
    step("Ping empty", a.post("Ping", None, body=b"", timeout=60))

    # Mail: SendMail 14.1 (WBXML), SendMail 12.1 (message/rfc822), SmartReply, SmartForward, MeetingResponse
    mime = rfc822("Lab message 14.1").decode()
    mime_xml = mime.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    step("SendMail", a.post("SendMail", (
        f'<SendMail xmlns="ComposeMail"><ClientId>lab-send-1</ClientId><SaveInSentItems/><Mime>{mime_xml}</Mime></SendMail>')))
    a12 = Device(port, "alice", "alicepw", DEVICE_A, version="12.1")
    a12.policy_key = a.policy_key
    step("SendMail rfc822", a12.post("SendMail", None, body=rfc822("Lab message 12.1"), params={"SaveInSent": "T"},
                                     headers={"Content-Type": "message/rfc822"}))
    if len(server_ids) > 1:
        step("SmartReply", a.post("SmartReply", (
            '<SmartReply xmlns="ComposeMail"><ClientId>lab-reply-1</ClientId><Source>'
            f"<FolderId>{inbox}</FolderId><ItemId>{server_ids[1]}</ItemId></Source><SaveInSentItems/>"
            f"<Mime>{rfc822('Re: Lunch on Friday?', 'carol@example.com').decode().replace(chr(13), '&#13;')}</Mime></SmartReply>")))
        step("SmartForward", a.post("SmartForward", (
            '<SmartForward xmlns="ComposeMail"><ClientId>lab-fwd-1</ClientId><Source>'
            f"<FolderId>{inbox}</FolderId><ItemId>{server_ids[-1]}</ItemId></Source>"
            f"<Mime>{rfc822('Fw: design', 'carol@example.com').decode().replace(chr(13), '&#13;')}</Mime></SmartForward>")))
    invitations = [sid for sid in server_ids]
    if invitations:
        step("MeetingResponse", a.post("MeetingResponse", (
            '<MeetingResponse xmlns="MeetingResponse"><Request><UserResponse>1</UserResponse>'
            f"<CollectionId>{inbox}</CollectionId><RequestId>{invitations[-1]}</RequestId></Request></MeetingResponse>")))
    step("ValidateCert", a.post("ValidateCert", (
        '<ValidateCert xmlns="ValidateCert"><Certificates><Certificate>'
        "MIIBszCCAVmgAwIBAgIUQWJj</Certificate></Certificates><CheckCRL>0</CheckCRL></ValidateCert>")))
    # a request the server refuses: Find is not implemented by SOGo (501)
    step("Find", a.post("Find", (
        '<Find xmlns="Find"><SearchId>lab-1</SearchId><ExecuteSearch><MailBoxSearchCriterion><Query>'
        "<FreeText>report</FreeText></Query><Options><Range>0-9</Range></Options></MailBoxSearchCriterion>"
        "</ExecuteSearch></Find>")))


def run_pyactivesync(port_tls: int, confdir: Path, log: list[str]) -> None:
    """A third-party client (pyactivesync speaks 16.1, https only) through the same proxy."""
    from pyactivesync import Client

    client = Client(f"127.0.0.1:{port_tls}", "bob", "bobpw", device_id="PYAS0003C", verify_ssl=True)
    session = client._transport.session
    session.trust_env = False
    session.verify = str(confdir / "mitmproxy-ca-cert.pem")
    client._provisioned = True  # SOGo answers Policy Status 2 (no policy), which pyactivesync treats as an error
    folders = client.list_folders()
    log.append(f"pyactivesync folders: {[(f.name, int(f.type)) for f in folders]}")
    inbox = next(f for f in folders if int(f.type) == 2)
    try:
        result = client.sync_folder(inbox.id)
        log.append(f"pyactivesync sync: {type(result).__name__}")
    except Exception as err:  # the third-party client may refuse what SOGo answers; the traffic is what we want
        log.append(f"pyactivesync sync failed: {err!r}")
    try:
        log.append(f"pyactivesync resolve: {client.resolve_recipients('alice@example.com')!r:.80}")
    except Exception as err:
        log.append(f"pyactivesync resolve failed: {err!r}")
    client.close()


def extract(flow_file: Path, out_dir: Path) -> list[str]:
    """Write each flow's bodies as NNN-Command-request|response.<ext>; redact Authorization in a copy of the flows."""
    from mitmproxy import io

    written = []
    flows = []
    with flow_file.open("rb") as fh:
        for flow in io.FlowReader(fh).stream():
            flows.append(flow)
    for number, flow in enumerate(flows, 1):
        req = flow.request
        command = req.query.get("Cmd") or ("Options" if req.method == "OPTIONS" else "B64")
        if command == "B64":
            try:
                command = eas.decode_query(req.url.split("?", 1)[1]).command or "Unknown"
            except Exception:
                command = "Unknown"
        for side, message in (("request", req), ("response", flow.response)):
            if message is None or not message.raw_content:
                continue
            ctype = message.headers.get("content-type", "")
            ext = "wbxml" if "wbxml" in ctype and message.raw_content[:1] == b"\x03" else (
                "multipart" if "multipart" in ctype else "eml" if "rfc822" in ctype else "bin")
            name = f"{number:03d}-{command}-{side}.{ext}"
            (out_dir / name).write_bytes(message.raw_content)
            written.append(name)
        if "authorization" in req.headers:
            scheme = req.headers["authorization"].split(" ", 1)[0]
            req.headers["authorization"] = f"{scheme} cmVkYWN0ZWQ6cmVkYWN0ZWQ="  # "redacted:redacted"
    with (out_dir / "lab-session.mitm").open("wb") as fh:
        writer = io.FlowWriter(fh)
        for flow in flows:
            writer.add(flow)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eas-lab-capture-"))
    confdir = work / "conf"
    flow_file = work / "flows.mitm"
    log: list[str] = []
    with mitmdump(flow_file, confdir) as port:
        run_scenario(port, log)
        run_pyactivesync(port, confdir, log)
    if args.out.exists():
        for old in args.out.iterdir():
            if old.name != "README.md":
                old.unlink()
    args.out.mkdir(parents=True, exist_ok=True)
    written = extract(flow_file, args.out)
    (args.out / "capture.log").write_text("\n".join(log) + "\n")
    print("\n".join(log))
    print(f"{len(written)} bodies written to {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
