"""WBXML decode/encode speed of eas against mitmproxy's decoder and libwbxml (C, ctypes): like output, same run."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _shapes  # noqa: E402

import eas  # noqa: E402

# libwbxml 0.11 (wbxml_conv.h): WBXML_LANG_ACTIVESYNC, WBXML_GEN_XML_COMPACT, WBXML_VERSION_13; WB_ULONG is
# unsigned int, the enums are ints, WBXMLError 0 is WBXML_OK.
WBXML_LANG_ACTIVESYNC = 2402
WBXML_GEN_XML_COMPACT = 0
WBXML_VERSION_13 = 0x03
# wbxml_tree.h: wbxml_tree_from_wbxml(wbxml, len, lang, charset, &tree); charset 0 (unknown) reads it from the document.
WBXML_CHARSET_UNKNOWN = 0


class Libwbxml:
    """libwbxml2.so.1 loaded with ctypes: one reusable converter per direction, called in-process."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("wbxml2") or "libwbxml2.so.1"
        lib = ctypes.CDLL(name)
        conv_p = ctypes.POINTER(ctypes.c_void_p)
        out_p = ctypes.POINTER(ctypes.c_char_p)
        uint_p = ctypes.POINTER(ctypes.c_uint)
        for prefix in ("wbxml_conv_wbxml2xml", "wbxml_conv_xml2wbxml"):
            getattr(lib, f"{prefix}_create").argtypes = [conv_p]
            getattr(lib, f"{prefix}_create").restype = ctypes.c_int
            getattr(lib, f"{prefix}_run").argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, out_p, uint_p]
            getattr(lib, f"{prefix}_run").restype = ctypes.c_int
            getattr(lib, f"{prefix}_destroy").argtypes = [ctypes.c_void_p]
            getattr(lib, f"{prefix}_destroy").restype = None
        lib.wbxml_conv_wbxml2xml_set_gen_type.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.wbxml_conv_wbxml2xml_set_language.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.wbxml_conv_wbxml2xml_enable_preserve_whitespaces.argtypes = [ctypes.c_void_p]
        lib.wbxml_conv_xml2wbxml_set_version.argtypes = [ctypes.c_void_p, ctypes.c_int]
        for setter in ("enable_preserve_whitespaces", "disable_string_table", "disable_public_id"):
            getattr(lib, f"wbxml_conv_xml2wbxml_{setter}").argtypes = [ctypes.c_void_p]
        lib.wbxml_tree_from_wbxml.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_int, ctypes.c_int,
                                              ctypes.POINTER(ctypes.c_void_p)]
        lib.wbxml_tree_from_wbxml.restype = ctypes.c_int
        lib.wbxml_tree_destroy.argtypes = [ctypes.c_void_p]
        lib.wbxml_tree_destroy.restype = None
        lib.wbxml_free.argtypes = [ctypes.c_void_p]
        lib.wbxml_free.restype = None
        lib.wbxml_errors_string.argtypes = [ctypes.c_int]
        lib.wbxml_errors_string.restype = ctypes.c_char_p
        self.lib = lib
        self.path = name
        # the same settings as `wbxml2xml -k -m 0 -l ACTIVESYNC` and `xml2wbxml -k -n -a`
        self.to_xml = ctypes.c_void_p()
        self._check(lib.wbxml_conv_wbxml2xml_create(ctypes.byref(self.to_xml)))
        lib.wbxml_conv_wbxml2xml_set_gen_type(self.to_xml, WBXML_GEN_XML_COMPACT)
        lib.wbxml_conv_wbxml2xml_set_language(self.to_xml, WBXML_LANG_ACTIVESYNC)
        lib.wbxml_conv_wbxml2xml_enable_preserve_whitespaces(self.to_xml)
        self.to_wbxml = ctypes.c_void_p()
        self._check(lib.wbxml_conv_xml2wbxml_create(ctypes.byref(self.to_wbxml)))
        lib.wbxml_conv_xml2wbxml_set_version(self.to_wbxml, WBXML_VERSION_13)
        lib.wbxml_conv_xml2wbxml_enable_preserve_whitespaces(self.to_wbxml)
        lib.wbxml_conv_xml2wbxml_disable_string_table(self.to_wbxml)
        lib.wbxml_conv_xml2wbxml_disable_public_id(self.to_wbxml)

    def _check(self, code: int) -> None:
        if code != 0:
            raise RuntimeError(f"libwbxml: {self.lib.wbxml_errors_string(code).decode()}")

    def _run(self, run: Callable[..., int], conv: ctypes.c_void_p, data: bytes) -> bytes:
        out = ctypes.c_char_p()
        out_len = ctypes.c_uint()
        self._check(run(conv, data, len(data), ctypes.byref(out), ctypes.byref(out_len)))
        try:
            return ctypes.string_at(out, out_len.value)
        finally:
            self.lib.wbxml_free(out)

    def decode(self, data: bytes) -> bytes:
        """WBXML -> XML text (libwbxml builds its tree, then writes XML)."""
        return self._run(self.lib.wbxml_conv_wbxml2xml_run, self.to_xml, data)

    def decode_tree(self, data: bytes) -> None:
        """WBXML -> libwbxml's own tree (the first half of `decode`), freed again as Python frees a dropped tree."""
        tree = ctypes.c_void_p()
        self._check(self.lib.wbxml_tree_from_wbxml(data, len(data), WBXML_LANG_ACTIVESYNC, WBXML_CHARSET_UNKNOWN,
                                                   ctypes.byref(tree)))
        self.lib.wbxml_tree_destroy(tree)

    def encode(self, xml: bytes) -> bytes:
        """XML text (with libwbxml's DOCTYPE and names) -> WBXML."""
        return self._run(self.lib.wbxml_conv_xml2wbxml_run, self.to_wbxml, xml)


