"""The command palette's entries ("category: Verb phrase"), delegating to the screens' actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from eas.wiretext import shown
from viewer.export import EXPORT_FORMATS
from viewer.screens.exchange import ExchangeScreen
from viewer.screens.main import MainScreen
from viewer.source import SORT_ORDERS

if TYPE_CHECKING:
    from viewer.app import EasInspectorApp


class InspectorCommands(Provider):
    """Flow, filter, sort, session, capture, view and copy commands for the current screen."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: EasInspectorApp = self.app  # type: ignore[assignment]
        screen = self.screen
        out: list[tuple[str, Callable[[], object], str]] = [
            ("view: Help (all keys)", app.action_help, "F1"),
        ]
        if isinstance(screen, MainScreen):
            out += [
                ("flow: Open", lambda: screen.query_one("#flows").action_open(), "show the selected exchange"),  # type: ignore[attr-defined]
                ("flow: Replay", screen.action_replay, "edit the selected request and send it again"),
                ("flow: Next problem", screen.action_next_problem, "jump to the next flow with problems"),
                ("flow: Previous problem", screen.action_previous_problem, "jump to the previous flow with problems"),
                ("filter: Errors only", partial(screen.set_filter, problems_only=True), "only flows with problems"),
                ("filter: HTTP errors 401", partial(screen.set_filter, http_status=401, eas_status=None), "authentication failures"),
                ("filter: Search decoded XML", screen.action_focus_search, "full-text search"),
                ("filter: Clear all filters", screen.action_clear_filters, "show every flow of the session"),
                ("session: All sessions", screen.action_all_sessions, "flows of every device"),
                ("capture: Reload", screen.action_reload, "read sessions and flows again"),
                ("sort: Reverse order", screen.action_reverse_sort, ""),
                ("view: Split list and detail", screen.action_toggle_split, "v: the selected flow beside the list"),
            ]
            out += [
                ("view: Diagnosis of the session", screen.action_diagnosis, "D: findings, most severe first"),
                ("view: SyncKey chain of this collection", screen.action_sync_key_chain, "K: key sent -> key answered"),
                ("view: Timeline of the session", screen.action_timeline, "T: requests over time, by collection and command"),
                ("filter: This flow's collection", screen.action_collection_filter, "f; again: every collection"),
            ]
            for (session_id, collection_id), name in sorted(screen.folder_names.items(), key=lambda item: item[1]):
                if screen.filter.session_id in (None, session_id):
                    out.append(
                        (f"filter: Collection {shown(name)}", partial(screen.filter_collection, collection_id), collection_id)
                    )
            for fmt, (_, label) in EXPORT_FORMATS.items():
                out.append(
                    (f"capture: Export as {label}", partial(screen.action_export, fmt), "the marked flows, else the list (x: XML)")
                )
            for command in screen.commands:
                out.append((f"filter: Command {command}", partial(screen.set_filter, command=command), ""))
            for order, label in SORT_ORDERS.items():
                out.append((f"sort: By {label}", partial(screen.set_sort, order, screen.filter.descending), ""))
        if isinstance(screen, ExchangeScreen):
            out += [
                ("flow: Replay", screen.action_replay, "edit this request and send it again"),
                ("view: Raw bytes", partial(screen.action_tab, "tab-raw"), "hex dump of the bodies"),
                ("view: Side by side", partial(screen.action_tab, "tab-both"), "request and response XML"),
                ("view: Problems", partial(screen.action_tab, "tab-problems"), "decode problems with offsets"),
                ("view: Diff with the original", partial(screen.action_tab, "tab-diff"), "for a replay"),
                ("view: Toggle XML tree", screen.action_toggle_tree, "foldable tree of the XML"),
                ("view: Wrap long lines", screen.action_toggle_wrap, "w; again to scroll them"),
                ("flow: Next", partial(screen.action_neighbour, 1), "]: the next flow of the list"),
                ("flow: Previous", partial(screen.action_neighbour, -1), "[: the previous flow of the list"),
                ("copy: Selection, else the XML or element in focus", screen.action_copy, "y; to the clipboard (OSC 52)"),
                ("copy: Request as curl", partial(screen.copy_request, False), "a shell command sending the same bytes"),
                (
                    "copy: Request as eas-inspector encode | curl",
                    partial(screen.copy_request, True),
                    "the XML to edit, encoded and sent",
                ),
            ]
        return out

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text or None)


__all__ = ["InspectorCommands"]
