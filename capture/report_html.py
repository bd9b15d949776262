"""The HTML report's pieces, rendered from values: page frame, sessions, findings, timelines and exchanges."""

from __future__ import annotations

# Theory of operation
# -------------------
# A report is one HTML file that must open anywhere, offline, and be safe to open whatever the capture holds:
# 1. Every text that came from a capture (URLs, XML, header values, names, finding summaries) goes through
#    `text()`: bytes that were not UTF-8 shown as \xNN, control characters shown as \xNN, then HTML-escaped,
#    attribute quotes included. Nothing from a capture is ever written as markup.
# 2. Nothing is loaded: the CSS is inline, the timelines are inline SVG, there are no images, fonts or links
#    outside the page. A Content-Security-Policy meta tag says so to the browser (default-src 'none'); the one
#    small script (open the exchange a link points at) is allowed by its SHA-256 hash, no other.
# 3. Exchanges are folded (<details>); a check box filters the ok ones out with CSS (:has), no script needed.
# 4. Pieces are returned as strings for the caller to write one after the other, so a large capture never has
#    to be held as one page in memory.

import base64
import hashlib
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from eas.evidence import Finding
from eas.exchange import HeaderNote
from eas.verdicts import Outcome
from eas.wiretext import shown

from capture.timeline import COLLECTION, Cell, LaneKey, Timeline, TimelineFlow, build_timeline

# Fill colours by outcome (the timeline marks, the badges and the legend share them).
OUTCOME_COLOURS: Mapping[Outcome, str] = {
    Outcome.OK: "#2e8540",
    Outcome.WARNING: "#d98c00",
    Outcome.FAILED: "#c62828",
}
SEVERITY_CLASSES: Mapping[str, str] = {"error": "o-failed", "warning": "o-warning", "info": "o-info"}
# A finding lists at most this many of its flows as links; the rest are counted.
MAX_FINDING_LINKS = 40

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value: object) -> str:
    """Any value as HTML text: surrogate escapes and control characters as \\xNN, then HTML-escaped."""
    if value is None:
        return ""
    cleaned = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", shown(str(value)))
    return html.escape(cleaned, quote=True)


@dataclass(frozen=True)
class FlowView:
    """One exchange as the report shows it.

    Attributes:
        flow_id: the flow's id in the capture (its anchor is `flow-ID`).
        ts_start, ts_end: when the request started and the response ended (seconds since the epoch).
        method, url, command: the request.
        http_status: the response's HTTP status; None without a response.
        collections: the collection ids the flow names (Sync, GetItemEstimate, Ping folders), in order.
        outcome: the verdict (eas.verdicts.judge).
        reasons: why the outcome is not ok, worst first.
        statuses: every EAS Status of the response with its meaning, one line each.
    """

    flow_id: int
    ts_start: float
    ts_end: float | None
    method: str
    url: str
    command: str | None
    http_status: int | None
    collections: tuple[str, ...]
    outcome: Outcome
    reasons: tuple[str, ...]
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class SessionView:
    """One device session (or the flows outside any): its label, its flows in time order and its folder names."""

    anchor: str
    label: str
    details: tuple[tuple[str, str], ...]  # (what, value) pairs: host, user, device, versions ...
    flows: tuple[FlowView, ...]
    folder_names: Mapping[str, str]

    def collection_name(self, collection_id: str) -> str:
        """"INBOX (2)" where the session's FolderSync named it, else "collection 2"."""
        name = self.folder_names.get(collection_id)
        return f"{name} ({collection_id})" if name else f"collection {collection_id}"


# ------------------------------------------------------------------------------------------------ page frame

