"""The value types of one analysed exchange: Exchange and the problems, header notes, statuses and bodies in it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .facts import FlowFacts

__all__ = ["DecodedBody", "Exchange", "HeaderNote", "Problem", "StatusNote"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that could not be decoded, or breaks a rule, with where it is.

    Attributes:
        where: "query", "request headers", "request body", "response headers", "response body".
        reason: what is wrong.
        offset: byte offset in that part, when known.
        severity: "error" (could not decode) or "warning" (decoded, but breaks a rule such as the schema).
    """

    where: str
    reason: str
    offset: int | None = None
    severity: str = "error"


@dataclass(frozen=True, slots=True)
class HeaderNote:
    """One HTTP header with what it means (credentials never in `shown_value`)."""

    name: str
    shown_value: str
    meaning: str | None = None


@dataclass(frozen=True, slots=True)
class StatusNote:
    """An EAS status code found in a body, with the element path it came from and what it means."""

    path: str
    code: int
    meaning: str | None


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """A request or response body as shown to the user.

    Attributes:
        kind: "empty", "wbxml", "multipart", "rfc822", "xml" (Autodiscover), "json", "text", "html", "binary".
        content_type: the Content-Type header value (may be empty).
        xml: the annotated XML (wbxml, multipart part 0, Autodiscover) or None.
        plain_xml: the same without annotation comments, or None.
        text: a readable rendering for the other kinds (MIME headers and text, plain text, a hex preview), or None.
        root_tag: local name of the XML root element (e.g. "Sync"), or None.
        size: body size in bytes as sent (after removing Content-Encoding).
        parts: for multipart, one short description per part.
    """

    kind: str
    content_type: str = ""
    xml: str | None = None
    plain_xml: str | None = None
    text: str | None = None
    root_tag: str | None = None
    size: int = 0
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exchange:
    """Everything eas-inspector knows about one request (and its response, when there is one)."""

    method: str
    url: str
    is_eas: bool
    is_autodiscover: bool = False
    command: str | None = None
    user: str | None = None
    device_id: str | None = None
    device_type: str | None = None
    protocol_version: str | None = None
    policy_key: str | None = None
    query_form: str | None = None  # "plain" | "base64" | None
    query_fields: tuple[tuple[str, str], ...] = ()
    request_headers: tuple[HeaderNote, ...] = ()
    response_headers: tuple[HeaderNote, ...] = ()
    http_status: int | None = None
    http_status_meaning: str | None = None
    collection_ids: tuple[str, ...] = ()
    collection_classes: tuple[str, ...] = ()
    sync_keys: tuple[str, ...] = ()
    eas_statuses: tuple[StatusNote, ...] = ()
    request_body: DecodedBody | None = None
    response_body: DecodedBody | None = None
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    offered_versions: tuple[str, ...] = ()  # OPTIONS answer: MS-ASProtocolVersions
    offered_commands: tuple[str, ...] = ()  # OPTIONS answer: MS-ASProtocolCommands
    redirect_location: str | None = None  # X-MS-Location (451)
    facts: FlowFacts | None = None  # what a session diagnosis reads (eas.facts), taken while the trees are decoded

    @property
    def eas_status(self) -> int | None:
        """The first (top-level) EAS status of the response, the one users filter by."""
        return self.eas_statuses[0].code if self.eas_statuses else None

    @property
    def eas_status_meaning(self) -> str | None:
        """The meaning of `eas_status`, when known."""
        return self.eas_statuses[0].meaning if self.eas_statuses else None
