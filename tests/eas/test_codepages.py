"""The MS-ASWBXML code page tables: shape, spot checks against the spec, aliases and derived maps."""

from __future__ import annotations

import re

import pytest

from eas.codepages import (
    CODE_PAGES,
    ENCODER_TOKENS,
    PAGE_BY_NAMESPACE,
    TAG_ALIASES,
    TAG_TO_PAGES,
    WBXML_NS,
    CodePage,
    VersionSpan,
)
from eas.wbxml import decode, encode, to_xml

# MS-ASWBXML 2.1.2.1: page number -> namespace name, as the section titles spell them.
SPEC_PAGE_NAMES = (
    "AirSync", "Contacts", "Email", "AirNotify", "Calendar", "Move", "GetItemEstimate",
    "FolderHierarchy", "MeetingResponse", "Tasks", "ResolveRecipients", "ValidateCert", "Contacts2",
    "Ping", "Provision", "Search", "GAL", "AirSyncBase", "Settings", "DocumentLibrary",
    "ItemOperations", "ComposeMail", "Email2", "Notes", "RightsManagement", "Find",
)

VERSIONS = ("2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1")


def page(name: str) -> CodePage:
    return PAGE_BY_NAMESPACE[name]


def test_every_page_is_present_and_indexed_by_its_number() -> None:
    assert len(CODE_PAGES) == 26
    for number, code_page in enumerate(CODE_PAGES):
        assert code_page.number == number
        assert code_page.name == SPEC_PAGE_NAMES[number]


@pytest.mark.parametrize("code_page", CODE_PAGES, ids=lambda p: p.name)
def test_page_metadata(code_page: CodePage) -> None:
    assert code_page.section == f"MS-ASWBXML 2.1.2.1.{code_page.number + 1}"
    assert code_page.added_in in VERSIONS
    assert re.fullmatch(r"[a-z][a-z0-9]*", code_page.prefix)
    assert code_page.tags, "every page defines tags"


@pytest.mark.parametrize("code_page", CODE_PAGES, ids=lambda p: p.name)
def test_tokens_in_range_and_names_unique(code_page: CodePage) -> None:
    for token, tag in code_page.tags.items():
        assert 0x05 <= token <= 0x3F, (code_page.name, hex(token))
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", tag), tag
    assert len(set(code_page.tags.values())) == len(code_page.tags)
    assert dict(code_page.tokens) == {tag: token for token, tag in code_page.tags.items()}


@pytest.mark.parametrize("code_page", CODE_PAGES, ids=lambda p: p.name)
def test_opaque_tags_exist_on_their_page(code_page: CodePage) -> None:
    assert code_page.opaque_tags <= set(code_page.tags.values())


def test_prefixes_are_unique_and_as_agreed() -> None:
    prefixes = [p.prefix for p in CODE_PAGES]
    assert len(set(prefixes)) == 26
    assert prefixes == [
        "airsync", "contacts", "email", "airnotify", "calendar", "move", "itemestimate",
        "folderhierarchy", "meetingresponse", "tasks", "resolverecipients", "validatecert",
        "contacts2", "ping", "provision", "search", "gal", "airsyncbase", "settings",
        "documentlibrary", "itemoperations", "composemail", "email2", "notes", "rm", "find",
    ]


def test_added_in_versions() -> None:
    assert {p.name for p in CODE_PAGES if p.added_in == "2.5"} == set(SPEC_PAGE_NAMES[:17])
    assert [p.added_in for p in CODE_PAGES[17:]] == [
        "12.0", "12.0", "12.0", "12.0", "14.0", "14.0", "14.0", "14.1", "16.1",
    ]


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        CODE_PAGES[0].tags[0x05] = "X"  # type: ignore[index]
    with pytest.raises(TypeError):
        PAGE_BY_NAMESPACE["X"] = CODE_PAGES[0]  # type: ignore[index]


