"""Element-by-element difference of two XML trees (original response vs replayed one); no UI here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from eas.constants import WBXML_NS

# Children whose text identifies a repeated element better than its position (a collection, an item).
KEY_CHILDREN = ("CollectionId", "ServerId", "ClientId", "FileReference", "LongId", "Id")

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One difference.

    Attributes:
        kind: "added" (only in the new tree), "removed" (only in the old one), "changed" (both, different).
        path: element path from the root, e.g. `/Sync/Collections/Collection[CollectionId=5]/Status`;
            `/@name` ends the path of an attribute.
        old: old text (or attribute value, or a one-line summary of a removed element); None when added.
        new: new text, likewise; None when removed.
    """

    kind: ChangeKind
    path: str
    old: str | None
    new: str | None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _name(el: etree._Element) -> str:
    """The element's name as the decoder writes it: prefix:local for non-default namespaces."""
    tag = el.tag
    assert isinstance(tag, str)
    prefix = el.prefix
    return f"{prefix}:{_local(tag)}" if prefix else _local(tag)


def _attr_name(el: etree._Element, qname: str) -> str:
    if not qname.startswith("{"):
        return qname
    ns, _, local = qname[1:].partition("}")
    for prefix, uri in (el.nsmap or {}).items():
        if uri == ns and prefix:
            return f"{prefix}:{local}"
    return local


def _elements(el: etree._Element) -> list[etree._Element]:
    """Element children only: comments (annotations) and processing instructions are not content."""
    return [child for child in el if isinstance(child.tag, str)]


def _text(el: etree._Element) -> str | None:
    """The text of a leaf element; None for an element with children (their layout whitespace is ignored)."""
    if _elements(el):
        return None
    return _leaf_text(el)


def _leaf_text(el: etree._Element) -> str:
    # Text split by annotation comments belongs together; comment text itself is not content.
    parts = [el.text or ""]
    for child in el:
        parts.append(child.tail or "")
    return "".join(parts)


def _attributes(el: etree._Element) -> dict[str, str]:
    return {
        _attr_name(el, str(k)): str(v)
        for k, v in el.attrib.items()
        if not str(k).startswith("{" + WBXML_NS + "}")
    }


def summarize(el: etree._Element, limit: int = 80) -> str:
    """A one-line rendering of an element for added/removed entries: `<Tag>text</Tag>` or `<Tag>…(n children)`."""
    text = _text(el)
    if text is None:
        body = f"…({len(_elements(el))} children)"
    else:
        body = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"<{_name(el)}>{body}"


def _key(el: etree._Element) -> str | None:
    for child in _elements(el):
        if _local(str(child.tag)) in KEY_CHILDREN and not _elements(child):
            return f"{_local(str(child.tag))}={_leaf_text(child).strip()}"
    return None


def _pair_children(
    old: etree._Element, new: etree._Element
) -> Iterator[tuple[str, etree._Element | None, etree._Element | None]]:
    """Yield (path step, old child, new child) for the children of two matched elements, in document order."""
    old_kids, new_kids = _elements(old), _elements(new)
    names: list[str] = []
    for kid in old_kids + new_kids:
        name = _name(kid)
        if name not in names:
            names.append(name)
    for name in names:
        olds = [k for k in old_kids if _name(k) == name]
        news = [k for k in new_kids if _name(k) == name]
        repeated = len(olds) > 1 or len(news) > 1
        old_keys = [_key(k) for k in olds]
        new_keys = [_key(k) for k in news]
        keyed = (
            repeated
            and all(k is not None for k in old_keys + new_keys)
            and len(set(old_keys)) == len(old_keys)
            and len(set(new_keys)) == len(new_keys)
        )
        if keyed:
            new_by_key = dict(zip(new_keys, news))
            for key, kid in zip(old_keys, olds):
                yield f"{name}[{key}]", kid, new_by_key.pop(key, None)
            for key, kid in new_by_key.items():
                yield f"{name}[{key}]", None, kid
            continue
        for index in range(max(len(olds), len(news))):
            step = f"{name}[{index + 1}]" if repeated else name
            yield (step, olds[index] if index < len(olds) else None, news[index] if index < len(news) else None)


def _walk(old: etree._Element, new: etree._Element, path: str, out: list[Change]) -> None:
    old_attrs, new_attrs = _attributes(old), _attributes(new)
    for name in list(old_attrs) + [n for n in new_attrs if n not in old_attrs]:
        a, b = old_attrs.get(name), new_attrs.get(name)
        if a != b:
            kind: ChangeKind = "added" if a is None else "removed" if b is None else "changed"
            out.append(Change(kind, f"{path}/@{name}", a, b))
    old_text, new_text = _text(old), _text(new)
    if old_text is not None and new_text is not None:
        if old_text != new_text:
            out.append(Change("changed", path, old_text, new_text))
        return
    if old_text is not None or new_text is not None:
        # A leaf became a container or the reverse: report it as one change of the whole element.
        out.append(Change("changed", path, summarize(old), summarize(new)))
        return
    for step, old_kid, new_kid in _pair_children(old, new):
        child_path = f"{path}/{step}"
        if old_kid is None and new_kid is not None:
            out.append(Change("added", child_path, None, summarize(new_kid)))
        elif new_kid is None and old_kid is not None:
            out.append(Change("removed", child_path, summarize(old_kid), None))
        elif old_kid is not None and new_kid is not None:
            _walk(old_kid, new_kid, child_path, out)


def diff_trees(old: etree._Element, new: etree._Element) -> list[Change]:
    """Differences between two XML trees, by element path, in document order.

    Comments, processing instructions, layout whitespace and the decoder's round-trip marker attributes
    (namespace `urn:eas-inspector:wbxml`) are ignored. Repeated siblings are matched by a key child
    (CollectionId, ServerId, ...) when every one has a distinct key, else by position.
    """
    out: list[Change] = []
    if _name(old) != _name(new):
        return [Change("changed", "/", summarize(old), summarize(new))]
    _walk(old, new, "/" + _name(old), out)
    return out


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def parse(text: str | bytes) -> etree._Element:
    """Parse XML text safely (no entities, no network).

    Raises:
        ValueError: the text is not well-formed XML.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as err:
        raise ValueError(f"not well-formed XML: {err}") from err


def diff_xml(old: str | bytes, new: str | bytes) -> list[Change]:
    """`diff_trees` over two XML texts."""
    return diff_trees(parse(old), parse(new))


def format_changes(changes: list[Change]) -> str:
    """Plain text rendering, one line per change: `~ path: old -> new`, `+ path: new`, `- path: old`."""
    lines = []
    for change in changes:
        if change.kind == "added":
            lines.append(f"+ {change.path}: {change.new}")
        elif change.kind == "removed":
            lines.append(f"- {change.path}: {change.old}")
        else:
            lines.append(f"~ {change.path}: {change.old!r} -> {change.new!r}")
    return "\n".join(lines) if lines else "no differences"


__all__ = ["Change", "KEY_CHILDREN", "diff_trees", "diff_xml", "format_changes", "parse", "summarize"]