def load_libwbxml() -> Libwbxml | None:
    try:
        return Libwbxml()
    except (OSError, AttributeError, RuntimeError) as err:
        print(f"libwbxml not measured: {err} (apt-get install libwbxml2-1)", file=sys.stderr)
        return None


@dataclass(frozen=True)
class Mitmproxy:
    """mitmproxy's built-in decoder: its tree (a minidom document) and the indented text it shows."""

    tree: Callable[[bytes], object]
    text: Callable[[bytes], object]


def load_mitmproxy() -> Mitmproxy | None:
    try:
        from mitmproxy.contrib.wbxml.ASCommandResponse import ASCommandResponse
        from mitmproxy.contrib.wbxml.ASWBXML import ASWBXML
    except ImportError:
        print("mitmproxy not measured: not installed", file=sys.stderr)
        return None

    def tree(data: bytes) -> object:
        decoder = ASWBXML()
        decoder.loadBytes(data)
        return decoder.xmlDoc

    # ASCommandResponse is what mitmproxy's contentview calls: loadBytes, then minidom's toprettyxml.
    return Mitmproxy(tree=tree, text=ASCommandResponse)


# What a measurement counts: the process's CPU time (waiting for a CPU on a shared machine is left out), or the
# wall clock (what a user waits on an idle machine). Everything measured here runs in this one thread.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def time_round(func: Callable[[Any], object], inputs: Sequence[Any], min_time: float) -> float:
    """Seconds for one pass over inputs, averaged over as many passes as fit in min_time (at least one)."""
    passes = 0
    gc.collect()
    start = clock()
    while True:
        for item in inputs:
            func(item)
        passes += 1
        elapsed = clock() - start
        if elapsed >= min_time:
            return elapsed / passes


def handles(func: Callable[[Any], object], item: Any) -> bool:
    """Whether func takes item without raising (a third-party decoder's failure only excludes that document)."""
    try:
        func(item)
    except Exception:  # noqa: BLE001
        return False
    return True


@dataclass
class Contender:
    """One implementation in a comparison: how it turns a document's input into the compared output."""

    implementation: str
    func: Callable[[Any], object]
    inputs: list[Any]  # one per document of the shape (None: this implementation has no input for it)
    seconds: list[float] = field(default_factory=list)  # one pass over the comparison's documents, per round


