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
from collections.abc import Callable, Iterator
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
# hex device IDs: the base64 query form sends them as bytes, and SOGo names such a device by its hex
DEVICE_A = ("EA5100000000000000000000000000A1", "TestDevice")
DEVICE_B = ("EA5100000000000000000000000000B2", "OtherDevice")
DEVICE_CLEANER = ("EA5100000000000000000000000000C3", "LabHousekeeping")
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
    """One EAS device talking to the lab (through the proxy, or straight to the origin for housekeeping)."""

    def __init__(self, base: str, user: str, password: str, device: tuple[str, str], version: str = "14.1"):
        self.base = f"{base}/Microsoft-Server-ActiveSync"
        self.user, self.device_id, self.device_type = user, device[0], device[1]
        self.version = version
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = (user, password)
        self.policy_key: str | None = None

    def post(self, cmd: str, xml: str | None, *, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             base64_query: bool = False, options: frozenset[str] = frozenset(),
             timeout: float = 30) -> requests.Response:
        hdrs = {"MS-ASProtocolVersion": self.version, "User-Agent": "eas-inspector-lab/1.0"}
        if xml is not None:
            body = eas.encode(xml)
            hdrs["Content-Type"] = WBXML
        if self.policy_key:
            hdrs["X-MS-PolicyKey"] = self.policy_key
        hdrs.update(headers or {})
        if base64_query:
            # the device ID goes as raw bytes; SOGo names a binary device ID by its upper-case hex, which is
            # why the lab devices have hex IDs: both query forms then reach the same device state
            query = EasQuery(
                form="base64", command=cmd, user=self.user, device_id_hex=self.device_id,
                device_type=self.device_type, protocol_version=self.version, locale=0x0409,
                policy_key=int(self.policy_key) if self.policy_key else None,
                parameters=tuple((params or {}).items()), options=options,
            )
            url = f"{self.base}?{encode_base64(query)}"
            # the base64 form carries version and policy key itself (MS-ASHTTP 2.2.1.1.1.1)
            hdrs.pop("MS-ASProtocolVersion", None)
            hdrs.pop("X-MS-PolicyKey", None)
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

    def folder_sync(self) -> tuple[etree._Element, dict[str, tuple[str, str]], dict[str, str]]:
        """FolderSync from 0: the root, folders by display name (first wins), the first folder of each type."""
        root = self.decode(self.post("FolderSync", '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>'))
        if root is None:
            raise SystemExit("FolderSync did not answer WBXML")
        folders: dict[str, tuple[str, str]] = {}
        by_type: dict[str, str] = {}
        for add in root.iter("{FolderHierarchy}Add"):
            fields = {local(c): (c.text or "") for c in add}
            # display names are not unique (SOGo names both its calendar and its task list "Personal Calendar")
            folders.setdefault(fields["DisplayName"], (fields["ServerId"], fields["Type"]))
            by_type.setdefault(fields["Type"], fields["ServerId"])
        return root, folders, by_type


def sync_xml(collection_id: str, sync_key: str, inner: str = "", options: str = "") -> str:
    return (f'<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
            f"<SyncKey>{sync_key}</SyncKey><CollectionId>{collection_id}</CollectionId>{inner}"
            f"{options}</Collection></Collections></Sync>")


def sync_key_of(root: etree._Element | None) -> str:
    """The first collection's SyncKey, or "" (a 200 with an empty body keeps the key)."""
    keys = find_text(root, "Collection", "SyncKey") if root is not None else []
    return keys[0] if keys else ""


def first_text(root: etree._Element | None, *path: str) -> str | None:
    """The text of the first element at path (see find_text), or None (also for no document)."""
    found = find_text(root, *path) if root is not None else []
    return found[0] if found else None


def status_of(root: etree._Element | None, *path: str) -> str | None:
    found = find_text(root, *path, "Status") if root is not None else []
    return found[0] if found else None