# Spot checks against the MS-ASWBXML tables (page name, token, tag).
SPEC_SPOT_CHECKS = [
    ("AirSync", 0x05, "Sync"), ("AirSync", 0x1D, "ApplicationData"), ("AirSync", 0x29, "HeartbeatInterval"),
    ("Contacts", 0x0D, "BusinessAddressCity"), ("Contacts", 0x07, "AssistantPhoneNumber"),
    ("Contacts", 0x3C, "Picture"), ("Contacts", 0x3E, "WeightedRank"),
    ("Email", 0x28, "Recurrence"), ("Email", 0x29, "Type"), ("Email", 0x2A, "Until"),
    ("Email", 0x2B, "Occurrences"), ("Email", 0x2C, "Interval"), ("Email", 0x2D, "DayOfWeek"),
    ("Email", 0x1D, "DtStamp"), ("Email", 0x3B, "Status"), ("Email", 0x3F, "DisallowNewTimeProposal"),
    ("Calendar", 0x08, "Attendee"), ("Calendar", 0x09, "Email"), ("Calendar", 0x0A, "Name"),
    ("Calendar", 0x29, "AttendeeStatus"), ("Calendar", 0x2A, "AttendeeType"), ("Calendar", 0x11, "DtStamp"),
    ("Calendar", 0x28, "UID"), ("Calendar", 0x3C, "ClientUid"),
    ("GetItemEstimate", 0x0C, "Estimate"), ("FolderHierarchy", 0x16, "FolderSync"),
    ("MeetingResponse", 0x0E, "InstanceId"), ("MeetingResponse", 0x12, "SendResponse"),
    ("Tasks", 0x0D, "UtcDueDate"), ("ResolveRecipients", 0x1D, "MaxPictures"),
    ("ValidateCert", 0x09, "CheckCRL"), ("Contacts2", 0x0E, "MMS"), ("Ping", 0x0D, "MaxFolders"),
    ("Provision", 0x0D, "EASProvisionDoc"), ("Provision", 0x10, "RequireStorageCardEncryption"),
    ("Provision", 0x3A, "Hash"), ("Search", 0x15, "FreeText"), ("GAL", 0x12, "Data"),
    ("AirSyncBase", 0x06, "Type"), ("AirSyncBase", 0x1F, "Content"), ("AirSyncBase", 0x20, "Location"),
    ("AirSyncBase", 0x2C, "LocationUri"), ("AirSyncBase", 0x2D, "InstanceId"),
    ("Settings", 0x2B, "RightsManagementInformation"), ("Settings", 0x23, "PrimarySmtpAddress"),
    ("DocumentLibrary", 0x0C, "ContentType"), ("ItemOperations", 0x11, "Part"),
    ("ComposeMail", 0x10, "Mime"), ("ComposeMail", 0x18, "Email"),
    ("Email2", 0x05, "UmCallerID"), ("Email2", 0x09, "ConversationId"), ("Email2", 0x0A, "ConversationIndex"),
    ("Email2", 0x13, "MeetingMessageType"), ("Email2", 0x15, "IsDraft"), ("Email2", 0x16, "Bcc"),
    ("Email2", 0x17, "Send"), ("Notes", 0x07, "LastModifiedDate"),
    ("RightsManagement", 0x18, "RemoveRightsManagementProtection"),
    ("Find", 0x05, "Find"), ("Find", 0x08, "MailBoxSearchCriterion"), ("Find", 0x19, "GalSearchCriterion"),
    ("Find", 0x22, "Picture"),
]


@pytest.mark.parametrize(("name", "token", "tag"), SPEC_SPOT_CHECKS)
def test_spec_spot_check(name: str, token: int, tag: str) -> None:
    assert page(name).tags[token] == tag
    assert page(name).tokens[tag] == token


def test_libwbxml_names_are_not_used() -> None:
    contacts = page("Contacts")
    for libwbxml_name in ("BusinessCity", "AssistantTelephoneNumber", "HomeStreet"):
        assert libwbxml_name not in contacts.tokens
    for name in ("Email", "Calendar", "Tasks"):
        assert not any(tag.startswith(("Recurrence_", "Attendee_")) for tag in page(name).tokens)
    assert "MIME" not in page("ComposeMail").tokens
    assert "FlagStatus" not in page("Email").tokens


