"""Differential tests against libwbxml (Debian libwbxml2-utils): our token numbers, checked by an independent codec.

libwbxml's ACTIVESYNC tables were written independently of ours, from other editions of MS-ASWBXML, so
agreement on every token number is real evidence. Where the two disagree on a *name*, the Microsoft
spec wins; the tables below list every such case and why. The helpers `libwbxml_encode` and
`libwbxml_decode` run the command line tools on bytes through temporary files; later differential tests
(full decodes of captured bodies) can reuse them.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from eas.codepages import CODE_PAGES, CodePage

XML2WBXML = shutil.which("xml2wbxml")
WBXML2XML = shutil.which("wbxml2xml")

pytestmark = pytest.mark.skipif(
    XML2WBXML is None or WBXML2XML is None,
    reason="libwbxml2-utils (xml2wbxml, wbxml2xml) not installed",
)

# WBXML 1.3 header as both tools write it with -a / -n: version 1.3, unknown public id, UTF-8, no string table.
HEADER = bytes([0x03, 0x01, 0x6A, 0x00])
SWITCH_PAGE, END, STR_I, OPAQUE, CONTENT_FLAG = 0x00, 0x01, 0x03, 0xC3, 0x40

# libwbxml's DOCTYPE selects its ACTIVESYNC language table when it reads XML.
DOCTYPE = '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">'

# libwbxml's namespace spelling per page (it has no page 25: Find).
LIBWBXML_NAMESPACES = (
    "AirSync:", "Contacts:", "Email:", "AirNotify:", "Calendar:", "Move:", "GetItemEstimate:",
    "FolderHierarchy:", "MeetingResponse:", "Tasks:", "ResolveRecipients:", "ValidateCert:",
    "Contacts2:", "Ping:", "Provision:", "Search:", "Gal:", "AirSyncBase:", "Settings:",
    "DocumentLibrary:", "ItemOperations:", "ComposeMail:", "Email2:", "Notes:", "RightsManagement:",
)
LIBWBXML_LAST_PAGE = 24


class LibwbxmlError(RuntimeError):
    """xml2wbxml or wbxml2xml failed or wrote nothing."""


def _run(tool: str, args: list[str], data: bytes, suffix_in: str, suffix_out: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="libwbxml-") as tmp:
        source = Path(tmp) / f"in{suffix_in}"
        target = Path(tmp) / f"out{suffix_out}"
        source.write_bytes(data)
        done = subprocess.run(
            [tool, *args, "-o", str(target), str(source)], capture_output=True, timeout=30, check=False
        )
        if done.returncode != 0 or not target.exists():
            output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
            raise LibwbxmlError(f"{Path(tool).name} exit {done.returncode}: {output}")
        return target.read_bytes()


def libwbxml_encode(xml: str | bytes) -> bytes:
    """Encode an XML document (with libwbxml's DOCTYPE and names) to WBXML with `xml2wbxml -k -n -a`."""
    assert XML2WBXML is not None
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return _run(XML2WBXML, ["-k", "-n", "-a"], data, ".xml", ".wbxml")


def libwbxml_decode(data: bytes) -> str:
    """Decode WBXML bytes to XML text with `wbxml2xml -k -m 0 -l ACTIVESYNC`."""
    assert WBXML2XML is not None
    return _run(WBXML2XML, ["-k", "-m", "0", "-l", "ACTIVESYNC"], data, ".wbxml", ".xml").decode("utf-8")


# ---------------------------------------------------------------------------------------------------
# Where libwbxml's names differ from MS-ASWBXML. Token numbers agree in every case; only names differ.
# (page, MS-ASWBXML name) -> libwbxml name.

# libwbxml's own naming scheme (parent-qualified or abbreviated names); MS-ASWBXML 2.1.2.1.x and the class
# specs (MS-ASCNTC, MS-ASEMAIL, MS-ASCAL, MS-ASTASK) use the plain names on the left.
_LIBWBXML_STYLE: dict[tuple[int, str], str] = {
    (1, "AssistantPhoneNumber"): "AssistantTelephoneNumber",
    **{(1, f"{kind}Address{part}"): f"{kind}{part}"
       for kind in ("Business", "Home", "Other")
       for part in ("City", "Country", "PostalCode", "State", "Street")},
    (2, "ReplyTo"): "Reply-To",
    (2, "DtStamp"): "DTStamp",
    **{(2, name): f"Recurrence_{name}"
       for name in ("Type", "Until", "Occurrences", "Interval", "DayOfWeek", "DayOfMonth", "WeekOfMonth",
                    "MonthOfYear")},
    (4, "Email"): "Attendee_Email",
    (4, "Name"): "Attendee_Name",
    (4, "AttendeeStatus"): "Attendee_Status",
    (4, "AttendeeType"): "Attendee_Type",
    (4, "DtStamp"): "DTStamp",
    (4, "Deleted"): "Exception_Deleted",
    (4, "ExceptionStartTime"): "Exception_StartTime",
    (4, "OrganizerEmail"): "Organizer_Email",
    (4, "OrganizerName"): "Organizer_Name",
    **{(4, name): f"Recurrence_{name}"
       for name in ("Type", "Until", "Occurrences", "Interval", "DayOfWeek", "DayOfMonth", "WeekOfMonth",
                    "MonthOfYear")},
    (9, "UtcDueDate"): "UTCDueDate",
    (9, "UtcStartDate"): "UTCStartDate",
    **{(9, name): f"Recurrence_{name}"
       for name in ("Type", "Start", "Until", "Occurrences", "Interval", "DayOfMonth", "DayOfWeek",
                    "WeekOfMonth", "MonthOfYear", "Regenerate", "DeadOccur")},
    (21, "Mime"): "MIME",
}

# Disagreements on the name itself: the Microsoft spec wins.
SPEC_WINS: dict[tuple[int, str], str] = {
    # MS-ASWBXML 2.1.2.1.3 spells the 2.5 attachment id "Att0id" (digit zero, lower-case id); libwbxml: "AttOId".
    (2, "Att0id"): "AttOId",
    # MS-ASWBXML 2.1.2.1.5 spells Calendar 0x05 "Timezone"; libwbxml (like MS-ASCAL's prose) "TimeZone".
    (4, "Timezone"): "TimeZone",
    # MS-ASWBXML 2.1.2.1.22 / MS-ASCMD 2.2.3.78: Forwardee's children are Name and Email; libwbxml keeps the
    # older edition's ForwardeeName / ForwardeeEmail.
    (21, "Name"): "ForwardeeName",
    (21, "Email"): "ForwardeeEmail",
    # MS-ASWBXML 2.1.2.1.3 / MS-ASEMAIL: the flag's status is email:Status inside email:Flag.
    (2, "Status"): "FlagStatus",
    # Calendar 0x10 / Tasks 0x21 are not used; Microsoft Exchange's own token tables call them "Rtf".
    (4, "Rtf"): "Compressed_RTF",
    (9, "Rtf"): "CompressedRTF",
    # MS-ASWBXML 2.1.2.1.15 / MS-ASPROV 2.2.2.52: 0x10 is RequireStorageCardEncryption (12.0-era name).
    (14, "RequireStorageCardEncryption"): "DeviceEncryptionEnabled",
    # MS-ASWBXML 2.1.2.1.19 / MS-ASCMD: settings:SMTPAddress.
    (18, "SMTPAddress"): "SmtpAddress",
    # An old MS-ASWBXML edition printed "ihsManagementInformation" for 0x2B; libwbxml copied the typo.
    (18, "RightsManagementInformation"): "ihsManagementInformation",
    # MS-ASWBXML 2.1.2.1.25 / MS-ASRM: rm:Owner and rm:RemoveRightsManagementProtection.
    (24, "Owner"): "RMOwner",
    (24, "RemoveRightsManagementProtection"): "RemoveRightsManagementDistribution",
}

LIBWBXML_NAMES: dict[tuple[int, str], str] = {**_LIBWBXML_STYLE, **SPEC_WINS}

# Tokens libwbxml 0.11 does not know (it decodes them to <unknown/>); all are 16.x additions or unused.
LIBWBXML_MISSING: dict[int, frozenset[str]] = {
    8: frozenset({"ProposedStartTime", "ProposedEndTime"}),  # 16.1
    14: frozenset({"AccountOnlyRemoteWipe"}),  # 16.1
    15: frozenset({"Stores"}),  # not used
}

# libwbxml base64-decodes the content of these tags into OPAQUE. Our opaque set agrees except GAL and
# ResolveRecipients Data (contact photos), which MS-ASCMD types as base64 text: libwbxml treats them as binary.
LIBWBXML_BINARY_EXTRA = frozenset({(10, "Data"), (16, "Data")})

SAMPLE_TEXT = "AAAA"  # also valid base64 (three zero bytes), so binary tags accept it


def _cases() -> Iterator[tuple[CodePage, int, str]]:
    for code_page in CODE_PAGES[: LIBWBXML_LAST_PAGE + 1]:
        missing = LIBWBXML_MISSING.get(code_page.number, frozenset())
        for token, tag in sorted(code_page.tags.items()):
            if tag not in missing:
                yield code_page, token, tag


CASES = list(_cases())


def _element_bytes(page_number: int, token: int, content: bytes) -> bytes:
    switch = bytes([SWITCH_PAGE, page_number]) if page_number else b""
    return HEADER + switch + bytes([token | CONTENT_FLAG]) + content + bytes([END])


def _is_libwbxml_binary(code_page: CodePage, tag: str) -> bool:
    return tag in code_page.opaque_tags or (code_page.number, tag) in LIBWBXML_BINARY_EXTRA


@pytest.mark.parametrize(
    ("code_page", "token", "tag"), CASES, ids=[f"{p.name}-{t}-0x{k:02X}" for p, k, t in CASES]
)
def test_libwbxml_encodes_our_token(code_page: CodePage, token: int, tag: str) -> None:
    name = LIBWBXML_NAMES.get((code_page.number, tag), tag)
    namespace = LIBWBXML_NAMESPACES[code_page.number]
    xml = f'<?xml version="1.0"?>\n{DOCTYPE}\n<{name} xmlns="{namespace}">{SAMPLE_TEXT}</{name}>\n'
    if _is_libwbxml_binary(code_page, tag):
        content = bytes([OPAQUE, 3]) + base64.b64decode(SAMPLE_TEXT)
    else:
        content = bytes([STR_I]) + SAMPLE_TEXT.encode() + b"\x00"
    assert libwbxml_encode(xml).hex(" ") == _element_bytes(code_page.number, token, content).hex(" ")


_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)(?:\s+xmlns=\"([^\"]*)\")?\s*/?>")