def items_of(root: etree._Element | None) -> list[dict[str, str]]:
    """Each Commands/Add of a Sync response as {ServerId, <leaf local name>: text (first one wins)}."""
    found: list[dict[str, str]] = []
    if root is None:
        return found
    for add in root.iter("{AirSync}Add"):
        parent = add.getparent()
        if parent is None or local(parent) != "Commands":
            continue
        fields: dict[str, str] = {}
        refs = []
        for el in add.iter():
            if not isinstance(el.tag, str) or len(el):
                continue
            fields.setdefault(local(el), el.text or "")
            if local(el) == "FileReference":
                refs.append(el.text or "")
        fields["FileReferences"] = " ".join(refs)
        found.append(fields)
    return found


def added_server_id(root: etree._Element | None) -> str | None:
    found = find_text(root, "Responses", "Add", "ServerId") if root is not None else []
    return found[0] if found else None


def sync_everything(dev: Device, collection_id: str) -> tuple[str, list[dict[str, str]]]:
    """Sync a collection from 0 to the end; the last sync key and every item seen."""
    key = sync_key_of(dev.decode(dev.post("Sync", sync_xml(collection_id, "0"))))
    seen: list[dict[str, str]] = []
    for _ in range(50):
        root = dev.decode(dev.post("Sync", sync_xml(collection_id, key, "<GetChanges>1</GetChanges><WindowSize>100</WindowSize>")))
        if root is None:  # 200 with an empty body: nothing (more) to report
            break
        key = sync_key_of(root) or key
        seen += items_of(root)
        if not any(True for _ in root.iter("{AirSync}MoreAvailable")):
            break
    return key, seen


def delete_xml(collection_id: str, sync_key: str, server_ids: list[str]) -> str:
    deletes = "".join(f"<Delete><ServerId>{sid}</ServerId></Delete>" for sid in server_ids)
    return sync_xml(collection_id, sync_key, f"<GetChanges>0</GetChanges><Commands>{deletes}</Commands>")


# what the scenario adds, by folder type: a second run first removes what an interrupted run left behind
LAB_ITEMS = {"9": ("FileAs", "Diaz, Dora"), "8": ("Subject", "Team sync"), "7": ("Subject", "Quarterly report")}


def remove_leftovers(log: list[str]) -> None:
    """Straight to the origin (not recorded): delete lab items an earlier run left in alice's folders."""
    cleaner = Device(LAB_ORIGIN, "alice", "alicepw", DEVICE_CLEANER)
    _, folders, by_type = cleaner.folder_sync()
    for folder_type, (field, value) in LAB_ITEMS.items():
        collection_id = by_type[folder_type]
        key, seen = sync_everything(cleaner, collection_id)
        stale = [item["ServerId"] for item in seen if item.get(field) == value]
        if stale:
            cleaner.post("Sync", delete_xml(collection_id, key, stale))
            log.append(f"removed {len(stale)} leftover item(s) of type {folder_type}")
    _, inbox = sync_everything(cleaner, by_type["2"])
    log.append(f"INBOX before the run: {sorted(item.get('Subject', '?') for item in inbox)}")
    log.append(f"folders before the run: {sorted(folders)}")


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

# What device A changes on its items (Change replaces the item: every property it keeps is sent again);
# FileAs and Subject stay, so remove_leftovers still recognises the items.
CHANGED = {
    "Contacts": ("<contacts:FileAs>Diaz, Dora</contacts:FileAs><contacts:FirstName>Dora</contacts:FirstName>"
                 "<contacts:LastName>Diaz</contacts:LastName><contacts:JobTitle>Principal Engineer</contacts:JobTitle>"
                 "<contacts:Email1Address>dora@example.com</contacts:Email1Address>"),
    "Calendar": CALENDAR_EVENT.replace("Room 7", "Room 8"),
    "Tasks": TASK.replace("<tasks:Complete>0</tasks:Complete>",
                          "<tasks:Complete>1</tasks:Complete><tasks:DateCompleted>2027-01-18T12:00:00.000Z"
                          "</tasks:DateCompleted>"),
}

NS_ALL = ('xmlns:airsyncbase="AirSyncBase" xmlns:contacts="Contacts" xmlns:contacts2="Contacts2" '
          'xmlns:calendar="Calendar" xmlns:tasks="Tasks" xmlns:email="Email"')