_STYLE = """
:root { color-scheme: light; --ok: #2e8540; --warning: #d98c00; --failed: #c62828; --info: #1565c0; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.2em 4em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6em; margin: .8em 0 .2em; } h2 { margin-top: 1.8em; border-bottom: 2px solid #ddd; }
h3 { margin: 1.4em 0 .4em; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .6em .8em; overflow: auto; max-height: 40em;
      white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; } td, th { padding: .2em .8em .2em 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #444; }
.note { color: #555; }
.badge { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 3px; color: #fff;
         font-size: 12px; font-weight: 600; padding: 0 .4em; text-transform: uppercase; }
.badge.o-ok { background: var(--ok); } .badge.o-warning { background: var(--warning); }
.badge.o-failed { background: var(--failed); } .badge.o-info { background: var(--info); }
.finding { border-left: 5px solid #999; padding: .3em .8em; margin: .8em 0; background: #fafafa; }
.finding.o-failed { border-color: var(--failed); } .finding.o-warning { border-color: var(--warning); }
.finding.o-info { border-color: var(--info); }
.finding p { margin: .3em 0; } .finding .flows a { margin-right: .4em; }
.timeline { display: block; width: 100%; height: auto; border: 1px solid #e1e4e8; background: #fff; }
.timeline text { font: 11px system-ui, sans-serif; fill: #333; }
.timeline a:focus rect, .timeline a:hover rect { stroke: #000; stroke-width: 1.5; }
.legend span { margin-right: 1.2em; } .swatch { display: inline-block; width: .9em; height: .9em;
  vertical-align: -.1em; margin-right: .3em; border-radius: 2px; }
details.flow { border: 1px solid #e1e4e8; border-left: 5px solid #999; margin: .3em 0; }
details.flow.o-ok { border-left-color: var(--ok); } details.flow.o-warning { border-left-color: var(--warning); }
details.flow.o-failed { border-left-color: var(--failed); }
details.flow > summary { cursor: pointer; padding: .25em .6em; list-style-position: inside; }
details.flow > div { padding: 0 .8em .6em; }
details.flow:target > summary { background: #fff3bf; }
.reasons { margin: .2em 0; padding-left: 1.2em; }
body:has(#only-problems:checked) details.flow.o-ok { display: none; }
"""

# Opens the exchange a link points at (a finding's flow, a timeline mark), so its XML shows at once.
_SCRIPT = (
    "function openTarget(){var id=decodeURIComponent(location.hash.slice(1));"
    "var e=id&&document.getElementById(id);if(e&&e.tagName==='DETAILS'){e.open=true;}}"
    "window.addEventListener('hashchange',openTarget);openTarget();"
)


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


# Nothing may be fetched: no default source, inline style, the one script by its hash, no forms, no base.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'unsafe-inline'; script-src '{_script_hash(_SCRIPT)}'; "
    "img-src 'none'; font-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'"
)


def page_start(title: str, facts: Sequence[tuple[str, str]]) -> str:
    """The document up to the first section: head (CSP, style), title and the report's facts."""
    rows = "".join(f"<tr><th>{text(name)}</th><td>{text(value)}</td></tr>" for name, value in facts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        f"<title>{text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{text(title)}</h1>\n<table class=\"facts\">{rows}</table>\n"
    )


def page_end() -> str:
    """The end of the document, with the script that opens a linked exchange."""
    return f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# ------------------------------------------------------------------------------------------------ sessions

def sessions_section(sessions: Sequence[SessionView]) -> str:
    """The table of device sessions, each linked to its own section."""
    if not sessions:
        return "<h2 id=\"sessions\">Device sessions</h2>\n<p class=\"note\">The capture holds no flows.</p>\n"
    head = "<tr><th>session</th><th>flows</th><th>ok</th><th>warning</th><th>failed</th><th>from</th><th>to</th></tr>"
    rows = []
    for session in sessions:
        counts = {outcome: 0 for outcome in Outcome}
        for flow in session.flows:
            counts[flow.outcome] += 1
        first = min((flow.ts_start for flow in session.flows), default=None)
        last = max((flow.ts_end or flow.ts_start for flow in session.flows), default=None)
        rows.append(
            f"<tr><td><a href=\"#{text(session.anchor)}\">{text(session.label)}</a></td>"
            f"<td>{len(session.flows)}</td><td>{counts[Outcome.OK]}</td><td>{counts[Outcome.WARNING]}</td>"
            f"<td>{counts[Outcome.FAILED]}</td><td>{text(_when(first))}</td><td>{text(_when(last))}</td></tr>"
        )
    return f"<h2 id=\"sessions\">Device sessions</h2>\n<table>{head}{''.join(rows)}</table>\n"


# ------------------------------------------------------------------------------------------------ findings

