"""One error hierarchy for everything the protocol layer refuses; each message names where and why."""

from __future__ import annotations


class EasError(ValueError):
    """Base of every error raised by `eas` on bad input.

    Attributes:
        reason: what is wrong, without the position.
        offset: byte offset in the input where the problem was found, when there is one.
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(self._format())

    def _format(self) -> str:
        if self.offset is None:
            return self.reason
        return f"offset 0x{self.offset:X} ({self.offset}): {self.reason}"


class TruncatedError(EasError):
    """The input ended before the structure it started was complete."""


class MalformedError(EasError):
    """The input is complete but breaks the WBXML grammar."""


class UnknownTokenError(MalformedError):
    """A tag token (or code page) that no MS-ASWBXML code page defines; raised only in strict mode."""


class UnknownCodePageError(UnknownTokenError):
    """A SWITCH_PAGE to a code page that MS-ASWBXML does not define; raised only in strict mode."""


class LimitError(MalformedError):
    """The input exceeds a hard limit (nesting depth, mb_u_int32 length, sizes)."""


class EncodeError(EasError):
    """XML that cannot be encoded to WBXML.

    Attributes:
        element: the tag of the offending element (Clark notation), when known.
        line: its line in the XML text, when known.
    """

    def __init__(self, reason: str, element: str | None = None, line: int | None = None) -> None:
        self.element = element
        self.line = line
        super().__init__(reason, None)

    def _format(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.element is not None:
            where.append(f"<{self.element}>")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class QueryError(EasError):
    """A request URI query (plain or base64, MS-ASHTTP 2.2.1.1.1) that cannot be decoded or encoded.

    Attributes:
        field: the query field being read when it failed, when known.
    """

    def __init__(self, reason: str, offset: int | None = None, field: str | None = None) -> None:
        self.field = field
        super().__init__(reason, offset)

    def _format(self) -> str:
        base = super()._format()
        return f"{self.field}: {base}" if self.field else base


class MultipartError(EasError):
    """An application/vnd.ms-sync.multipart body whose part table is inconsistent (MS-ASCMD 2.2.2.10.1)."""


__all__ = [
    "EasError",
    "TruncatedError",
    "MalformedError",
    "UnknownTokenError",
    "UnknownCodePageError",
    "LimitError",
    "EncodeError",
    "QueryError",
    "MultipartError",
]
