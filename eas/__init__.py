"""eas: the Exchange ActiveSync protocol layer (WBXML, URI query, headers, annotation); pure, no I/O."""

from __future__ import annotations

from . import _native

_native.select()  # before anything imports the codec: its compiled build, when that is current

from .errors import (
    EasError,
    EncodeError,
    LimitError,
    MalformedError,
    MultipartError,
    QueryError,
    TruncatedError,
    UnknownCodePageError,
    UnknownTokenError,
)
from .wbxml import decode, decode_to_xml, encode, parse_xml, to_xml
from .query import EasQuery, decode_query, encode_base64, encode_plain
from .annotate import AnnotationContext, annotate, decode_annotated, element_status_meaning, status_meaning
from .exchange import Exchange, analyze
from .verdicts import JudgedStatus, Outcome, Verdict, judge, judge_status
from .summary import SummaryParts, summarize, summary_line

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "EasError",
    "EncodeError",
    "LimitError",
    "MalformedError",
    "MultipartError",
    "QueryError",
    "TruncatedError",
    "UnknownCodePageError",
    "UnknownTokenError",
    "decode",
    "decode_to_xml",
    "encode",
    "parse_xml",
    "to_xml",
    "EasQuery",
    "decode_query",
    "encode_base64",
    "encode_plain",
    "AnnotationContext",
    "annotate",
    "decode_annotated",
    "element_status_meaning",
    "status_meaning",
    "Exchange",
    "analyze",
    "JudgedStatus",
    "Outcome",
    "Verdict",
    "judge",
    "judge_status",
    "SummaryParts",
    "summarize",
    "summary_line",
]