def test_unused_tokens_left_out() -> None:
    # Tokens no MS-ASWBXML edition names on the wire stay out (the codec writes placeholders).
    assert 0x09 not in page("AirSyncBase").tags
    assert 0x0A not in page("ComposeMail").tags
    assert 0x14 not in page("Email2").tags
    assert 0x2A not in page("Settings").tags
    assert not set(range(0x2B, 0x33)) & set(page("Calendar").tags)
    assert not {0x0F, 0x10, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F} & set(page("Find").tags)


def test_opaque_tags() -> None:
    assert page("Email2").opaque_tags == {"ConversationId", "ConversationIndex"}
    assert page("ComposeMail").opaque_tags == {"Mime"}
    assert page("AirSyncBase").opaque_tags == {"Content"}
    assert page("ItemOperations").opaque_tags == {"ConversationId"}
    assert page("Search").opaque_tags == {"ConversationId"}
    # base64 text in the spec, not opaque: Calendar TimeZone, Contacts Picture, body Data, GAL Data.
    opaque = {(p.name, tag) for p in CODE_PAGES for tag in p.opaque_tags}
    for not_opaque in [("Calendar", "TimeZone"), ("Contacts", "Picture"), ("AirSyncBase", "Data"),
                       ("ItemOperations", "Data"), ("GAL", "Data"), ("ResolveRecipients", "Data"),
                       ("Provision", "Data")]:
        assert not_opaque not in opaque


ALIASES = {
    "AirSync:": 0, "POOMCONTACTS:": 1, "Contacts:": 1, "POOMMAIL:": 2, "Email:": 2, "AirNotify:": 3,
    "POOMCAL:": 4, "Calendar:": 4, "Move:": 5, "GetItemEstimate:": 6, "ItemEstimate:": 6,
    "FolderHierarchy:": 7, "MeetingResponse:": 8, "POOMTASKS:": 9, "Tasks:": 9,
    "ResolveRecipients:": 10, "ValidateCert:": 11, "POOMCONTACTS2:": 12, "Contacts2:": 12, "Ping:": 13,
    "Provision:": 14, "Search:": 15, "GAL:": 16, "Gal:": 16, "AirSyncBase:": 17, "Settings:": 18,
    "DocumentLibrary:": 19, "ItemOperations:": 20, "ComposeMail:": 21, "POOMMAIL2:": 22, "Email2:": 22,
    "Notes:": 23, "RightsManagement:": 24, "Find:": 25,
    # MS-ASHTTP / MS-ASCNTC schema examples write these in capitals
    "CONTACTS:": 1, "CONTACTS2:": 12,
}


@pytest.mark.parametrize(("alias", "number"), sorted(ALIASES.items()))
def test_alias_resolves(alias: str, number: int) -> None:
    assert PAGE_BY_NAMESPACE[alias].number == number
    assert alias in PAGE_BY_NAMESPACE[alias].aliases


def test_namespace_names_resolve_and_nothing_collides() -> None:
    for code_page in CODE_PAGES:
        assert PAGE_BY_NAMESPACE[code_page.name] is code_page
    spellings = [ns for p in CODE_PAGES for ns in (p.name, *p.aliases)]
    assert len(spellings) == len(set(spellings)) == len(PAGE_BY_NAMESPACE)
    assert WBXML_NS not in PAGE_BY_NAMESPACE


def test_spec_example_namespaces_resolve() -> None:
    # Every namespace the bundled spec excerpts declare (xmlns="X:" / xmlns:p="X:") is known.
    from pathlib import Path

    specs = Path(__file__).resolve().parents[3] / "shared" / "specs"
    if not specs.is_dir():
        pytest.skip("shared specs not available")
    found = set()
    for path in specs.glob("*.txt"):
        found |= set(re.findall(r'xmlns(?::\w+)?="([A-Za-z0-9]+:)"', path.read_text(errors="replace")))
    assert found, "expected namespace declarations in the spec excerpts"
    assert found <= set(PAGE_BY_NAMESPACE), found - set(PAGE_BY_NAMESPACE)