@dataclass
class Comparison:
    """Implementations that produce the same kind of output, timed on the same documents: eas first."""

    shape: str
    operation: str  # "decode to a tree", "decode to indented text", ...
    contenders: list[Contender]
    documents: list[int] = field(default_factory=list)  # indexes of the documents every contender handles
    nbytes: int = 0  # WBXML bytes of those documents
    left_out: dict[str, int] = field(default_factory=dict)  # implementation -> documents it failed on

    def settle(self, sizes: Sequence[int]) -> None:
        """Keep the documents every contender handles, so that each times the same work."""
        failing: dict[str, set[int]] = {}
        for contender in self.contenders:
            failing[contender.implementation] = {
                index for index, item in enumerate(contender.inputs)
                if item is None or not handles(contender.func, item)
            }
        dropped = set().union(*failing.values())
        self.documents = [index for index in range(len(sizes)) if index not in dropped]
        self.nbytes = sum(sizes[index] for index in self.documents)
        self.left_out = {name: len(indexes) for name, indexes in failing.items() if indexes}

    def inputs(self, contender: Contender) -> list[Any]:
        return [contender.inputs[index] for index in self.documents]

    def ratios(self, contender: Contender) -> list[float]:
        """Per round: how many times faster eas (the first contender) was than `contender`, in the same round."""
        ours = self.contenders[0].seconds
        return [theirs / mine for theirs, mine in zip(contender.seconds, ours, strict=True)]


def comparisons_for(shape: _shapes.Shape, lib: Libwbxml | None, mitm: Mitmproxy | None) -> list[Comparison]:
    docs = list(shape.documents)
    trees = [eas.decode(doc) for doc in docs]
    found: list[Comparison] = []

    def compare(operation: str, *contenders: Contender | None) -> None:
        comparison = Comparison(shape.name, operation, [c for c in contenders if c is not None])
        comparison.settle([len(doc) for doc in docs])
        found.append(comparison)

    compare("decode to a tree", Contender("eas.decode (lxml tree)", eas.decode, docs),
            Contender("mitmproxy ASWBXML.loadBytes (minidom tree)", mitm.tree, docs) if mitm else None,
            Contender("libwbxml wbxml_tree_from_wbxml (C tree)", lib.decode_tree, docs) if lib else None)
    if mitm is not None:
        compare("decode to indented text",
                Contender("eas.decode_to_xml(pretty=True)", lambda d: eas.decode_to_xml(d, pretty=True), docs),
                Contender("mitmproxy ASCommandResponse (toprettyxml)", mitm.text, docs))
    if lib is not None:
        compare("decode to compact text",
                Contender("eas.decode_to_xml(pretty=False)", lambda d: eas.decode_to_xml(d, pretty=False), docs),
                Contender("libwbxml wbxml2xml (C)", lib.decode, docs))
        # each encoder reads XML text in its own spelling (libwbxml's has its DOCTYPE and tag names)
        compare("encode from XML text",
                Contender("eas.encode (XML text)", eas.encode,
                          [eas.to_xml(tree, pretty=False).encode("utf-8") for tree in trees]),
                Contender("libwbxml xml2wbxml (C)", lib.encode, [_try(lib.decode, doc) for doc in docs]))
    compare("encode from a tree", Contender("eas.encode (lxml tree)", eas.encode, trees))
    return found


def run(shapes: list[_shapes.Shape], min_time: float, rounds: int) -> list[Comparison]:
    """Every contender once per round, rounds interleaved (a busy machine then slows all contenders alike)."""
    lib = load_libwbxml()
    mitm = load_mitmproxy()
    comparisons = [comparison for shape in shapes for comparison in comparisons_for(shape, lib, mitm)]
    for _ in range(rounds):
        for comparison in comparisons:
            for contender in comparison.contenders:
                contender.seconds.append(time_round(contender.func, comparison.inputs(contender), min_time))
    return comparisons


def _try(func: Callable[[bytes], bytes], data: bytes) -> bytes | None:
    try:
        return func(data)
    except RuntimeError:
        return None


def spread(values: Sequence[float]) -> str:
    """`median (min-max)` of per-round ratios."""
    return f"{statistics.median(values):.1f}x ({min(values):.1f}-{max(values):.1f})"


