"""Which protocol versions use each element: MS-ASWBXML's version columns and the class specs' later placements.

A request or response is read against the version its session speaks (MS-ASProtocolVersion): an element whose
token the version does not use is newer than the session, or was dropped before it. The request schemas
(eas.schema, MS-ASHTTP Appendix A) are those of 14.0; LATER_PLACEMENTS and the token versions tell which of their
complaints a later version answers.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from lxml import etree

from .codepages import CODE_PAGES, PAGE_BY_NAMESPACE, TAG_ALIASES, CodePage, VersionSpan, version_rank

__all__ = [
    "LATER_PLACEMENTS",
    "REPLACED_BY",
    "VALUE_VERSIONS",
    "Placement",
    "VersionFinding",
    "add_version_notes",
    "element_versions",
    "later_placement",
    "version_findings",
]

# The notes under the MS-ASWBXML tables: (page, tag) -> what a later version uses instead.
REPLACED_BY: Mapping[tuple[int, str], str] = MappingProxyType(
    {
        (1, "Body"): "airsyncbase:Body from 12.0",  # 2.1.2.1.2 note 1
        (2, "Attachments"): "airsyncbase:Attachments from 12.0",  # 2.1.2.1.3 note 1
        (2, "Body"): "airsyncbase:Body from 12.0",  # 2.1.2.1.3 note 2
        (2, "Location"): "airsyncbase:Location from 16.0",  # 2.1.2.1.3 note 3
        (2, "GlobalObjId"): "calendar:UID from 16.0",  # 2.1.2.1.3 note 4
        (4, "Body"): "airsyncbase:Body from 12.0",  # 2.1.2.1.5 note 1
        (4, "Location"): "airsyncbase:Location from 16.0",  # 2.1.2.1.5 note 2
        (4, "ExceptionStartTime"): "airsyncbase:InstanceId from 16.0",  # MS-ASCAL 2.2.2.21 ExceptionStartTime
        (6, "Class"): "airsync:Class from 14.0",  # 2.1.2.1.7 note 1
        (9, "Body"): "airsyncbase:Body from 12.0",  # 2.1.2.1.10 note 1
        (0, "Truncation"): "airsyncbase:BodyPreference from 12.0",  # MS-ASWBXML 2.1.2.1.1: 2.5 only
    }
)


class ValueSince(NamedTuple):
    """A value of an element that only later protocol versions use."""

    since: str
    meaning: str
    source: str


# (page name, tag, value) -> the version that added the value.
VALUE_VERSIONS: Mapping[tuple[str, str, str], ValueSince] = MappingProxyType(
    {
        ("Calendar", "BusyStatus", "4"): ValueSince(
            "16.0", "working elsewhere", "MS-ASCAL BusyStatus: value 4 is not supported in 2.5-14.1"),
        ("Calendar", "BusyStatus", "-1"): ValueSince(
            "16.0", "status unknown", "MS-ASCAL BusyStatus: value -1 is not supported in 2.5-14.1"),
    }
)


class Placement(NamedTuple):
    """A place where a later version allows elements that the 14.0 request schemas refuse there.

    Attributes:
        command: the request's root element (local name).
        parent: the local name of the element's parent.
        page: the code page name of the element.
        names: the tags allowed (None: every tag of the page).
        since: the first protocol version that allows them.
        source: the spec text that says so.
    """

    command: str
    parent: str
    page: str
    names: frozenset[str] | None
    since: str
    source: str


LATER_PLACEMENTS: tuple[Placement, ...] = (
    Placement("Sync", "ApplicationData", "Email", None, "16.0",
              "MS-ASEMAIL, Sync Command Request: synchronization of draft emails is supported in 16.0 and "
              "16.1, so a client adds and changes Email class items"),
    Placement("Sync", "ApplicationData", "Email2", None, "16.0",
              "MS-ASEMAIL 2.2.2.9 Bcc, 2.2.2.42 IsDraft, 2.2.2.69 Send: drafts in Sync requests from 16.0"),
    Placement("Sync", "ApplicationData", "AirSyncBase", None, "16.0",
              "MS-ASAIRS 2.2.2.8 Attachments, 2.2.2.9 Body, 2.2.2.28 Location: in Sync Add/Change from 16.0"),
    Placement("SmartForward", "SmartForward", "AirSyncBase", frozenset({"Body"}), "16.0",
              "MS-ASAIRS 2.2.2.9: Body is a child of composemail:SmartForward only in 16.0 and 16.1"),
)


@lru_cache(maxsize=4096)  # bounded: a document may make up names
def element_versions(tag: str) -> tuple[CodePage, str, VersionSpan] | None:
    """(code page, the table's tag name, versions) of a Clark tag in any namespace or tag spelling; None when no
    code page defines it."""
    if not tag.startswith("{"):
        return None
    namespace, _, local = tag[1:].partition("}")
    page = PAGE_BY_NAMESPACE.get(namespace)
    if page is None:
        return None
    token = page.tokens.get(local)
    if token is None:
        token = next((page.tokens[alias.name] for alias in TAG_ALIASES
                      if alias.page == page.number and alias.spelling == local), None)
    if token is None:
        return None
    return page, page.tags[token], page.token_versions(token)


def later_placement(command: str, parent: str, tag: str, version: str | None) -> Placement | None:
    """The LATER_PLACEMENTS entry that allows element `tag` under `parent` in `command` at `version` (None: the
    newest version), or None."""
    found = element_versions(tag)
    if found is None:
        return None
    page, name, _span = found
    rank = version_rank(version) if version else len(CODE_PAGES)
    for placement in LATER_PLACEMENTS:
        if (placement.command == command and placement.parent == parent and placement.page == page.name
                and (placement.names is None or name in placement.names)):
            since = version_rank(placement.since)
            if rank is not None and since is not None and rank >= since:
                return placement
    return None


class VersionFinding(NamedTuple):
    """An element the session's protocol version does not use.

    Attributes:
        element: the element.
        name: its prefixed name ("airsyncbase:Location").
        reason: why ("airsyncbase:Location is from 16.0; this session speaks 14.1").
    """

    element: Any
    name: str
    reason: str


def _reason(page: CodePage, name: str, span: VersionSpan, version: str) -> str:
    qualified = f"{page.prefix}:{name}"
    if span.first is None:
        return f"{qualified} is {span.describe()} (a token of an older edition)"
    if span.is_newer_than(version):
        return f"{qualified} is from protocol {span.first}; this session speaks {version}"
    reason = f"{qualified} is used in {span.describe()}, not in {version}"
    replacement = REPLACED_BY.get((page.number, name))
    return f"{reason} ({replacement})" if replacement else reason


def version_findings(root: Any, version: str | None) -> list[VersionFinding]:
    """The elements of a document that protocol `version` does not use, in document order; empty for an unknown
    version (no MS-ASProtocolVersion, or one MS-ASWBXML does not list)."""
    if version is None or version_rank(version) is None:
        return []
    version = version.strip()
    findings = []
    for element in root.iter(etree.Element):
        tag = element.tag
        if not isinstance(tag, str):
            continue
        found = element_versions(tag)
        if found is None:
            continue
        page, name, span = found
        if not span.covers(version):
            findings.append(VersionFinding(element, f"{page.prefix}:{name}", _reason(page, name, span, version)))
    return findings


def _noted_names(version: str) -> list[tuple[CodePage, str]]:
    """(page, tag) of the tags that `version` does not use, and of those with values it may not use."""
    unused = [(page, name) for page in CODE_PAGES for token, name in page.tags.items()
              if not page.token_versions(token).covers(version)]
    valued = [(PAGE_BY_NAMESPACE[page], tag) for page, tag, _value in sorted(VALUE_VERSIONS)]
    return unused + [pair for pair in valued if pair not in unused]


@lru_cache(maxsize=16)
def _noted_tags(version: str) -> frozenset[str]:
    """The decoder's Clark tags that may get a version note in a document of `version`."""
    return frozenset(f"{{{page.name}}}{name}" for page, name in _noted_names(version))


@lru_cache(maxsize=256)
def _noted_open_tags(version: str, root_page: int) -> re.Pattern[bytes]:
    """The open tags of those elements as the decoder writes them under a root of `root_page`: unprefixed on
    the root's page, with the page's prefix elsewhere. A search in the decoder's XML text (in C) spares the
    pass over the tree for the documents that hold none."""
    names = {name if page.number == root_page else f"{page.prefix}:{name}" for page, name in _noted_names(version)}
    return re.compile(b"<(?:" + _trie_alternation([name.encode() for name in names]) + rb")[ >/]")


def _trie_alternation(words: list[bytes]) -> bytes:
    """A regex that matches exactly `words`, written as their trie: `a(?:b|cd)` for ab and acd.

    Python's re tries the branches of `ab|acd|...` one after the other at each place a match could start; with
    a hundred names and a tag at every `<`, that search costs more than the rest of the document's notes. In the
    trie's form each place reads one branch per byte.
    """
    trie: dict[bytes, Any] = {}
    for word in words:
        node = trie
        for index in range(len(word)):
            node = node.setdefault(word[index : index + 1], {})
        node[b""] = {}  # a word ends here

    def written(node: dict[bytes, Any]) -> bytes:
        branches = [re.escape(byte) + written(child) for byte, child in sorted(node.items()) if byte]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return b"(?:" + body + b")?" if b"" in node else body

    return written(trie)


def _version_note(element: etree._Element, version: str) -> str | None:
    found = element_versions(element.tag)
    if found is None:
        return None
    page, name, span = found
    if not span.covers(version):
        return _reason(page, name, span, version)
    value = (element.text or "").strip()
    since = VALUE_VERSIONS.get((page.name, name, value))
    if since is not None and _older(version, since.since):
        return (f"{page.prefix}:{name} {value} ({since.meaning}) is from protocol {since.since}; this session "
                f"speaks {version}")
    return None


def _older(version: str, than: str) -> bool:
    rank, other = version_rank(version), version_rank(than)
    return rank is not None and other is not None and rank < other


def add_version_notes(root: etree._Element, version: str | None, decoded_xml: bytes | None = None,
                      root_page: int | None = None) -> None:
    """Put a comment after each element that protocol `version` does not use (newer, or dropped before it), and
    after each value newer than it (VALUE_VERSIONS).

    Adds nothing for an unknown version, and nothing twice (an identical comment after the element is kept).
    decoded_xml, root_page: the decoder's XML text of the tree and the code page of its root, when the tree was
        just decoded from it: a document whose text holds none of the noted tags is not walked.
    """
    if version is None or version_rank(version.strip()) is None:
        return
    version = version.strip()
    if decoded_xml is not None and root_page is not None:
        if _noted_open_tags(version, root_page).search(decoded_xml) is None:
            return
    tags = _noted_tags(version)
    # one pass in Python with a set: lxml's iter() with a hundred tags to match is several times slower
    for element in [node for node in root.iter(etree.Element) if node.tag in tags]:
        note = _version_note(element, version) if element is not root else None
        if note is None:
            continue
        text = f" version: {note} "
        # after the element's other notes, so that annotating again finds each note where it put it
        last: Any = element
        following: Any = element.getnext()  # comments' tag is a function, not the str the stubs say
        while following is not None and following.tag is etree.Comment and following.text != text:
            last, following = following, following.getnext()
        if following is not None and following.tag is etree.Comment:
            continue  # noted already
        comment = etree.Comment(text)
        tail = last.tail
        last.tail = None
        last.addnext(comment)
        comment.tail = tail