def rfc822(subject: str, to: str = "bob@example.com") -> bytes:
    return (f"From: Alice Anderson <alice@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            f"Hello from the eas-inspector lab. Grüße, naïve café.\r\n").encode()


def mime_xml(subject: str, to: str = "bob@example.com") -> str:
    """An RFC 822 message as XML text: escaped, CR kept as a character reference."""
    text = rfc822(subject, to).decode()
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def run_scenario(port: int, log: list[str]) -> None:
    proxy = f"http://127.0.0.1:{port}"
    a = Device(proxy, "alice", "alicepw", DEVICE_A)

    def step(name: str, resp: requests.Response, dev: Device | None = None) -> etree._Element | None:
        root = (dev or a).decode(resp)
        status = ""
        if root is not None:
            statuses = [el.text for el in root.iter() if isinstance(el.tag, str) and local(el) == "Status"]
            status = f" Status {','.join(s or '' for s in statuses[:4])}"
        log.append(f"{name}: HTTP {resp.status_code} {resp.headers.get('Content-Type', '')} "
                   f"{len(resp.content)} bytes{status}")
        return root

    step("OPTIONS", a.session.options(a.base, params={"User": "alice", "DeviceId": a.device_id,
                                                       "DeviceType": a.device_type}))
    root = step("Provision", a.post("Provision", (
        '<Provision xmlns="Provision" xmlns:settings="Settings"><settings:DeviceInformation><settings:Set>'
        "<settings:Model>Lab Phone</settings:Model><settings:IMEI>356938035643809</settings:IMEI>"
        "<settings:FriendlyName>Alice's lab phone</settings:FriendlyName><settings:OS>LabOS 1.0</settings:OS>"
        "<settings:OSLanguage>English</settings:OSLanguage><settings:PhoneNumber>+15550101</settings:PhoneNumber>"
        "<settings:UserAgent>eas-inspector-lab/1.0</settings:UserAgent><settings:MobileOperator>Loopback</settings:MobileOperator>"
        "</settings:Set></settings:DeviceInformation><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>"
        "</Policy></Policies></Provision>")))
    keys = find_text(root, "Policy", "PolicyKey") if root is not None else []
    if keys:
        a.policy_key = keys[0]

    root, folders, by_type = a.folder_sync()
    log.append("FolderSync 0: done")
    folder_key = find_text(root, "FolderSync", "SyncKey")[0]
    inbox, contacts, calendar, tasks = by_type["2"], by_type["9"], by_type["8"], by_type["7"]
    archive = folders.get("Archive", (inbox, ""))[0]
    log.append(f"folders: {folders}")
    step("FolderSync again (base64 query)", a.post(
        "FolderSync", f'<FolderSync xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey></FolderSync>',
        base64_query=True))

    # INBOX: initial, then changes with HTML bodies
    key = sync_key_of(step("Sync INBOX 0", a.post("Sync", sync_xml(inbox, "0"))))
    inbox_root = step("Sync INBOX html", a.post("Sync", sync_xml(
        inbox, key, "<DeletesAsMoves>1</DeletesAsMoves><GetChanges>1</GetChanges><WindowSize>25</WindowSize>",
        "<Options><FilterType>0</FilterType><airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type>"
        "<airsyncbase:TruncationSize>51200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>")))
    inbox_key = sync_key_of(inbox_root) or key
    mails = items_of(inbox_root)

    def pick(test: Callable[[dict[str, str]], bool]) -> dict[str, str] | None:
        return next((mail for mail in mails if test(mail)), None)

    plain = pick(lambda m: m.get("Subject", "").startswith("Quarterly report"))
    lunch = pick(lambda m: m.get("Subject") == "Lunch on Friday?")
    with_files = pick(lambda m: bool(m["FileReferences"]))
    invite = pick(lambda m: m.get("MessageClass", "").startswith("IPM.Schedule.Meeting.Request"))
    log.append("inbox: " + "; ".join(f"{m['ServerId']}={m.get('Subject', '?')}" for m in mails))
    step("GetItemEstimate", a.post("GetItemEstimate", (
        '<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>'
        f"<airsync:SyncKey>{inbox_key}</airsync:SyncKey><CollectionId>{inbox}</CollectionId>"
        "<airsync:Options><airsync:FilterType>0</airsync:FilterType></airsync:Options></Collection></Collections></GetItemEstimate>")))

    # Mark a message read and flagged for follow-up, then back (the seeded mail stays as other lab users expect)
    if lunch:
        for label, read, flag in (
            ("read + flag", "1", "<email:Flag><email:Status>2</email:Status><email:FlagType>Follow up</email:FlagType>"
             "<tasks:StartDate>2027-01-10T00:00:00.000Z</tasks:StartDate><tasks:UtcStartDate>2027-01-10T00:00:00.000Z"
             "</tasks:UtcStartDate><tasks:DueDate>2027-01-11T00:00:00.000Z</tasks:DueDate><tasks:UtcDueDate>"
             "2027-01-11T00:00:00.000Z</tasks:UtcDueDate></email:Flag>"),
            ("unread + no flag", "0", "<email:Flag/>"),
        ):
            inbox_key = sync_key_of(step(f"Sync INBOX {label}", a.post("Sync", (
                f'<Sync xmlns="AirSync" {NS_ALL}><Collections><Collection><SyncKey>{inbox_key}</SyncKey>'
                f"<CollectionId>{inbox}</CollectionId><GetChanges>0</GetChanges><Commands><Change>"
                f"<ServerId>{lunch['ServerId']}</ServerId><ApplicationData><email:Read>{read}</email:Read>{flag}"
                "</ApplicationData></Change></Commands></Collection></Collections></Sync>")))) or inbox_key

    # Archive with MIME bodies (type 4), through the base64 query form
    key = sync_key_of(step("Sync Archive 0", a.post("Sync", sync_xml(archive, "0"))))
    step("Sync Archive mime (base64 query)", a.post("Sync", sync_xml(
        archive, key, "<GetChanges>1</GetChanges><WindowSize>10</WindowSize>",
        "<Options><MIMESupport>2</MIMESupport><airsyncbase:BodyPreference><airsyncbase:Type>4</airsyncbase:Type>"
        "</airsyncbase:BodyPreference></Options>"), base64_query=True))

    def fetch_xml(server_id: str, body_type: int) -> str:
        return ('<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase">'
                f"<Fetch><Store>Mailbox</Store><airsync:CollectionId>{inbox}</airsync:CollectionId>"
                f"<airsync:ServerId>{server_id}</airsync:ServerId><Options><airsyncbase:BodyPreference>"
                f"<airsyncbase:Type>{body_type}</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch></ItemOperations>")

    if invite:
        step("ItemOperations fetch", a.post("ItemOperations", fetch_xml(invite["ServerId"], 1)))
    if with_files:
        step("ItemOperations multipart", a.post("ItemOperations", fetch_xml(with_files["ServerId"], 4),
                                                headers={"MS-ASAcceptMultiPart": "T"}))
        file_ref = with_files["FileReferences"].split()[0]
        step("ItemOperations attachment (base64 query, AcceptMultiPart)", a.post("ItemOperations", (
            '<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase"><Fetch><Store>Mailbox</Store>'
            f"<airsyncbase:FileReference>{file_ref}</airsyncbase:FileReference></Fetch></ItemOperations>"),
            base64_query=True, options=frozenset({"AcceptMultiPart"})))
        a12 = Device(proxy, "alice", "alicepw", DEVICE_A, version="12.1")
        a12.policy_key = a.policy_key
        step("GetAttachment", a12.post("GetAttachment", None, params={"AttachmentName": file_ref}))

    # Contacts, calendar, tasks: device A adds one item with every field; device B reads them back; A deletes
    b = Device(proxy, "alice", "alicepw", DEVICE_B)
    b.policy_key = a.policy_key
    b.folder_sync()
    log.append("FolderSync B: done")
    for name, collection_id, client_id, fields in (("Contacts", contacts, "c-1", CONTACT_ALL_FIELDS),
                                                   ("Calendar", calendar, "e-1", CALENDAR_EVENT),
                                                   ("Tasks", tasks, "t-1", TASK)):
        key = sync_key_of(step(f"Sync {name} 0", a.post("Sync", sync_xml(collection_id, "0"))))
        # SOGo only accepts the sync key of an Add's answer later on if the device asked for changes first
        key = sync_key_of(step(f"Sync {name} changes", a.post("Sync", sync_xml(
            collection_id, key, "<GetChanges>1</GetChanges><WindowSize>100</WindowSize>")))) or key
        root = step(f"Sync {name} add", a.post("Sync", (
            f'<Sync xmlns="AirSync" {NS_ALL}><Collections><Collection><SyncKey>{key}</SyncKey>'
            f"<CollectionId>{collection_id}</CollectionId><Commands><Add><ClientId>{client_id}</ClientId><ApplicationData>"
            f"{fields}</ApplicationData></Add></Commands></Collection></Collections></Sync>")))
        added, key = added_server_id(root), sync_key_of(root)

        def b_sync(label: str, b_key: str) -> str:
            # SOGo's contact/calendar sync keys are Unix seconds: a change in the same second as B's key is
            # reported only once that second has passed
            time.sleep(1.1)
            return sync_key_of(step(label, b.post("Sync", sync_xml(
                collection_id, b_key, "<GetChanges>1</GetChanges><WindowSize>100</WindowSize>",
                "<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
                "</airsyncbase:BodyPreference></Options>")), b)) or b_key

        b_key = sync_key_of(step(f"Sync {name} B 0", b.post("Sync", sync_xml(collection_id, "0")), b))
        b_key = b_sync(f"Sync {name} B changes", b_key)
        if added:
            key = sync_key_of(step(f"Sync {name} change", a.post("Sync", (
                f'<Sync xmlns="AirSync" {NS_ALL}><Collections><Collection><SyncKey>{key}</SyncKey>'
                f"<CollectionId>{collection_id}</CollectionId><GetChanges>0</GetChanges><Commands><Change>"
                f"<ServerId>{added}</ServerId><ApplicationData>{CHANGED[name]}</ApplicationData></Change></Commands>"
                "</Collection></Collections></Sync>")))) or key
            b_key = b_sync(f"Sync {name} B sees the change", b_key)
            step(f"Sync {name} delete", a.post("Sync", delete_xml(collection_id, key, [added])))
            b_sync(f"Sync {name} B sees the delete", b_key)

    # Folder hierarchy changes; MoveItems there and back; the plain-text 500 for a contacts folder
    root = step("FolderCreate", a.post("FolderCreate", (
        f'<FolderCreate xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ParentId>0</ParentId>'
        "<DisplayName>Lab Projects</DisplayName><Type>12</Type></FolderCreate>")))
    new_folder = first_text(root, "FolderCreate", "ServerId")
    folder_key = first_text(root, "FolderCreate", "SyncKey") or folder_key
    if new_folder is None:  # left over by an interrupted run
        new_folder = (folders.get("Lab Projects") or folders.get("Lab Projects 2") or (None, ""))[0]
    if new_folder:
        root = step("FolderUpdate", a.post("FolderUpdate", (
            f'<FolderUpdate xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ServerId>{new_folder}</ServerId>'
            "<ParentId>0</ParentId><DisplayName>Lab Projects 2</DisplayName></FolderUpdate>")))
        folder_key = first_text(root, "FolderUpdate", "SyncKey") or folder_key
        if plain:
            root = step("MoveItems", a.post("MoveItems", (
                f'<MoveItems xmlns="Move"><Move><SrcMsgId>{plain["ServerId"]}</SrcMsgId><SrcFldId>{inbox}</SrcFldId>'
                f"<DstFldId>{new_folder}</DstFldId></Move></MoveItems>")))
            moved = first_text(root, "Response", "DstMsgId")
            if moved:  # back to the INBOX, so the seeded mail stays where other users of the lab expect it
                step("MoveItems back", a.post("MoveItems", (
                    f'<MoveItems xmlns="Move"><Move><SrcMsgId>{moved}</SrcMsgId><SrcFldId>{new_folder}</SrcFldId>'
                    f"<DstFldId>{inbox}</DstFldId></Move></MoveItems>")))
        root = step("FolderDelete", a.post("FolderDelete", (
            f'<FolderDelete xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ServerId>{new_folder}</ServerId></FolderDelete>')))
        folder_key = first_text(root, "FolderDelete", "SyncKey") or folder_key
    root = step("FolderCreate contacts", a.post("FolderCreate", (
        f'<FolderCreate xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ParentId>0</ParentId>'
        "<DisplayName>Lab Contacts</DisplayName><Type>14</Type></FolderCreate>")))
    contacts_folder = first_text(root, "FolderCreate", "ServerId")
    folder_key = first_text(root, "FolderCreate", "SyncKey") or folder_key
    if contacts_folder is None:  # SOGo cannot delete it, so it exists from the second run on
        contacts_folder = folders.get("Lab Contacts", (None, ""))[0]
    if contacts_folder:
        step("FolderDelete contacts (text 500)", a.post("FolderDelete", (
            f'<FolderDelete xmlns="FolderHierarchy"><SyncKey>{folder_key}</SyncKey><ServerId>{contacts_folder}</ServerId></FolderDelete>')))

    # Search, ResolveRecipients, Settings
    step("Search Mailbox", a.post("Search", (
        '<Search xmlns="Search" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase"><Store><Name>Mailbox</Name><Query><And>'
        f"<airsync:CollectionId>{inbox}</airsync:CollectionId><FreeText>Lunch</FreeText></And></Query>"
        "<Options><Range>0-9</Range><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
        "<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options></Store></Search>")))
    step("Search GAL", a.post("Search", (
        '<Search xmlns="Search"><Store><Name>GAL</Name><Query>bob</Query><Options><Range>0-9</Range></Options></Store></Search>')))
    step("ResolveRecipients", a.post("ResolveRecipients", (
        '<ResolveRecipients xmlns="ResolveRecipients"><To>bob@example.com</To><To>nobody@nowhere.invalid</To>'
        "<Options><MaxAmbiguousRecipients>5</MaxAmbiguousRecipients></Options></ResolveRecipients>")))
    step("ResolveRecipients availability", a.post("ResolveRecipients", (
        '<ResolveRecipients xmlns="ResolveRecipients"><To>bob@example.com</To><To>carol@example.com</To>'
        "<Options><MaxAmbiguousRecipients>5</MaxAmbiguousRecipients><Availability>"
        "<StartTime>2027-01-15T00:00:00.000Z</StartTime><EndTime>2027-01-16T00:00:00.000Z</EndTime>"
        "</Availability></Options></ResolveRecipients>")))
    step("Settings", a.post("Settings", (
        '<Settings xmlns="Settings"><UserInformation><Get/></UserInformation><Oof><Get><BodyType>Text</BodyType></Get></Oof>'
        "<DeviceInformation><Set><Model>Lab Phone</Model><OS>LabOS 1.0</OS><UserAgent>eas-inspector-lab/1.0</UserAgent>"
        "</Set></DeviceInformation></Settings>")))

    # Ping: catch up on the INBOX first (the moves changed it), then a normal Ping (1 or 2), a heartbeat
    # above the server's maximum (5) and an empty body (3)
    ping = (f'<Ping xmlns="Ping"><HeartbeatInterval>{{hb}}</HeartbeatInterval><Folders><Folder><Id>{inbox}</Id>'
            "<Class>Email</Class></Folder></Folders></Ping>")
    step("Ping (changes pending: 2)", a.post("Ping", ping.format(hb=5), timeout=60))
    # SOGo takes a sync key as acknowledged when the device uses it: two syncs, then the INBOX is quiet
    for label in ("catch-up", "acknowledge"):
        inbox_key = sync_key_of(step(f"Sync INBOX {label}", a.post("Sync", sync_xml(
            inbox, inbox_key, "<GetChanges>1</GetChanges><WindowSize>100</WindowSize>")))) or inbox_key
    step("Ping (quiet: 1 after the heartbeat)", a.post("Ping", ping.format(hb=5), timeout=60))
    step("Ping too long (5)", a.post("Ping", ping.format(hb=3600), timeout=60))
    # an empty Ping repeats the device's last Ping; device B never sent one (3)
    step("Ping empty (3)", b.post("Ping", None, body=b"", timeout=60), b)

    # Mail: SendMail 14.1 (WBXML), SendMail 12.1 (message/rfc822), SmartReply, SmartForward, MeetingResponse
    step("SendMail", a.post("SendMail", (
        f'<SendMail xmlns="ComposeMail"><ClientId>lab-send-1</ClientId><SaveInSentItems/>'
        f'<Mime>{mime_xml("Lab message 14.1")}</Mime></SendMail>')))
    a12 = Device(proxy, "alice", "alicepw", DEVICE_A, version="12.1")
    a12.policy_key = a.policy_key
    step("SendMail rfc822", a12.post("SendMail", None, body=rfc822("Lab message 12.1"), params={"SaveInSent": "T"},
                                     headers={"Content-Type": "message/rfc822"}))
    if lunch:
        step("SmartReply", a.post("SmartReply", (
            '<SmartReply xmlns="ComposeMail"><ClientId>lab-reply-1</ClientId><Source>'
            f"<FolderId>{inbox}</FolderId><ItemId>{lunch['ServerId']}</ItemId></Source><SaveInSentItems/>"
            f"<Mime>{mime_xml('Re: Lunch on Friday?', 'carol@example.com')}</Mime></SmartReply>")))
    if with_files:
        step("SmartForward", a.post("SmartForward", (
            '<SmartForward xmlns="ComposeMail"><ClientId>lab-fwd-1</ClientId><Source>'
            f"<FolderId>{inbox}</FolderId><ItemId>{with_files['ServerId']}</ItemId></Source>"
            f"<Mime>{mime_xml('Fw: design', 'carol@example.com')}</Mime></SmartForward>")))
    if invite:
        step("MeetingResponse", a.post("MeetingResponse", (
            '<MeetingResponse xmlns="MeetingResponse"><Request><UserResponse>1</UserResponse>'
            f"<CollectionId>{inbox}</CollectionId><RequestId>{invite['ServerId']}</RequestId></Request></MeetingResponse>")))
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
    calls: list[tuple[str, Callable[[], object]]] = []
    state: dict[str, str] = {}

    def sync(label: str) -> object:
        result = client.sync_folder(inbox.id, state.get("key", "0"))
        state["key"] = result.sync_key
        if result.added:
            state["item"] = result.added[0].server_id
        return f"{label}: key {result.sync_key}, {len(result.added)} added"

    calls += [("sync bootstrap", lambda: sync("bootstrap")), ("sync items", lambda: sync("items")),
              ("estimate", lambda: client.get_item_estimate(inbox.id, state["key"])),
              ("fetch", lambda: client.fetch_item(inbox.id, state["item"]).fields.get("Subject")),
              ("search GAL", lambda: [e.display_name for e in client.search_gal("alice")]),
              ("oof", lambda: client.get_oof()),
              ("resolve", lambda: client.resolve_recipients("alice@example.com"))]
    for label, call in calls:
        try:
            log.append(f"pyactivesync {label}: {call()!r:.100}")
        except Exception as err:  # the third-party client may refuse what SOGo answers; the traffic is what we want
            log.append(f"pyactivesync {label} failed: {err!r:.100}")
    client.close()


def extract(flow_file: Path, out_dir: Path) -> list[str]:
    """Write each flow's bodies as NNN-Command-request|response.<ext>; redact Authorization in a copy of the flows."""
    from mitmproxy import http, io

    written = []
    with flow_file.open("rb") as fh:
        flows = [flow for flow in io.FlowReader(fh).stream() if isinstance(flow, http.HTTPFlow)]
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
        writer = io.FlowWriter(fh)  # type: ignore[no-untyped-call]
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
    try:
        remove_leftovers(log)
        with mitmdump(flow_file, confdir) as port:
            run_scenario(port, log)
            run_pyactivesync(port, confdir, log)
    except BaseException:
        print("\n".join(log), file=sys.stderr)
        print(f"flows so far: {flow_file}", file=sys.stderr)
        raise
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
