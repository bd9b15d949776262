"""Each Status table against the spec's own requirement statements: its codes, meanings and success codes.

The expectations come from tests/data/specs/status-requirements.txt, the requirement statements of MS-ASCMD
(2.2.2 and each Status section), MS-ASPROV 2.2.2.54.x and MS-ASAIRS 2.2.2.37 quoted word for word; the
keywords and the decisions below (which codes are normal answers, which are warnings) are written by hand,
each with the spec's words it rests on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eas.meanings import enums, status
from eas.meanings.status import StatusTable, status_table_for

EXCERPT = Path(__file__).resolve().parents[1] / "data" / "specs" / "status-requirements.txt"
SPEC_LINES = [line for line in EXCERPT.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]

_MEANING = re.compile(r"meaning of (?:the )?status ?value\]?\s*(\d+)(?:<\d+>)?\s*\[?\s*is\s*\]?\s*(.+)", re.I)
_VALUE_MEANS = re.compile(r"\bValue (\d+) means (.+)")
_AIRS_MEANS = re.compile(r"\[The value\] (\d+) \[of Status element\] means (.+)")
_SCOPE = re.compile(r"\[When the scope is\] ([A-Za-z ]+?), \[the meaning of (?:the )?status ?value\]?\s*(\d+)", re.I)
_NOTE = re.compile(r"\[the (?:cause|resolution) of (?:the )?status value (\d+)[^\]]*\]\s*(.+)", re.I)
_LISTED = re.compile(r"\[([\d, ]+)\]")
# "Success.", "was resolved successfully", "were successfully returned", "operation was successful" (not "failed
# to successfully save")
_SUCCESS = re.compile(r"^\s*success\b|\b(?:was|were) (?:\w+ )?successful(?:ly)?\b", re.I)


@dataclass
class SpecTable:
    """What the requirement statements say about one table."""

    listed: frozenset[int]
    meanings: dict[int, list[str]] = field(default_factory=dict)
    scopes: dict[int, str] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)  # causes and resolutions

    def text(self, code: int) -> str:
        return " ".join(self.meanings.get(code, ()))

    def all_text(self, code: int) -> str:
        return " ".join([*self.meanings.get(code, ()), *self.notes.get(code, ())])

    def success_codes(self) -> frozenset[int]:
        return frozenset(code for code, texts in self.meanings.items() if _SUCCESS.search(texts[0]))


def _lines(doc: str, tag: str) -> list[str]:
    prefix = f"{doc}: [In {tag}"
    return [line[len(doc) + 2:] for line in SPEC_LINES if line.startswith(prefix)]


def spec_table(doc: str, tag: str, anchor: str | None = None) -> SpecTable:
    """The statements of one spec table: from its "following table" line (the one containing `anchor`) to the
    next one of the same section."""
    lines = _lines(doc, tag)
    starts = [n for n, line in enumerate(lines) if "following table" in line and (anchor is None or anchor in line)]
    assert len(starts) == 1, (doc, tag, anchor, starts)
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if "following table" in lines[n]), len(lines))
    listed = _LISTED.search(lines[start])
    assert listed is not None, lines[start]
    table = SpecTable(frozenset(int(code) for code in listed.group(1).split(",")))
    for line in lines[start:end]:
        found = _MEANING.search(line) or _VALUE_MEANS.search(line) or _AIRS_MEANS.search(line)
        if found:
            table.meanings.setdefault(int(found.group(1)), []).append(found.group(2))
        note = _NOTE.search(line)
        if note:
            table.notes.setdefault(int(note.group(1)), []).append(note.group(2))
        scope = _SCOPE.search(line)
        if scope:
            table.scopes[int(scope.group(2))] = scope.group(1)
    return table


def common_spec_table() -> SpecTable:
    """MS-ASCMD 2.2.2: "The value of the element NAME is N." names a code; the meanings that follow are its own
    (one requirement numbers 184's meaning "183" by mistake: the element line decides)."""
    table = SpecTable(frozenset())
    codes: set[int] = set()
    current = None
    for line in _lines("MS-ASCMD", "Common Status Codes]"):
        named = re.search(r"The value of the element [\w ]+ is (\d+)\.", line)
        if named:
            current = int(named.group(1))
            codes.add(current)
        elif current is not None and re.search(r"\[The meaning of the status value \d+ is ?\]", line, re.I):
            table.meanings.setdefault(current, []).append(line.split("]", 2)[-1])
    table.listed = frozenset(codes)
    return table


@dataclass(frozen=True)
class Case:
    """One of our tables, where the spec defines it, a keyword of each code's meaning found in both, and the
    decisions beyond the spec's "Success": normal answers (ok) and warnings, each resting on the spec's words."""

    table: StatusTable
    spec: SpecTable
    keywords: dict[int, str]
    normal: dict[int, str] = field(default_factory=dict)  # code -> the spec's words that make it a normal answer
    warning: dict[int, str] = field(default_factory=dict)  # code -> the spec's words that make it a warning
    expected_codes: frozenset[int] | None = None  # when not the spec's listed codes (a documented subset)


SYNC_SPEC = spec_table("MS-ASCMD", "Status(Sync)")
SYNC_KEYWORDS = {
    1: "success", 3: "invalid synchronization key", 4: "protocol error", 5: "server error",
    6: "client/server conversion", 7: "conflict", 8: "object not found", 9: "cannot be completed",
    12: "folder hierarchy has changed", 13: "not complete", 14: "Invalid Wait or HeartbeatInterval",
    15: "invalid Sync", 16: "retry",
}
SYNC_WARNINGS = {12: "Perform a FolderSync command", 13: "Resend a full Sync command request",
                 14: "The Sync request was processed successfully"}
# Item-scope codes of the Sync table, without 13-15 (about the request as a whole: cached request, Wait,
# number of collections), with 1 and 5 (success and server error, answered per item too).
SYNC_ITEM_CODES = frozenset({1, 5} | {code for code, scope in SYNC_SPEC.scopes.items() if "Item" in scope}) - {
    13, 14, 15}

FOLDER_KEYWORDS = {1: "success", 6: "server", 9: "synchronization key", 11: "unknown error"}
IO_SPEC = spec_table("MS-ASCMD", "Status(ItemOperations)")
IO_KEYWORDS = {
    1: "success", 2: "protocol error", 3: "server error", 4: "URI is bad", 5: "access denied", 6: "not found",
    7: "failed to connect", 8: "byte-range", 9: "unknown or unsupported", 10: "file is empty",
    11: "data size is too large", 12: "I/O", 14: "failed conversion", 15: "attachment",
    16: "access to the resource is denied", 17: "partial success", 18: "credentials required",
    155: "MoveAlways", 156: "IPF.Note",
}
IO_WARNINGS = {17: "Partial success"}
GIE_SPEC = spec_table("MS-ASCMD", "Status(GetItemEstimate)")
GIE_KEYWORDS = {1: "success", 2: "collection was invalid", 3: "primed", 4: "synchronization key was invalid"}
MOVE_SPEC = spec_table("MS-ASCMD", "Status(MoveItems)")
MOVE_KEYWORDS = {1: "invalid source collection ID", 2: "invalid destination collection ID", 3: "success",
                 4: "same", 5: "more than one", 7: "locked"}
PICTURE_KEYWORDS = {1: "contact photo was retrieved", 173: "does not have a contact photo", 174: "MaxSize",
                    175: "MaxPictures"}
PICTURE_NORMAL = {173: "The user does not have a contact photo"}
PICTURE_WARNINGS = {174: "exceeded the size limit", 175: "exceeded the size limit"}
SETTINGS_OPERATION_SPEC = spec_table("MS-ASCMD", "Status(Settings)", "RightsManagementInformation Get operation")
SETTINGS_OPERATION_KEYWORDS = {1: "success", 2: "protocol error", 5: "invalid arguments", 6: "conflicting arguments"}
CERT_SPEC = spec_table("MS-ASCMD", "Status(ValidateCert)")
CERT_KEYWORDS = {
    1: "success", 2: "protocol error", 3: "signature", 4: "untrusted source", 5: "chain", 6: "signing email",
    7: "expired", 8: "time periods", 9: "used incorrectly", 10: "missing or incorrect", 11: "used incorrectly",
    12: "recipient's email address", 13: "revoked", 14: "cannot be contacted", 15: "revoked by the authority",
    16: "revocation status", 17: "unknown server error",
}
POLICY_SPEC = spec_table("MS-ASPROV", "Status (Policy)", "response from the server")

CASES: dict[str, Case] = {
    "AUTODISCOVER": Case(status.AUTODISCOVER, spec_table("MS-ASCMD", "Status(Autodiscover)"),
                         {1: "success", 2: "protocol error"}),
    "SYNC": Case(status.SYNC, SYNC_SPEC, SYNC_KEYWORDS, warning=SYNC_WARNINGS),
    "SYNC_COLLECTION": Case(status.SYNC_COLLECTION, SYNC_SPEC, SYNC_KEYWORDS, warning=SYNC_WARNINGS),
    "SYNC_ITEM": Case(status.SYNC_ITEM, SYNC_SPEC, {
        1: "success", 4: "protocol error", 5: "server error", 6: "malformed or invalid", 7: "conflict", 8: "not found",
        9: "cannot be completed"},
                      warning={7: "the change they made to the item has been overwritten"},
                      expected_codes=SYNC_ITEM_CODES),
    "FOLDER_SYNC": Case(status.FOLDER_SYNC, spec_table("MS-ASCMD", "Status(FolderSync)"),
                        FOLDER_KEYWORDS | {10: "incorrectly formatted request", 12: "code unknown"}),
    "FOLDER_CREATE": Case(status.FOLDER_CREATE, spec_table("MS-ASCMD", "Status(FolderCreate)"),
                          FOLDER_KEYWORDS | {2: "already exists", 3: "special system folder",
                                             5: "parent folder was not found", 10: "malformed request",
                                             12: "code unknown"}),
    "FOLDER_UPDATE": Case(status.FOLDER_UPDATE, spec_table("MS-ASCMD", "Status(FolderUpdate)"),
                          FOLDER_KEYWORDS | {2: "already exists", 3: "Recipient information folder",
                                             4: "does not exist", 5: "parent folder was not found",
                                             10: "incorrectly formatted request"}),
    "FOLDER_DELETE": Case(status.FOLDER_DELETE, spec_table("MS-ASCMD", "Status(FolderDelete)"),
                          FOLDER_KEYWORDS | {3: "special system folder", 4: "does not exist",
                                             10: "incorrectly formatted request"}),
    "GET_ITEM_ESTIMATE": Case(status.GET_ITEM_ESTIMATE, GIE_SPEC, GIE_KEYWORDS),
    "GET_ITEM_ESTIMATE_RESPONSE": Case(status.GET_ITEM_ESTIMATE_RESPONSE, GIE_SPEC, GIE_KEYWORDS),
    "ITEM_OPERATIONS": Case(status.ITEM_OPERATIONS, IO_SPEC, IO_KEYWORDS, warning=IO_WARNINGS),
    "ITEM_OPERATIONS_FETCH": Case(status.ITEM_OPERATIONS_FETCH, IO_SPEC, IO_KEYWORDS, warning=IO_WARNINGS),
    "ITEM_OPERATIONS_MOVE": Case(status.ITEM_OPERATIONS_MOVE, IO_SPEC, IO_KEYWORDS, warning=IO_WARNINGS),
    "ITEM_OPERATIONS_EMPTY_FOLDER": Case(status.ITEM_OPERATIONS_EMPTY_FOLDER, IO_SPEC, IO_KEYWORDS,
                                         warning=IO_WARNINGS),
    "MEETING_RESPONSE": Case(status.MEETING_RESPONSE, spec_table("MS-ASCMD", "Status(MeetingResponse)"),
                             {1: "success", 2: "invalid meeting request", 3: "server mailbox",
                              4: "error occurred on the server"}),
    "MOVE_ITEMS": Case(status.MOVE_ITEMS, MOVE_SPEC, MOVE_KEYWORDS),
    "MOVE_ITEMS_RESPONSE": Case(status.MOVE_ITEMS_RESPONSE, MOVE_SPEC, MOVE_KEYWORDS),
    "PING": Case(status.PING, spec_table("MS-ASCMD", "Status(Ping)"), {
        1: "heartbeat interval expired", 2: "changes", 3: "omitted required parameters",
        4: "syntax error", 5: "outside the allowed range", 6: "more than the allowed number of folders",
        7: "folder hierarchy sync required", 8: "error occurred on the server",
    }, normal={1: "The heartbeat interval expired before any changes occurred",
               2: "Changes occurred in at least one of the monitored folders"},
        warning={3: "Reissue the Ping command request with the entire XML body",
                 5: "the response contains the shortest allowed interval",
                 7: "Folder hierarchy sync required"}),
    "PROVISION": Case(status.PROVISION, spec_table("MS-ASPROV", "Status (Provision)"),
                      {1: "success", 2: "protocol error", 3: "general server error"},
                      warning={4: ""}, expected_codes=frozenset({1, 2, 3, 4})),
    "PROVISION_POLICY": Case(status.PROVISION_POLICY, POLICY_SPEC, {
        1: "success", 2: "no policy for this client", 3: "unknown PolicyType", 4: "corrupted",
        5: "wrong policy key"}, normal={2: "There is no policy for this client"}),
    "PROVISION_POLICY_ACK": Case(status.PROVISION_POLICY_ACK,
                                 spec_table("MS-ASPROV", "Status (Policy)", "request from the client"), {
                                     1: "success", 2: "partial success", 3: "did not apply the policy at all",
                                     4: "third party"},
                                 warning={2: "Partial success", 4: "provisioned by a third party"}),
    "PROVISION_REMOTE_WIPE_ACK": Case(status.PROVISION_REMOTE_WIPE_ACK,
                                      spec_table("MS-ASPROV", "Status (RemoteWipe)"),
                                      {1: "successful", 2: "failed"}),
    "RESOLVE_RECIPIENTS": Case(status.RESOLVE_RECIPIENTS, spec_table(
        "MS-ASCMD", "Status(ResolveRecipients)", "child of the ResolveRecipients element"),
        {1: "success", 5: "protocol error", 6: "error occurred on the server"}),
    "RESOLVE_RECIPIENTS_RESPONSE": Case(status.RESOLVE_RECIPIENTS_RESPONSE, spec_table(
        "MS-ASCMD", "Status(ResolveRecipients)", "child element of the Response element"),
        {1: "resolved successfully", 2: "ambiguous", 3: "partial list", 4: "did not resolve"},
        normal={2: "The returned list of recipients are suggestions",
                3: "The returned list is a partial list of suggestions"},
        warning={4: "did not resolve to any contact or GAL entry"}),
    "RESOLVE_RECIPIENTS_CERTIFICATES": Case(status.RESOLVE_RECIPIENTS_CERTIFICATES, spec_table(
        "MS-ASCMD", "Status(ResolveRecipients)", "child element of the Certificates element"),
        {1: "certificates were", 7: "valid S/MIME certificate", 8: "certificate limit"},
        warning={7: "does not have a valid S/MIME certificate", 8: "Retry with fewer recipients"}),
    "RESOLVE_RECIPIENTS_AVAILABILITY": Case(status.RESOLVE_RECIPIENTS_AVAILABILITY, spec_table(
        "MS-ASCMD", "Status(ResolveRecipients)", "child element of the Availability element"),
        {1: "free/busy data was", 160: "maximum number of recipients", 161: "more than 20",
         162: "temporary failure", 163: "could not be retrieved"}),
    "RESOLVE_RECIPIENTS_PICTURE": Case(status.RESOLVE_RECIPIENTS_PICTURE, spec_table(
        "MS-ASCMD", "Status(ResolveRecipients)", "child element of the Picture element"),
        PICTURE_KEYWORDS, normal=PICTURE_NORMAL, warning=PICTURE_WARNINGS),
    "SEARCH": Case(status.SEARCH, spec_table("MS-ASCMD", "Status(Search)", "child element of the Search element"),
                   {1: "success", 3: "server error"}),
    "SEARCH_STORE": Case(status.SEARCH_STORE, spec_table("MS-ASCMD", "Status(Search)", "child of the Store element"), {
        1: "success", 2: "request was invalid", 3: "error occurred on the server", 4: "bad link",
        5: "access denied", 6: "not found", 7: "connection failed", 8: "too complex", 10: "timed out",
        11: "FolderSync required", 12: "end of retrievable range", 13: "access blocked", 14: "credentials required",
    }, warning={11: "FolderSync required", 12: "End of retrievable range warning"}),
    "SEARCH_PICTURE": Case(status.SEARCH_PICTURE, spec_table("MS-ASCMD", "Status(Search)", "gal:Picture"),
                           PICTURE_KEYWORDS, normal=PICTURE_NORMAL, warning=PICTURE_WARNINGS),
    "SETTINGS": Case(status.SETTINGS, spec_table("MS-ASCMD", "Status(Settings)", "child element of the Settings"), {
        1: "success", 2: "protocol error", 3: "access denied", 4: "server unavailable", 5: "invalid arguments",
        6: "conflicting arguments", 7: "denied by policy"}),
    "SETTINGS_OOF": Case(status.SETTINGS_OOF, SETTINGS_OPERATION_SPEC, SETTINGS_OPERATION_KEYWORDS),
    "SETTINGS_DEVICE_INFORMATION": Case(status.SETTINGS_DEVICE_INFORMATION, SETTINGS_OPERATION_SPEC,
                                        SETTINGS_OPERATION_KEYWORDS),
    "SETTINGS_USER_INFORMATION": Case(status.SETTINGS_USER_INFORMATION, SETTINGS_OPERATION_SPEC,
                                      SETTINGS_OPERATION_KEYWORDS),
    "SETTINGS_RIGHTS_MANAGEMENT": Case(status.SETTINGS_RIGHTS_MANAGEMENT, SETTINGS_OPERATION_SPEC,
                                       SETTINGS_OPERATION_KEYWORDS),
    "SETTINGS_DEVICE_PASSWORD": Case(status.SETTINGS_DEVICE_PASSWORD, spec_table(
        "MS-ASCMD", "Status(Settings)", "DevicePassword Set response"),
        {1: "success", 2: "protocol error", 5: "password is too long", 7: "disabled password recovery"}),
    "VALIDATE_CERT": Case(status.VALIDATE_CERT, CERT_SPEC, CERT_KEYWORDS),
    "VALIDATE_CERT_CERTIFICATE": Case(status.VALIDATE_CERT_CERTIFICATE, CERT_SPEC, CERT_KEYWORDS, warning={
        code: "" for code in range(3, 17)}),
    "BODY_PART": Case(status.BODY_PART, spec_table("MS-ASAIRS", "Status]"), {1: "success", 176: "too large"},
                      warning={176: "the message part is too large"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_table_against_the_spec(name: str) -> None:
    case = CASES[name]
    table, spec = case.table, case.spec
    expected_codes = case.expected_codes if case.expected_codes is not None else spec.listed
    assert set(table) == expected_codes, f"{name}: codes {sorted(table)} vs spec {sorted(expected_codes)}"
    assert set(case.keywords) == set(table) - (set(table) - spec.listed), name
    for code, keyword in case.keywords.items():
        assert keyword.casefold() in spec.all_text(code).casefold(), f"{name} {code}: {keyword!r} not in the spec"
        assert keyword.casefold() in table[code].casefold(), f"{name} {code}: {table[code]!r} lacks {keyword!r}"
    for code, words in (case.normal | case.warning).items():
        assert words.casefold() in spec.all_text(code).casefold(), f"{name} {code}: {words!r} not in the spec"
    assert table.ok == (spec.success_codes() & set(table)) | set(case.normal), name
    assert table.warning == set(case.warning), name


def test_every_table_is_checked_against_the_spec() -> None:
    tables = {name for name, value in vars(status).items() if isinstance(value, StatusTable)}
    others = {"COMMON", "SEND_MAIL", "SMART_REPLY", "SMART_FORWARD", "FIND", "FIND_RESPONSE", "UNKNOWN_COMMAND"}
    assert tables == set(CASES) | others


def test_move_items_success_is_3_and_1_is_invalid_source() -> None:
    spec = MOVE_SPEC
    assert spec.success_codes() == {3}
    assert status.MOVE_ITEMS.ok == {3} and status.MOVE_ITEMS_RESPONSE.ok == {3}
    assert "invalid source collection" in status.MOVE_ITEMS[1].casefold()


def test_provision_4_is_not_microsofts() -> None:
    """MS-ASPROV 2.2.2.54.2 lists 1, 2, 3; 4 is kept, marked as another servers' code."""
    assert 4 not in CASES["PROVISION"].spec.listed
    assert "not a Microsoft code" in status.PROVISION[4]
    assert "z-push" in status.PROVISION.note and "grommunio-sync" in status.PROVISION.note


def test_settings_any_value_but_1_is_a_failure() -> None:
    assert any("Any status value that is not 1 is a failure." in line for line in _lines("MS-ASCMD", "Status(Settings)"))
    for table in (status.SETTINGS, status.SETTINGS_OOF, status.SETTINGS_DEVICE_PASSWORD):
        assert table.ok == {1} and not table.warning


def test_validate_cert_top_level_1_success_17_failure() -> None:
    lines = _lines("MS-ASCMD", "Status(ValidateCert)")
    assert "A value of 1 indicates success." in " ".join(lines)
    assert "A value of 17 indicates failure." in " ".join(lines)
    assert status.VALIDATE_CERT.ok == {1} and 17 not in status.VALIDATE_CERT.warning


def test_find_by_parent() -> None:
    """MS-ASCMD 2.2.3.177.2 gives causes per parent: Find 1-3, Response 1, 2, 4."""
    by_parent: dict[str, dict[int, str]] = {}
    for line in _lines("MS-ASCMD", "Status (Find)]"):
        found = re.search(r"\[When the parent is (\w+) element\],\s*\[the (?:cause|meaning|resolution) of "
                          r"(?:the )?status value\]?\s*(\d+)[^\]]*\]\s*(.*)", line)
        if found:
            texts = by_parent.setdefault(found.group(1), {})
            texts[int(found.group(2))] = texts.get(int(found.group(2)), "") + " " + found.group(3)
    assert set(by_parent["Find"]) == set(status.FIND) == {1, 2, 3}
    assert set(by_parent["Response"]) == set(status.FIND_RESPONSE) == {1, 2, 4}
    keywords = {1: "success", 2: "search parameter", 3: "out of date", 4: "StartWithRangeZero"}
    for parent, table in (("Find", status.FIND), ("Response", status.FIND_RESPONSE)):
        for code, text in by_parent[parent].items():
            assert keywords[code].casefold() in text.casefold() and keywords[code].casefold() in table[code].casefold()
        assert table.ok == {1}
    assert "FolderSync" in by_parent["Find"][3]
    assert status.FIND.warning == {3} and not status.FIND_RESPONSE.warning


def test_compose_mail_statuses_are_common_codes_only() -> None:
    sendmail = _lines("MS-ASCMD", "Status(SendMail)]")
    smart = _lines("MS-ASCMD", "Status(SmartForward and SmartReply)]")
    assert any("Valid Status values are listed in section 2.2.4." in line for line in sendmail)
    assert any("Valid Status element values are listed in section 2.2.4." in line for line in smart)
    for table in (status.SEND_MAIL, status.SMART_REPLY, status.SMART_FORWARD):
        assert len(table) == 0 and not table.ok  # the Status is there only when the command failed
        assert table.meaning(117) == status.COMMON[117]


COMMON_KEYWORDS = {
    101: "body", 102: "could not be decoded", 103: "protocol requirements", 104: "timestamp",
    105: "combination of parameters", 106: "could not be parsed", 107: "MIME", 108: "device ID",
    109: "device type", 110: "should not retry", 111: "should retry later", 112: "directory service",
    113: "size quota", 114: "mailbox server is offline", 115: "send quota", 116: "could not be resolved",
    117: "reply", 118: "already sent", 119: "no recipient", 120: "submit", 121: "create a reply message",
    122: "too large", 123: "mailbox", 124: "without credentials", 125: "not found in the directory service",
    126: "not allowed to use ActiveSync", 127: "configured to prevent users from syncing", 128: "legacy servers",
    129: "some devices", 130: "not allowed to perform that request", 131: "account is disabled", 132: "missing",
    133: "locked", 134: "corrupt", 135: "already exists", 136: "version", 137: "not supported by this server",
    138: "protocol version", 139: "policy settings", 140: "remote wipe", 141: "not provisionable",
    142: "provision", 143: "refresh", 144: "policy key", 145: "externally managed", 146: "no recurrence",
    147: "unknown to the server", 148: "SSL", 149: "full request", 150: "ItemId", 151: "too many folders",
    152: "no folders", 153: "could not be found", 154: "unknown error", 155: "MoveAlways",
    156: "destination folder", 160: "maximum number of recipients", 161: "distribution list", 162: "transient",
    163: "availability", 164: "BodyPartPreference", 165: "Provision request", 166: "AccountId", 167: "sending",
    168: "Information Rights Management", 169: "Information Rights Management",
    170: "Information Rights Management", 171: "Template ID", 172: "operation", 173: "contact photo",
    174: "MaxSize", 175: "MaxPictures", 176: "too large to compute", 177: "too many device partnerships",
    178: "Forwardees", 179: "could not be parsed", 183: "draft", 184: "exceptions",
}
# Warnings, not failures: the client must provision (as with HTTP 449), then retry.
COMMON_WARNINGS = {140: "SHOULD provision", 142: "needs to provision", 143: "needs to re-provision",
                   144: "needs to re-provision"}


def test_common_table_against_the_spec() -> None:
    spec = common_spec_table()
    assert set(status.COMMON) == spec.listed
    assert {178, 179, 183, 184} <= spec.listed and not {157, 158, 159, 180, 181, 182} & spec.listed
    assert set(COMMON_KEYWORDS) == spec.listed
    for code, keyword in COMMON_KEYWORDS.items():
        assert keyword.casefold() in spec.text(code).casefold(), f"{code}: {keyword!r} not in the spec"
        assert keyword.casefold() in status.COMMON[code].casefold(), f"{code}: {status.COMMON[code]!r}"
    for code, words in COMMON_WARNINGS.items():
        assert words.casefold() in spec.text(code).casefold(), code
    assert not status.COMMON.ok and status.COMMON.warning == set(COMMON_WARNINGS)
    assert not spec.success_codes()


def test_common_meanings_issue_13_names() -> None:
    assert status.COMMON[127] == "the server is configured to prevent users from syncing"
    assert "DeviceInformation" in status.COMMON[165] and "Provision request" in status.COMMON[165]
    for code in (178, 179, 183, 184):
        assert "(16.0+)" in status.COMMON[code]


def test_folder_delete_and_update_have_no_12() -> None:
    for tag in ("Status(FolderDelete)", "Status(FolderUpdate)"):
        assert 12 not in spec_table("MS-ASCMD", tag).listed
    assert 12 not in status.FOLDER_DELETE and 12 not in status.FOLDER_UPDATE
    assert status.FOLDER_DELETE.meaning(12) is None


def test_item_operations_155_156_are_its_own() -> None:
    assert status.ITEM_OPERATIONS.meaning(155) != status.COMMON[155]
    assert status.ITEM_OPERATIONS.meaning(156) != status.COMMON[156]
    assert status.SYNC.meaning(155) == status.COMMON[155]


def test_busy_status_minus_1_unknown() -> None:
    line = next(line for line in _lines("MS-ASCAL", "BusyStatus]") if "-1 [meaning]" in line)
    assert line.endswith("Status Unknown.")
    assert "unknown" in enums.BUSY_STATUS["-1"]


# Where each Status stands (the parents MS-ASCMD 2.2.3.177.x and MS-ASPROV 2.2.2.54.x name) -> its table.
PLACES = [
    ("Sync", "Sync/Status", "Sync"),
    ("Sync", "Sync/Collections/Collection/Status", "Sync collection"),
    ("Sync", "Sync/Collections/Collection/Responses/Add/Status", "Sync item"),
    ("Sync", "Sync/Collections/Collection/Responses/Change/Status", "Sync item"),
    ("Sync", "Sync/Collections/Collection/Responses/Delete/Status", "Sync item"),
    ("Sync", "Sync/Collections/Collection/Responses/Fetch/Status", "Sync item"),
    ("Sync", "Sync/Collections/Collection/Commands/Add/ApplicationData/BodyPart/Status", "BodyPart"),
    ("Provision", "Provision/Status", "Provision"),
    ("Provision", "Provision/Policies/Policy/Status", "Provision Policy"),
    ("Provision", "Provision/RemoteWipe/Status", "RemoteWipe acknowledgment"),
    ("ResolveRecipients", "ResolveRecipients/Status", "ResolveRecipients"),
    ("ResolveRecipients", "ResolveRecipients/Response/Status", "ResolveRecipients Response"),
    ("ResolveRecipients", "ResolveRecipients/Response/Recipient/Certificates/Status",
     "ResolveRecipients Certificates"),
    ("ResolveRecipients", "ResolveRecipients/Response/Recipient/Availability/Status",
     "ResolveRecipients Availability"),
    ("ResolveRecipients", "ResolveRecipients/Response/Recipient/Picture/Status", "ResolveRecipients Picture"),
    ("ItemOperations", "ItemOperations/Status", "ItemOperations"),
    ("ItemOperations", "ItemOperations/Response/Fetch/Status", "ItemOperations Fetch"),
    ("ItemOperations", "ItemOperations/Response/Move/Status", "ItemOperations Move"),
    ("ItemOperations", "ItemOperations/Response/EmptyFolderContents/Status", "ItemOperations EmptyFolderContents"),
    ("Search", "Search/Status", "Search"),
    ("Search", "Search/Response/Store/Status", "Search Store"),
    ("Search", "Search/Response/Store/Result/Properties/Picture/Status", "Search Picture"),
    ("MoveItems", "MoveItems/Response/Status", "MoveItems response"),
    ("MoveItems", "MoveItems/Status", "MoveItems"),
    ("Settings", "Settings/Status", "Settings"),
    ("Settings", "Settings/Oof/Status", "Settings Oof"),
    ("Settings", "Settings/DevicePassword/Status", "Settings DevicePassword"),
    ("Settings", "Settings/DeviceInformation/Status", "Settings DeviceInformation"),
    ("Settings", "Settings/UserInformation/Status", "Settings UserInformation"),
    ("Settings", "Settings/RightsManagementInformation/Status", "Settings RightsManagementInformation"),
    ("Find", "Find/Status", "Find"),
    ("Find", "Find/Response/Status", "Find response"),
    ("FolderSync", "FolderSync/Status", "FolderSync"),
    ("FolderCreate", "FolderCreate/Status", "FolderCreate"),
    ("FolderUpdate", "FolderUpdate/Status", "FolderUpdate"),
    ("FolderDelete", "FolderDelete/Status", "FolderDelete"),
    ("ValidateCert", "ValidateCert/Status", "ValidateCert"),
    ("ValidateCert", "ValidateCert/Certificate/Status", "ValidateCert Certificate"),
    ("MeetingResponse", "MeetingResponse/Result/Status", "MeetingResponse result"),
    ("GetItemEstimate", "GetItemEstimate/Status", "GetItemEstimate"),
    ("GetItemEstimate", "GetItemEstimate/Response/Status", "GetItemEstimate response"),
    ("Ping", "Ping/Status", "Ping"),
    ("SmartReply", "SmartReply/Status", "SmartReply"),
    (None, "Autodiscover/Response/Error/Status", "Autodiscover"),
    (None, "Sync/Collections/Collection/Status", "Sync collection"),  # no command: the root names it
    ("NoSuchCommand", "Whatever/Status", "Status"),
]


@pytest.mark.parametrize(("command", "path", "expected"), PLACES, ids=[place[1] for place in PLACES])
def test_status_table_for_place(command: str | None, path: str, expected: str) -> None:
    assert status_table_for(command, path).name == expected


def test_policy_status_in_a_request_is_the_acknowledgment() -> None:
    table = status_table_for("Provision", "Provision/Policies/Policy/Status", in_request=True)
    assert table is status.PROVISION_POLICY_ACK
    assert status_table_for("Provision", "Provision/Status", in_request=True) is status.PROVISION


def test_every_table_has_a_section() -> None:
    for name, value in vars(status).items():
        if isinstance(value, StatusTable):
            assert re.fullmatch(r"MS-AS(CMD|PROV|AIRS) \d+(\.\d+)+", value.section), name
            assert value.ok | value.warning <= set(value) | set(status.COMMON), name


def _requirements_dir() -> Path | None:
    here = Path(__file__).resolve()
    for base in (here.parents[3], here.parents[4]):  # the repository's checkout, or a worktree beside it
        candidate = base / "shared" / "specs" / "requirements"
        if candidate.is_dir():
            return candidate
    return None


def test_excerpt_is_quoted_word_for_word() -> None:
    """Every statement of the excerpt is a line of the requirement list it names."""
    found = _requirements_dir()
    if found is None:
        pytest.skip("the shared requirement lists are not beside this checkout")
    lines_of: dict[str, set[str]] = {}
    for line in SPEC_LINES:
        doc, _, statement = line.partition(": ")
        if doc not in lines_of:
            lines_of[doc] = set((found / f"{doc}-requirements.txt").read_text(encoding="utf-8").splitlines())
        assert statement in lines_of[doc], line


# ------------------------------------------------------------------------- the table type and the lookup

def test_a_table_reads_its_own_codes_and_falls_back_to_the_common_ones_from_101() -> None:
    folder_sync = status.FOLDER_SYNC  # MS-ASCMD 2.2.3.177.5: 1, 6, 9, 10, 11, 12
    assert len(folder_sync) == 6 and list(folder_sync) == [1, 6, 9, 10, 11, 12]
    assert folder_sync[9] == "invalid or mismatched synchronization key: start again with FolderSync SyncKey 0"
    assert 101 not in folder_sync and folder_sync.get(101) is None  # its own codes only
    # MS-ASCMD 2.2.2: 101 InvalidContent, the first common code
    assert folder_sync.source_of(101) is status.COMMON
    assert folder_sync.meaning(101) == (
        "invalid content: the body of the request is invalid (Content-Type, length, or missing body)")
    assert folder_sync.source_of(9) is folder_sync
    assert folder_sync.source_of(100) is None and folder_sync.meaning(100) is None
    assert folder_sync.source_of(2) is None and folder_sync.meaning(2) is None
    # MS-ASCMD 2.2.2 defines no 157-159: a code from 101 up that the common table lacks is unknown too
    assert folder_sync.source_of(157) is None and folder_sync.meaning(157) is None


def test_tables_are_equal_only_to_themselves() -> None:
    # the Sync item and the Sync collection tables both come from MS-ASCMD 2.2.3.177.17, yet differ
    assert status.SYNC_ITEM != status.SYNC_COLLECTION and status.SYNC_ITEM == status.SYNC_ITEM
    assert len({status.SYNC_ITEM, status.SYNC_ITEM, status.SYNC_COLLECTION}) == 2
    assert status.UNKNOWN_COMMAND != {}


def test_status_table_for_reads_the_root_when_the_command_is_unknown_and_the_body_part_anywhere() -> None:
    assert status_table_for("NoSuchCommand", "Sync/Collections/Collection/Status") is status.SYNC_COLLECTION
    assert status_table_for("Ping", "Status") is status.PING  # no parent: the command's own table
    assert status_table_for(None, "Status") is status.UNKNOWN_COMMAND
    body_part = "ItemOperations/Response/Fetch/Properties/BodyPart/Status"
    assert status_table_for("ItemOperations", body_part) is status.BODY_PART
    assert status_table_for("ItemOperations", body_part, in_request=True) is status.BODY_PART
    # in a request, a place without a request table is read like a response's
    assert status_table_for("Sync", "Sync/Collections/Collection/Status", in_request=True) is status.SYNC_COLLECTION