def test_tag_to_pages() -> None:
    assert TAG_TO_PAGES["BusinessAddressCity"] == (1,)
    assert TAG_TO_PAGES["Type"] == (2, 4, 7, 9, 10, 17)
    assert TAG_TO_PAGES["Find"] == (25,)
    every = {(tag, p.number) for p in CODE_PAGES for tag in p.tags.values()}
    assert every == {(tag, n) for tag, numbers in TAG_TO_PAGES.items() for n in numbers}
    for numbers in TAG_TO_PAGES.values():
        assert list(numbers) == sorted(set(numbers))


# ---- issue 13, Names and aliases --------------------------------------------------------------------------------
# Expected names typed from the MS-ASWBXML tables (April 2022 edition, shared/specs/MS-ASWBXML.txt).

@pytest.mark.parametrize(("name", "token", "tag"), [
    ("Calendar", 0x05, "Timezone"),  # 2.1.2.1.5: "Timezone"
    ("Email", 0x33, "TimeZone"),  # 2.1.2.1.3: "TimeZone" (MS-ASEMAIL)
    ("ComposeMail", 0x17, "Name"),  # 2.1.2.1.22 / MS-ASCMD 2.2.3.78 Forwardee
    ("ComposeMail", 0x18, "Email"),
    ("Email", 0x09, "Att0id"),  # 2.1.2.1.3: "Att0id"
    ("Find", 0x19, "GalSearchCriterion"),  # 2.1.2.1.26
])
def test_decoder_names_are_todays_mswbxml_names(name: str, token: int, tag: str) -> None:
    assert page(name).tags[token] == tag


@pytest.mark.parametrize(("namespace", "spelling", "token"), [
    ("Calendar", "TimeZone", 0x05), ("Calendar", "Timezone", 0x05),
    ("ComposeMail", "ForwardeeName", 0x17), ("ComposeMail", "Name", 0x17),
    ("ComposeMail", "ForwardeeEmail", 0x18), ("ComposeMail", "Email", 0x18),
    ("Find", "GALSearchCriterion", 0x19), ("Find", "GalSearchCriterion", 0x19),
    ("Email", "Att0Id", 0x09), ("Email", "Att0id", 0x09),
])
def test_encoder_takes_every_spelling(namespace: str, spelling: str, token: int) -> None:
    code_page = page(namespace)
    assert ENCODER_TOKENS[code_page.number][spelling] == token
    # the bytes: header, SWITCH_PAGE when not page 0, the token with content, STR_I "x", END, END
    switch = bytes([0x00, code_page.number]) if code_page.number else b""
    encoded = encode(f'<{spelling} xmlns="{namespace}">x</{spelling}>')
    assert encoded == b"\x03\x01\x6a\x00" + switch + bytes([token | 0x40, 0x03]) + b"x\x00\x01"


def test_gal_namespace_spellings_encode_to_page_16() -> None:
    # MS-ASWBXML 2.1.2.1's page table writes "Gal", its section title and MS-ASCMD "GAL".
    for namespace in ("GAL", "Gal", "GAL:", "Gal:"):
        assert PAGE_BY_NAMESPACE[namespace].number == 16
        assert encode(f'<Search xmlns="Search" xmlns:g="{namespace}"><g:Alias>x</g:Alias></Search>') == (
            b"\x03\x01\x6a\x00\x00\x0f\x45\x00\x10\x4a\x03x\x00\x01\x01")


def test_alias_table_is_data_with_sources() -> None:
    for alias in TAG_ALIASES:
        assert alias.name in CODE_PAGES[alias.page].tokens, alias
        assert alias.spelling not in CODE_PAGES[alias.page].tokens, alias  # an alias is not a table name
        assert re.search(r"MS-AS[A-Z]+|libwbxml", alias.source), alias


