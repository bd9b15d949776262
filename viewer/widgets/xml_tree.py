"""A foldable tree of an (annotated) XML document: one node per element, annotations shown dimmed."""

from __future__ import annotations

from lxml import etree
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from viewer.diff import parse

WBXML_NS = "urn:eas-inspector:wbxml"
EXPAND_ALL_UP_TO = 400  # nodes; bigger documents open three levels deep


def _name(el: etree._Element) -> str:
    local = str(el.tag).rpartition("}")[2]
    return f"{el.prefix}:{local}" if el.prefix else local


def _label(el: etree._Element) -> Text:
    label = Text()
    label.append(_name(el), style="bold")
    for key, value in el.attrib.items():
        key = str(key)
        if key.startswith("{" + WBXML_NS + "}"):
            continue
        label.append(f" {key.rpartition('}')[2]}=", style="italic")
        label.append(repr(str(value)))
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        text = (el.text or "") + "".join(c.tail or "" for c in el)
        if text:
            shown = text if len(text) <= 200 else text[:199] + "…"
            label.append(" = ")
            label.append(shown.replace("\n", "⏎"), style="green")
    notes = [str(c.text).strip() for c in el if isinstance(c, etree._Comment) and c.text]
    # an annotation comment after a leaf belongs to it (the annotator writes it as the next sibling)
    nxt = el.getnext()
    while nxt is not None and isinstance(nxt, etree._Comment):
        if nxt.text:
            notes.append(str(nxt.text).strip())
        nxt = nxt.getnext()
    if notes:
        label.append("  # " + "; ".join(notes), style="dim")
    return label


class XmlTree(Tree[str]):
    """The XML as a tree: Enter/Space folds one element, + / - unfold / fold everything."""

    BINDINGS = [
        Binding("plus,equals_sign", "expand_all", "Unfold all", id="xml-unfold-all", show=False),
        Binding("minus", "collapse_all", "Fold all", id="xml-fold-all", show=False),
    ]

    def __init__(self, *, id: str | None = None, xml: str | None = None) -> None:
        super().__init__("(no XML)", id=id)
        self.show_root = True
        self._initial_xml = xml

    def on_mount(self) -> None:
        self.load_xml(self._initial_xml)

    def load_xml(self, xml: str | None, title: str = "") -> None:
        """Replace the tree with the document `xml` (None: nothing to show)."""
        self.clear()
        if not xml:
            self.root.set_label("(no XML)")
            return
        try:
            root = parse(xml)
        except ValueError as err:
            self.root.set_label(f"(not well-formed XML: {err})")
            return
        count = sum(1 for _ in root.iter())
        self.root.set_label(_label(root))
        self.root.data = _name(root)
        self._add_xml_children(self.root, root, 1, count <= EXPAND_ALL_UP_TO)
        self.root.expand()

    def _add_xml_children(self, node: TreeNode[str], el: etree._Element, depth: int, expand_all: bool) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            grand = [c for c in child if isinstance(c.tag, str)]
            if grand:
                sub = node.add(_label(child), data=_name(child), expand=expand_all or depth < 3)
                self._add_xml_children(sub, child, depth + 1, expand_all)
            else:
                node.add_leaf(_label(child), data=_name(child))

    def action_expand_all(self) -> None:
        self.root.expand_all()

    def action_collapse_all(self) -> None:
        self.root.collapse_all()
        self.root.expand()


__all__ = ["XmlTree"]