def findings_section(findings: Sequence[Finding], session_of: Callable[[Finding], SessionView | None]) -> str:
    """The diagnosis: one block per finding (most severe first, as given), its flows linked to their exchanges."""
    parts = ["<h2 id=\"diagnosis\">Diagnosis</h2>\n"]
    if not findings:
        parts.append("<p class=\"note\" id=\"no-findings\">No rule found anything wrong in these flows.</p>\n")
        return "".join(parts)
    counts = ", ".join(
        _count(sum(1 for finding in findings if finding.severity == severity), severity)
        for severity in ("error", "warning", "info")
    )
    parts.append(f"<p>{_count(len(findings), 'finding')} ({counts}), most severe first.</p>\n<div id=\"findings\">\n")
    for finding in findings:
        session = session_of(finding)
        where = (
            f"<a href=\"#{text(session.anchor)}\">{text(session.label)}</a>" if session is not None
            else text(" / ".join(str(part) for part in (finding.user, finding.device_id, finding.host) if part))
        )
        links = [f"<a href=\"#flow-{flow_id}\">#{flow_id}</a>" for flow_id in finding.flows[:MAX_FINDING_LINKS]]
        if len(finding.flows) > MAX_FINDING_LINKS:
            links.append(f"<span class=\"note\">and {len(finding.flows) - MAX_FINDING_LINKS} more</span>")
        css = SEVERITY_CLASSES.get(finding.severity, "o-info")
        parts.append(
            f"<div class=\"finding {css}\" data-rule=\"{text(finding.rule)}\">\n"
            f"<p><span class=\"badge {css}\">{text(finding.severity)}</span> <strong>{text(finding.rule)}</strong>"
            f" &middot; {where}</p>\n<p>{text(finding.summary)}</p>\n"
            f"<p><em>What to do:</em> {text(finding.advice)}</p>\n"
            f"<p class=\"note\">Spec: {text(finding.spec)}</p>\n"
            f"<p class=\"flows\">Flows: {' '.join(links) or '<span class=\"note\">none</span>'}</p>\n</div>\n"
        )
    parts.append("</div>\n")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ timeline

# The picture's geometry, in SVG user units (the picture scales to the page width).
_WIDTH = 1000
_LABEL_WIDTH = 190
_RIGHT_MARGIN = 14
_AXIS_HEIGHT = 30
_LANE_HEIGHT = 24
_MARK_HEIGHT = 14
_RUNNING_HEIGHT = 4
_TICKS = 6
# The timeline's cells (capture.timeline): at most this many across the plot, so a session of any size draws at
# most this many marks per lane; a mark's title names at most _MAX_TITLE_FLOWS of its flows.
_CELLS = 200
_MAX_TITLE_FLOWS = 10
_UNJUDGED_COLOUR = "#9e9e9e"


def _lane_key(lane: LaneKey) -> str:
    """A row's key in the page (`data-lane`): `c:ID` for a collection, `cmd:NAME` for a command."""
    kind, value = lane
    return f"c:{value}" if kind == COLLECTION else f"cmd:{value}"


def _timeline(session: SessionView) -> Timeline:
    """The session's flows laid out by the one timeline rule (capture.timeline), at most _CELLS cells."""
    return build_timeline(
        (TimelineFlow(flow.flow_id, flow.ts_start, flow.ts_end, flow.command, flow.collections, flow.outcome)
         for flow in session.flows),
        _CELLS,
    )


def timeline_lanes(session: SessionView) -> list[tuple[str, str]]:
    """(lane key, label) in order (capture.timeline's rows): each collection as first met, named from the
    session's FolderSync, then each command whose flows name none (and Ping)."""
    return [
        (_lane_key(lane), session.collection_name(lane[1]) if lane[0] == COLLECTION else lane[1])
        for lane in _timeline(session).lanes
    ]


def _mark_title(flow: FlowView) -> str:
    status = f"HTTP {flow.http_status}" if flow.http_status is not None else "no response"
    parts = [f"flow {flow.flow_id}", flow.command or flow.method, status, *flow.statuses, flow.outcome.value]
    title = " · ".join(parts)
    if flow.reasons:
        title += "\n" + "\n".join(flow.reasons)
    return title