def table(comparisons: list[Comparison]) -> str:
    """Markdown: one row per contender; its speed from the median round, eas's speed-up with its spread."""
    lines = ["| shape | output | implementation | docs | docs/s | MB/s | eas is x faster: median (min-max) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for comparison in comparisons:
        documents = len(comparison.documents)
        for position, contender in enumerate(comparison.contenders):
            seconds = statistics.median(contender.seconds)
            ratio = spread(comparison.ratios(contender)) if position else ""
            failed = comparison.left_out.get(contender.implementation)
            note = f" ({failed} failed, left out of the comparison)" if failed else ""
            lines.append(f"| {comparison.shape} | {comparison.operation} | {contender.implementation}{note} "
                         f"| {documents} | {documents / seconds:,.0f} | {comparison.nbytes / seconds / 1e6:.2f} "
                         f"| {ratio} |")
    return "\n".join(lines)


# Targets (the issues): decode >= 50x mitmproxy's decoder, decode and encode >= 0.5x libwbxml.
TARGETS = (("decode", "mitmproxy", 50.0), ("decode", "libwbxml", 0.5), ("encode", "libwbxml", 0.5))


def verdict(comparisons: list[Comparison]) -> list[str]:
    """Each target per like-for-like comparison: met when the median round meets it; the spread beside it."""
    out = []
    for comparison in comparisons:
        for contender in comparison.contenders[1:]:
            for operation, other, target in TARGETS:
                if comparison.operation.startswith(operation) and contender.implementation.startswith(other):
                    ratios = comparison.ratios(contender)
                    median = statistics.median(ratios)
                    mark = "met" if median >= target else "MISSED"
                    if median >= target > min(ratios):
                        mark += " (not in every round)"
                    out.append(f"- {comparison.shape}, {comparison.operation}: eas vs {other} {spread(ratios)} "
                               f"(target >= {target}x) {mark}")
    return out


SIZE_CLASSES = ((0, 40), (40, 100), (100, 300), (300, 1000), (1000, 1 << 30))


def by_size(shape: _shapes.Shape, min_time: float, rounds: int) -> str:
    """Decode to indented text per document size class, eas against mitmproxy: where a corpus ratio comes from."""
    mitm = load_mitmproxy()
    if mitm is None:
        return "(mitmproxy not installed)"

    def ours(doc: bytes) -> object:
        return eas.decode_to_xml(doc, pretty=True)

    lines = ["| WBXML size | docs | eas us/doc | mitmproxy us/doc | mitmproxy / eas: median (min-max) |",
             "|---|---:|---:|---:|---:|"]
    for low, high in SIZE_CLASSES:
        docs = [doc for doc in shape.documents if low <= len(doc) < high and handles(mitm.text, doc)]
        if not docs:
            continue
        mine: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            mine.append(time_round(ours, docs, min_time))
            theirs.append(time_round(mitm.text, docs, min_time))
        label = f">= {low} B" if high >= 1 << 30 else f"{low}-{high - 1} B"
        lines.append(f"| {label} | {len(docs)} | {statistics.median(mine) / len(docs) * 1e6:,.1f} "
                     f"| {statistics.median(theirs) / len(docs) * 1e6:,.1f} "
                     f"| {spread([t / m for t, m in zip(theirs, mine, strict=True)])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement and round (default 0.5)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--quick", action="store_true", help="0.2 s x 2 rounds: a smoke run")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: the process's CPU time (default; steadier on a shared machine); wall: elapsed time")
    parser.add_argument("--shape", help="only the shapes whose name contains this")
    args = parser.parse_args(argv)
    min_time, rounds = (0.2, 2) if args.quick else (args.min_time, args.rounds)
    global clock
    clock = CLOCKS[args.clock]
    shapes = [shape for shape in _shapes.shapes() if not args.shape or args.shape in shape.name]
    for shape in shapes:
        print(f"- {shape.name}: {shape.description}; {len(shape.documents)} document(s), {shape.total_bytes:,} bytes")
    load = os.getloadavg()
    print(f"- Python {sys.version.split()[0]}, eas codec build: {eas._native.status}; {rounds} interleaved rounds x "
          f"{min_time} s of {args.clock} time; libwbxml in-process via ctypes; {os.cpu_count()} CPUs, load average at start "
          f"{load[0]:.1f}\n")
    comparisons = run(shapes, min_time, rounds)
    print(table(comparisons))
    print()
    print("\n".join(verdict(comparisons)))
    print(f"\n{shapes[0].name}, decode to indented text by document size:\n")
    print(by_size(shapes[0], min_time, rounds))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
