"""The meaning tables: every command with a status table, every table citing its spec section."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping
from types import ModuleType

import pytest

from eas.codepages import CODE_PAGES
from eas.meanings import contacts, enums, provision, settings, status

COMMANDS = ("Sync FolderSync FolderCreate FolderUpdate FolderDelete GetItemEstimate ItemOperations "
            "MeetingResponse MoveItems Ping Provision ResolveRecipients Search Settings SendMail SmartReply "
            "SmartForward ValidateCert Find").split()


def test_every_command_of_the_issue_has_a_status_table() -> None:
    assert set(COMMANDS) <= set(status.BY_COMMAND)


# Each status table's codes, meanings and outcomes are checked against the spec in test_status_tables.py.


AGGREGATES = {"BY_COMMAND", "NOT_GHOSTABLE", "MAX_BINARY"}


@pytest.mark.parametrize("module", [status, enums, contacts, provision, settings], ids=lambda m: m.__name__)
def test_every_table_cites_a_spec_section(module: ModuleType) -> None:
    """The nearest comment above each public table names its spec (tables of one section share it)."""
    lines = inspect.getsource(module).splitlines()
    checked = 0
    for number, line in enumerate(lines):
        match = re.match(r"^([A-Z][A-Z0-9_]*)(: [^=]+)? = ", line)
        if not match or match.group(1) in AGGREGATES:
            continue
        above = next(text for text in reversed(lines[:number]) if text.startswith("#"))
        assert re.search(r"MS-(AS|OX)[A-Z0-9]+", above), f"{module.__name__}.{match.group(1)}: {above!r}"
        checked += 1
    assert checked >= 1


def test_meanings_are_short_and_non_empty() -> None:
    for module in (status, enums):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, Mapping):
                for meaning in value.values():
                    if isinstance(meaning, str):
                        assert 0 < len(meaning) <= 200, (name, meaning)


def test_policy_settings_have_descriptions_and_value_meanings() -> None:
    for name, setting in provision.POLICY_SETTINGS.items():
        assert setting.description, name
        if name.startswith(("Allow", "Require")) and name != "RequireEncryptionSMIMEAlgorithm":
            assert setting.values is not None, name


def test_folder_types_1_to_19() -> None:
    assert sorted(int(k) for k in enums.FOLDER_TYPE) == list(range(1, 20))
    assert enums.FOLDER_TYPE_CLASS["19"] == "Contacts"


def test_body_types_1_to_4() -> None:
    assert dict(enums.BODY_TYPE) == {"1": "plain text", "2": "HTML", "3": "RTF (compressed, base64)",
                                     "4": "MIME (the whole RFC 822 message)"}


# Handler names that no code page defines, kept on purpose: spellings of the spec text and of older versions.
ALIASES = {("Contacts", "AssistnamePhoneNumber"), ("Contacts", "BusinessPostalCode"), ("Provision", "AllowWifi"),
           ("Provision", "DeviceEncryptionEnabled"), ("Email", "FlagStatus")}


def test_every_handled_element_exists_in_the_code_pages() -> None:
    annotate_module = importlib.import_module("eas.notes")
    tags = {page.name: set(page.tags.values()) for page in CODE_PAGES}
    strays = {key for key in annotate_module.HANDLERS if key[1] not in tags.get(key[0], set())}
    assert strays == ALIASES


def test_every_contacts_and_provision_tag_has_a_meaning() -> None:
    annotate_module = importlib.import_module("eas.notes")
    for page_name in ("Contacts", "Contacts2"):
        missing = {tag for tag in next(p for p in CODE_PAGES if p.name == page_name).tags.values()
                   if (page_name, tag) not in annotate_module.HANDLERS}
        assert not missing, (page_name, missing)
    provision_page = next(p for p in CODE_PAGES if p.name == "Provision")
    missing = {tag for tag in provision_page.tags.values() if ("Provision", tag) not in annotate_module.HANDLERS}
    assert missing == {"Provision", "Policies", "Policy"}


# MS-ASEMAIL 2.2.2.49 MessageClass: "This protocol supports the following message classes[...] as well as all
# subclasses of the same namespaces" and, for administrative messages, "the value of the MessageClass element MUST
# be one of the following values[...]"; each with the meaning the spec's table gives, in our words.
SPEC_MESSAGE_CLASSES = {
    "IPM.Note": "email message",
    "IPM.Note.SMIME": "S/MIME encrypted or opaque-signed message",
    "IPM.Note.SMIME.MultipartSigned": "S/MIME clear-signed message",
    "IPM.Note.Receipt.SMIME": "S/MIME signed receipt",
    "IPM.InfoPathForm": "InfoPath form",
    "IPM.Schedule.Meeting": "meeting message (request, response or cancellation)",
    "IPM.Notification.Meeting": "meeting notification (e.g. forward notice)",
    "IPM.Post": "post",
    "IPM.Octel.Voice": "voice mail",
    "IPM.Voicenotes": "voice note",
    "IPM.Sharing": "sharing request",
    "REPORT.IPM.NOTE.NDR": "non-delivery report",
    "REPORT.IPM.NOTE.DR": "delivery receipt",
    "REPORT.IPM.NOTE.DELAYED": "delivery delayed report",
    "REPORT.IPM.NOTE.IPNRN": "read receipt",
    "REPORT.IPM.NOTE.IPNNRN": "not-read receipt",
    "REPORT.IPM.SCHEDULE.MEETING.REQUEST.NDR": "non-delivery report of a meeting request",
    "REPORT.IPM.SCHEDULE.MEETING.RESP.POS.NDR": "non-delivery report of a meeting acceptance",
    "REPORT.IPM.SCHEDULE.MEETING.RESP.TENT.NDR": "non-delivery report of a tentative meeting acceptance",
    "REPORT.IPM.SCHEDULE.MEETING.CANCELED.NDR": "non-delivery report of a meeting cancellation",
    "REPORT.IPM.NOTE.SMIME.NDR": "non-delivery report of an S/MIME encrypted or opaque-signed message",
    "REPORT.IPM.NOTE.SMIME.DR": "delivery receipt of an S/MIME encrypted or opaque-signed message",
    "REPORT.IPM.NOTE.SMIME.MULTIPARTSIGNED.NDR": "non-delivery report of an S/MIME clear-signed message",
    "REPORT.IPM.NOTE.SMIME.MULTIPARTSIGNED.DR": "delivery receipt of an S/MIME clear-signed message",
}


@pytest.mark.parametrize(("value", "meaning"), SPEC_MESSAGE_CLASSES.items())
def test_every_message_class_of_the_spec_has_its_meaning(value: str, meaning: str) -> None:
    assert enums.message_class_meaning(value) == meaning


@pytest.mark.parametrize(
    ("value", "meaning"),
    [
        # a subclass takes its nearest known class's meaning, wherever that class stands in the table
        ("IPM.Note.Custom", "email message"),
        ("IPM.Note.SMIME.MultipartSigned.Extra", "S/MIME clear-signed message"),
        ("IPM.Schedule.Meeting.Request", "meeting request"),
        ("IPM.Schedule.Meeting.Resp.Pos.Custom", "meeting accepted"),
        ("IPM.Schedule.Meeting.Resp.Other", "meeting message (request, response or cancellation)"),
        ("ipm.note.smime.MULTIPARTSIGNED", "S/MIME clear-signed message"),  # "case insensitive"
        ("  IPM.Post\t\n", "post"),
        # a name that only starts like a class is no subclass of it
        ("IPM.Notes", None),
        ("IPM.Schedule.MeetingRequest", None),
        ("REPORT.IPM.Note", None),
        ("IPM", None),
        ("", None),
        ("   ", None),
    ],
)
def test_message_class_meaning_is_the_nearest_class_s(value: str, meaning: str | None) -> None:
    assert enums.message_class_meaning(value) == meaning


# MS-ASPROV 2.2.2.x: "Valid values [0,1] for <element> are listed in the following table", "Value 0 means ...";
# the two-valued settings by what their value 1 does, in our words (spec: "Allow ...", "... is required", "enabled").
ALLOW_VALUES = {"0": "not allowed", "1": "allowed"}
REQUIRE_VALUES = {"0": "not required", "1": "required"}
ENABLE_VALUES = {"0": "disabled", "1": "enabled"}
SPEC_POLICY_VALUES: dict[str, dict[str, str]] = {
    **{name: ALLOW_VALUES for name in (
        "AllowBrowser", "AllowCamera", "AllowConsumerEmail", "AllowDesktopSync", "AllowHTMLEmail",
        "AllowInternetSharing", "AllowIrDA", "AllowPOPIMAPEmail", "AllowRemoteDesktop", "AllowSimpleDevicePassword", "AllowSMIMESoftCerts",
        "AllowStorageCard", "AllowTextMessaging", "AllowUnsignedApplications", "AllowUnsignedInstallationPackages",
        "AllowWifi", "AllowWiFi")},  # AllowWiFi: MS-ASWBXML's spelling of the spec's AllowWifi
    **{name: REQUIRE_VALUES for name in (
        "AlphanumericDevicePasswordRequired", "DevicePasswordEnabled", "RequireDeviceEncryption",
        "RequireEncryptedSMIMEMessages", "RequireManualSyncWhenRoaming", "RequireSignedSMIMEMessages",
        "RequireStorageCardEncryption", "DeviceEncryptionEnabled")},  # the old name of RequireStorageCardEncryption
    "AttachmentsEnabled": ENABLE_VALUES,
    "PasswordRecoveryEnabled": ENABLE_VALUES,
    # "Value 0 means Disable Bluetooth", "1 ... Disable Bluetooth, but allow the configuration of hands-free profiles"
    "AllowBluetooth": {"0": "Bluetooth disabled", "1": "hands-free profiles only", "2": "Bluetooth allowed"},
    "AllowSMIMEEncryptionAlgorithmNegotiation": {
        "0": "do not negotiate", "1": "negotiate strong algorithms only", "2": "negotiate any algorithm"},
    "MaxCalendarAgeFilter": {"0": "all", "4": "2 weeks", "5": "1 month", "6": "3 months", "7": "6 months"},
    "MaxEmailAgeFilter": {"0": "all", "1": "1 day", "2": "3 days", "3": "1 week", "4": "2 weeks", "5": "1 month"},
    # "TripleDES algorithm", "DES algorithm", "RC2128bit", "RC264bit", "RC240bit"
    "RequireEncryptionSMIMEAlgorithm": {
        "0": "TripleDES", "1": "DES", "2": "RC2 128-bit", "3": "RC2 64-bit", "4": "RC2 40-bit"},
    "RequireSignedSMIMEAlgorithm": {"0": "SHA-1", "1": "MD5"},
}


def test_policy_settings_values_are_the_spec_s() -> None:
    enumerated = {name: dict(setting.values) for name, setting in provision.POLICY_SETTINGS.items()
                  if setting.values is not None}
    assert enumerated == SPEC_POLICY_VALUES