def _cell_title(cell: Cell, start: float, step: float, views: Mapping[int, FlowView]) -> str:
    outcome = cell.outcome.value if cell.outcome is not None else "not judged"
    head = f"{_clock(start)} +{step:g} s · {_count(len(cell.started), 'flow')} started"
    if cell.running:
        head += f", {len(cell.running)} running"
    lines = [f"{head} · worst {outcome}"]
    for flow_id in cell.flows[:_MAX_TITLE_FLOWS]:
        lines.append(_mark_title(views[flow_id]) + (" (running)" if flow_id in cell.running else ""))
    if len(cell.flows) > _MAX_TITLE_FLOWS:
        lines.append(f"and {len(cell.flows) - _MAX_TITLE_FLOWS} more")
    return "\n".join(lines)


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def timeline_svg(session: SessionView) -> str:
    """The session's requests over time as an inline SVG: one lane per collection and per other command, the
    axis cut into cells (capture.timeline); a cell where requests start is a full mark filled by their worst
    outcome, one they still run through a thin bar; each links to its first flow's exchange."""
    timeline = _timeline(session)
    lanes = timeline_lanes(session)
    if not session.flows or not lanes:
        return ""
    views = {flow.flow_id: flow for flow in session.flows}
    start, span = timeline.start, timeline.step * timeline.cell_count
    plot_left, plot_right = _LABEL_WIDTH, _WIDTH - _RIGHT_MARGIN
    cell_width = (plot_right - plot_left) / timeline.cell_count
    height = _AXIS_HEIGHT + _LANE_HEIGHT * len(lanes) + 6
    parts = [
        f"<svg class=\"timeline\" id=\"timeline-{text(session.anchor)}\" xmlns=\"http://www.w3.org/2000/svg\" "
        f"viewBox=\"0 0 {_WIDTH} {height}\" width=\"{_WIDTH}\" height=\"{height}\" role=\"img\" "
        f"aria-label=\"{text(f'Requests over time, {len(session.flows)} flows in {len(lanes)} lanes')}\">"
    ]
    for tick in range(_TICKS + 1):
        x = plot_left + (plot_right - plot_left) * tick / _TICKS
        anchor = "start" if tick == 0 else "end" if tick == _TICKS else "middle"
        parts.append(
            f"<line x1=\"{x:.1f}\" y1=\"{_AXIS_HEIGHT - 6}\" x2=\"{x:.1f}\" y2=\"{height - 4}\" stroke=\"#e5e5e5\"/>"
            f"<text x=\"{x:.1f}\" y=\"{_AXIS_HEIGHT - 10}\" text-anchor=\"{anchor}\">"
            f"{text(_clock(start + span * tick / _TICKS))}</text>"
        )
    parts.append(f"<text x=\"4\" y=\"{_AXIS_HEIGHT - 10}\">{text(_when(start)[:10])} (UTC)</text>")
    for index, (key, label) in enumerate(lanes):
        y = _AXIS_HEIGHT + index * _LANE_HEIGHT
        if index % 2:
            parts.append(f"<rect x=\"0\" y=\"{y}\" width=\"{_WIDTH}\" height=\"{_LANE_HEIGHT}\" fill=\"#f7f7f7\"/>")
        parts.append(
            f"<g><title>{text(label)}</title><text x=\"4\" y=\"{y + _LANE_HEIGHT / 2 + 4:.1f}\" "
            f"data-lane=\"{text(key)}\">{text(_short(label))}</text></g>"
        )
    for row, lane in enumerate(timeline.lanes):
        lane_top = _AXIS_HEIGHT + row * _LANE_HEIGHT
        for cell_index, cell in timeline.rows[lane].items():
            mark_height = _MARK_HEIGHT if cell.started else _RUNNING_HEIGHT
            mark_y = lane_top + (_LANE_HEIGHT - mark_height) / 2
            colour = OUTCOME_COLOURS[cell.outcome] if cell.outcome is not None else _UNJUDGED_COLOUR
            outcome = cell.outcome.value if cell.outcome is not None else "unjudged"
            title = text(_cell_title(cell, timeline.cell_start(cell_index), timeline.step, views))
            parts.append(
                f"<a href=\"#flow-{cell.flows[0]}\"><rect class=\"mark {outcome}\" "
                f"data-flows=\"{' '.join(str(flow_id) for flow_id in cell.flows)}\" "
                f"x=\"{plot_left + cell_index * cell_width:.2f}\" y=\"{mark_y:.1f}\" width=\"{cell_width:.2f}\" "
                f"height=\"{mark_height}\" fill=\"{colour}\" fill-opacity=\"0.85\">"
                f"<title>{title}</title></rect></a>"
            )
    parts.append("</svg>")
    return "".join(parts)


def legend() -> str:
    """The colours of the outcomes, as the timelines and badges use them."""
    items = "".join(
        f"<span><span class=\"swatch\" style=\"background:{colour}\"></span>{text(outcome.value)}</span>"
        for outcome, colour in OUTCOME_COLOURS.items()
    )
    return f"<p class=\"legend\">{items}<span class=\"note\">A full mark: requests that start in that moment, " \
           f"coloured by the worst of them; a thin bar: requests still running (a Ping held open). Hover for the " \
           f"flows, click to open the first.</span></p>\n"


