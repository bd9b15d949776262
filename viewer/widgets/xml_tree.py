"""A foldable tree of an (annotated) XML document: one node per element, annotations shown dimmed."""

from __future__ import annotations

from lxml import etree
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from eas.constants import WBXML_NS
from viewer.diff import parse

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


UNFOLD_ALL_LIMIT = 5000  # elements; bigger documents unfold level by level


class XmlTree(Tree[str]):
    """The XML as a tree: Enter/Space folds one element, + / - unfold / fold everything.

    Children are created when their parent is first unfolded, so a document of megabytes opens at once.
    """

    BINDINGS = [
        Binding("plus,equals_sign", "expand_all", "Unfold all", id="xml-unfold-all", show=False),
        Binding("minus", "collapse_all", "Fold all", id="xml-fold-all", show=False),
    ]

    def __init__(self, *, id: str | None = None, xml: str | None = None) -> None:
        super().__init__("(no XML)", id=id)
        self.show_root = True
        self._initial_xml = xml
        self._pending: dict[int, etree._Element] = {}  # node id -> element whose children are not built yet
        self._elements: dict[int, etree._Element] = {}  # node id -> its element (for copying it)
        self.element_count = 0

    def on_mount(self) -> None:
        self.load_xml(self._initial_xml)

    def load_xml(self, xml: str | None) -> None:
        """Replace the tree with the document `xml` (None: nothing to show)."""
        self.clear()
        self._pending.clear()
        self._elements.clear()
        if not xml:
            self.root.set_label("(no XML)")
            return
        try:
            root = parse(xml)
        except ValueError as err:
            self.root.set_label(f"(not well-formed XML: {err})")
            return
        self.element_count = sum(1 for _ in root.iter(tag=etree.Element))
        self.root.set_label(_label(root))
        self.root.data = _name(root)
        self._elements[self.root.id] = root
        depth = 99 if self.element_count <= EXPAND_ALL_UP_TO else 2
        self._grow_xml(self.root, root, depth)
        self.root.expand()

    def _grow_xml(self, node: TreeNode[str], el: etree._Element, depth: int) -> None:
        """Add `el`'s children under `node`; `depth` more levels are built and unfolded now."""
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if any(isinstance(grand.tag, str) for grand in child):
                sub = node.add(_label(child), data=_name(child), expand=depth > 1, allow_expand=True)
                self._elements[sub.id] = child
                if depth > 1:
                    self._grow_xml(sub, child, depth - 1)
                else:
                    self._pending[sub.id] = child
            else:
                leaf = node.add_leaf(_label(child), data=_name(child))
                self._elements[leaf.id] = child

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        element = self._pending.pop(event.node.id, None)
        if element is not None:
            self._grow_xml(event.node, element, 1)

    def _grow_all_xml(self, node: TreeNode[str]) -> None:
        element = self._pending.pop(node.id, None)
        if element is not None:
            self._grow_xml(node, element, 1)
        for child in node.children:
            self._grow_all_xml(child)

    def current_element(self) -> str | None:
        """The element under the cursor as XML (with its annotation comments), or None."""
        node = self.cursor_node
        element = self._elements.get(node.id) if node is not None else None
        if element is None:
            return None
        return etree.tostring(element, encoding="unicode", with_tail=False)

    def action_expand_all(self) -> None:
        if self.element_count > UNFOLD_ALL_LIMIT:
            self.notify(
                f"{self.element_count:,} elements: too many to unfold at once; unfold them level by level (Enter).",
                severity="warning",
                markup=False,
            )
            return
        self._grow_all_xml(self.root)
        self.root.expand_all()

    def action_collapse_all(self) -> None:
        self.root.collapse_all()
        self.root.expand()


__all__ = ["XmlTree"]