def _decoded_root(data: bytes) -> tuple[str, str | None]:
    xml = libwbxml_decode(data)
    body = xml.split("?>", 1)[-1]
    body = body[body.index(">") + 1:] if "<!DOCTYPE" in body else body
    match = _ROOT.search(body)
    assert match, xml
    return match.group(1), match.group(2)


@pytest.mark.parametrize(
    ("code_page", "token", "tag"), CASES, ids=[f"{p.name}-{t}-0x{k:02X}" for p, k, t in CASES]
)
def test_libwbxml_decodes_our_token(code_page: CodePage, token: int, tag: str) -> None:
    content = bytes([STR_I]) + SAMPLE_TEXT.encode() + b"\x00"
    name, namespace = _decoded_root(_element_bytes(code_page.number, token, content))
    assert name == LIBWBXML_NAMES.get((code_page.number, tag), tag)
    assert namespace in (None, LIBWBXML_NAMESPACES[code_page.number])


@pytest.mark.parametrize(
    ("page_number", "tag"), sorted((n, t) for n, tags in LIBWBXML_MISSING.items() for t in tags)
)
def test_tokens_libwbxml_lacks(page_number: int, tag: str) -> None:
    token = CODE_PAGES[page_number].tokens[tag]
    content = bytes([STR_I]) + SAMPLE_TEXT.encode() + b"\x00"
    name, _ = _decoded_root(_element_bytes(page_number, token, content))
    assert name == "unknown"


def test_libwbxml_has_no_find_page() -> None:
    find = CODE_PAGES[25]
    content = bytes([STR_I]) + SAMPLE_TEXT.encode() + b"\x00"
    name, _ = _decoded_root(_element_bytes(25, find.tokens["Find"], content))
    assert name == "unknown"


def test_name_tables_only_mention_real_tags() -> None:
    for (page_number, tag) in (*LIBWBXML_NAMES, *LIBWBXML_BINARY_EXTRA):
        assert tag in CODE_PAGES[page_number].tokens, (page_number, tag)
    for page_number, tags in LIBWBXML_MISSING.items():
        assert tags <= set(CODE_PAGES[page_number].tokens)


def test_helpers_round_trip_a_document() -> None:
    xml = (
        f'<?xml version="1.0"?>\n{DOCTYPE}\n'
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>\n'
    )
    data = libwbxml_encode(xml)
    assert data == HEADER + bytes([SWITCH_PAGE, 7, 0x56, 0x52, STR_I]) + b"0\x00" + bytes([END, END])
    assert "<SyncKey>0</SyncKey>" in libwbxml_decode(data)


def test_helper_reports_failures() -> None:
    with pytest.raises(LibwbxmlError):
        libwbxml_decode(b"\x03\x01")