def test_decode_writes_the_table_name_for_an_alias() -> None:
    assert to_xml(decode(encode('<TimeZone xmlns="Calendar">x</TimeZone>'))) == (
        '<Timezone xmlns="Calendar">x</Timezone>\n')
    assert to_xml(decode(encode('<ForwardeeEmail xmlns="ComposeMail">x</ForwardeeEmail>'))) == (
        '<Email xmlns="ComposeMail">x</Email>\n')


# ---- issue 13, Names: the versions of each token (MS-ASWBXML "Protocol versions" columns) ----------------------

@pytest.mark.parametrize(("name", "tag", "covered", "not_covered"), [
    ("AirSync", "Truncation", ["2.5"], ["12.0", "12.1", "16.1"]),  # 2.1.2.1.1: 2.5
    ("AirSync", "Partial", ["12.1", "16.1"], ["12.0"]),  # 12.1, 14.0, 14.1, 16.0, 16.1
    ("FolderHierarchy", "Folders", ["2.5", "12.0", "12.1"], ["14.0", "16.1"]),  # 2.5, 12.0, 12.1
    ("FolderHierarchy", "Folder", ["12.1"], ["14.0"]),
    ("Search", "Or", ["12.0", "16.1"], ["2.5"]),  # 12.0, 12.1, 14.0, 14.1, 16.0, 16.1
    ("Email", "AttRemoved", [], ["2.5", "12.0", "16.1"]),  # not in the current table at all
    ("Email", "GlobalObjId", ["2.5", "14.1"], ["16.0", "16.1"]),  # 2.5-14.1 (note 4: calendar:UID)
    ("Email", "Location", ["14.1"], ["16.0"]),
    ("Calendar", "Timezone", ["2.5", "16.1"], []),  # All
    ("Calendar", "ClientUid", ["16.0", "16.1"], ["14.1"]),
    ("Provision", "RequireStorageCardEncryption", ["12.1"], ["12.0"]),  # 12.1, 14.0, 14.1, 16.0, 16.1
    ("Provision", "AccountOnlyRemoteWipe", ["16.1"], ["16.0"]),
    ("AirSyncBase", "Location", ["16.0"], ["14.1"]),
    ("AirSyncBase", "Type", ["12.0"], ["2.5"]),  # page added in 12.0
    ("GetItemEstimate", "Class", ["12.1"], ["14.0"]),  # 2.5, 12.0, 12.1 (note 1: airsync:Class)
    ("MeetingResponse", "ProposedStartTime", ["16.1"], ["16.0"]),
    ("ComposeMail", "Name", ["16.0"], ["14.1"]),
    ("Settings", "UserAgent", ["12.1"], ["12.0"]),
    ("Find", "Find", ["16.1"], ["16.0"]),
    ("AirNotify", "Notify", [], ["2.5"]),  # 2.1.2.1.4: no longer in use
])
def test_token_versions(name: str, tag: str, covered: list[str], not_covered: list[str]) -> None:
    code_page = page(name)
    span = code_page.token_versions(code_page.tokens[tag])
    for version in covered:
        assert span.covers(version), (tag, version)
    for version in not_covered:
        assert not span.covers(version), (tag, version)


def test_version_spans_read_the_notation() -> None:
    assert VersionSpan.parse("2.5") == VersionSpan("2.5", "2.5")
    assert VersionSpan.parse("12.1+") == VersionSpan("12.1", None)
    assert VersionSpan.parse("2.5-14.1") == VersionSpan("2.5", "14.1")
    assert VersionSpan.parse("") == VersionSpan(None, None)
    assert VersionSpan.parse("2.5-14.1").describe() == "2.5 to 14.1"
    assert VersionSpan.parse("16.0+").describe() == "from 16.0"
    assert VersionSpan.parse("16.0+").covers("17.0") is None  # not a version MS-ASWBXML names


@pytest.mark.parametrize("code_page", CODE_PAGES, ids=lambda p: p.name)
def test_version_entries_name_real_tokens_in_known_versions(code_page: CodePage) -> None:
    for token, text in code_page.versions.items():
        assert token in code_page.tags, (code_page.name, hex(token))
        span = VersionSpan.parse(text)
        for version in (span.first, span.last):
            assert version is None or version in VERSIONS, text