def session_start(session: SessionView) -> str:
    """A session's heading, details and timeline; its exchanges follow, then `session_end`."""
    rows = "".join(f"<tr><th>{text(name)}</th><td>{text(value)}</td></tr>" for name, value in session.details)
    return (
        f"<section class=\"session\" id=\"{text(session.anchor)}\">\n<h2>{text(session.label)}</h2>\n"
        f"<table>{rows}</table>\n<h3>Timeline</h3>\n{timeline_svg(session)}\n{legend()}"
        f"<h3>Exchanges ({len(session.flows)})</h3>\n"
    )


def session_end() -> str:
    return "</section>\n"


def exchanges_filter() -> str:
    """The check box that hides the exchanges that went well (CSS only)."""
    return (
        "<p><label><input type=\"checkbox\" id=\"only-problems\"> Show only exchanges with a warning or a failure"
        "</label></p>\n"
    )


# ------------------------------------------------------------------------------------------------ exchanges

def _headers_table(notes: Iterable[HeaderNote]) -> str:
    rows = "".join(
        f"<tr><td class=\"mono\">{text(note.name)}</td><td class=\"mono\">{text(note.shown_value)}</td>"
        f"<td class=\"note\">{text(note.meaning)}</td></tr>"
        for note in notes
    )
    return f"<table class=\"headers\">{rows}</table>" if rows else "<p class=\"note\">no headers</p>"


def _body(label: str, body_text: str | None, size: int) -> str:
    if body_text:
        return f"<h4>{text(label)} body ({size} bytes)</h4>\n<pre>{text(body_text)}</pre>\n"
    if size:
        return f"<h4>{text(label)} body ({size} bytes)</h4>\n<p class=\"note\">not decoded</p>\n"
    return f"<h4>{text(label)} body</h4>\n<p class=\"note\">empty</p>\n"


def exchange_details(
    flow: FlowView,
    session: SessionView,
    *,
    request_headers: Sequence[HeaderNote],
    response_headers: Sequence[HeaderNote] | None,
    request_text: str | None,
    response_text: str | None,
    request_size: int,
    response_size: int,
    error: str | None,
) -> str:
    """One exchange, folded: a summary line (time, command, collections, status, outcome), then the URL, the
    verdict's reasons, the headers with their meanings and the annotated request and response XML."""
    status = f"HTTP {flow.http_status}" if flow.http_status is not None else "no response"
    names = ", ".join(session.collection_name(collection_id) for collection_id in flow.collections)
    summary = (
        f"<span class=\"mono\">#{flow.flow_id}</span> {text(_clock(flow.ts_start))} "
        f"<strong>{text(flow.command or flow.method)}</strong>"
        + (f" {text(names)}" if names else "")
        + f" &middot; {text(status)}"
        + "".join(f" &middot; {text(line)}" for line in flow.statuses[:2])
        + f" <span class=\"badge o-{flow.outcome.value}\">{text(flow.outcome.value)}</span>"
    )
    reasons = "".join(f"<li>{text(reason)}</li>" for reason in flow.reasons)
    duration = "" if flow.ts_end is None else f" ({(flow.ts_end - flow.ts_start) * 1000:.0f} ms)"
    body = [
        f"<p class=\"mono\">{text(flow.method)} {text(flow.url)}</p>\n",
        f"<p class=\"note\">{text(_when(flow.ts_start))}{text(duration)}</p>\n",
        f"<ul class=\"reasons\">{reasons}</ul>\n" if reasons else "",
        f"<p><strong>Error:</strong> {text(error)}</p>\n" if error else "",
        "<h4>Request headers</h4>\n", _headers_table(request_headers), "\n",
        _body("Request", request_text, request_size),
    ]
    if response_headers is None:
        body.append("<h4>Response</h4>\n<p class=\"note\">no response</p>\n")
    else:
        body += ["<h4>Response headers</h4>\n", _headers_table(response_headers), "\n",
                 _body("Response", response_text, response_size)]
    return (
        f"<details class=\"flow o-{flow.outcome.value}\" id=\"flow-{flow.flow_id}\">"
        f"<summary>{summary}</summary>\n<div>\n{''.join(body)}</div></details>\n"
    )
