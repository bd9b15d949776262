"""WBXML decode/encode throughput of eas vs mitmproxy's built-in decoder vs libwbxml (C, through ctypes), in one run."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _shapes  # noqa: E402

import eas  # noqa: E402

# libwbxml 0.11 (wbxml_conv.h): WBXML_LANG_ACTIVESYNC, WBXML_GEN_XML_COMPACT, WBXML_VERSION_13; WB_ULONG is
# unsigned int, the enums are ints, WBXMLError 0 is WBXML_OK.
WBXML_LANG_ACTIVESYNC = 2402
WBXML_GEN_XML_COMPACT = 0
WBXML_VERSION_13 = 0x03


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

    def encode(self, xml: bytes) -> bytes:
        """XML text (with libwbxml's DOCTYPE and names) -> WBXML."""
        return self._run(self.lib.wbxml_conv_xml2wbxml_run, self.to_wbxml, xml)


def load_libwbxml() -> Libwbxml | None:
    try:
        return Libwbxml()
    except (OSError, AttributeError, RuntimeError) as err:
        print(f"libwbxml not measured: {err} (apt-get install libwbxml2-1)", file=sys.stderr)
        return None


def mitmproxy_decoder() -> Callable[[bytes], object] | None:
    try:
        from mitmproxy.contrib.wbxml.ASCommandResponse import ASCommandResponse
    except ImportError:
        print("mitmproxy not measured: not installed", file=sys.stderr)
        return None
    return ASCommandResponse


@dataclass(frozen=True)
class Result:
    shape: str
    operation: str
    implementation: str
    documents: int
    nbytes: int
    seconds: float  # per pass over the shape's documents (best of the rounds)
    skipped: int

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / self.seconds / 1e6


def time_round(func: Callable[[Any], object], inputs: Sequence[Any], min_time: float) -> float:
    """Seconds for one pass over inputs, averaged over as many passes as fit in min_time (at least one)."""
    passes = 0
    gc.collect()
    start = time.perf_counter()
    while True:
        for item in inputs:
            func(item)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / passes


def usable(func: Callable[[Any], object], inputs: Sequence[Any]) -> list[Any]:
    """The inputs func handles without raising (a failing document is left out of its timing, and counted)."""
    kept: list[Any] = []
    for item in inputs:
        try:
            func(item)
        except Exception:  # noqa: BLE001 - any failure of a third-party decoder only excludes that document
            continue
        kept.append(item)
    return kept


@dataclass
class Case:
    shape: str
    operation: str
    implementation: str
    func: Callable[[Any], object]
    inputs: list[Any]
    nbytes: int
    skipped: int
    best: float = float("inf")


# eas.decode timed on only the documents mitmproxy's decoder handles, where it fails on some (code page 25).
OURS_ON_MITM_DOCS = "eas.decode (tree), mitmproxy's documents"


def cases_for(shape: _shapes.Shape, lib: Libwbxml | None, mitm: Callable[[bytes], object] | None) -> list[Case]:
    docs = list(shape.documents)
    sizes = [len(doc) for doc in docs]
    cases: list[Case] = []

    def add(operation: str, name: str, func: Callable[[Any], object], inputs: Sequence[Any],
            wbxml_sizes: Sequence[int]) -> None:
        kept = [(item, size) for item, size in zip(inputs, wbxml_sizes, strict=True) if usable(func, [item])]
        cases.append(Case(shape.name, operation, name, func, [item for item, _ in kept],
                          sum(size for _, size in kept), len(docs) - len(kept)))

    # decode: WBXML bytes in; MB/s counts WBXML bytes
    add("decode", "eas.decode (tree)", eas.decode, docs, sizes)
    add("decode", "eas.decode_to_xml (text)", lambda d: eas.decode_to_xml(d, pretty=False), docs, sizes)
    if mitm is not None:
        add("decode", "mitmproxy ASCommandResponse", mitm, docs, sizes)
        if cases[-1].skipped:  # compare with mitmproxy on the same work: the documents it can decode
            mitm_docs = [(doc, size) for doc, size in zip(docs, sizes, strict=True) if usable(mitm, [doc])]
            add("decode", OURS_ON_MITM_DOCS, eas.decode, [doc for doc, _ in mitm_docs], [size for _, size in mitm_docs])
            cases[-1].skipped = 0  # left out on purpose, not failed
    if lib is not None:
        add("decode", "libwbxml wbxml2xml (C)", lib.decode, docs, sizes)
    # encode: each implementation starts from its own representation; MB/s counts the WBXML bytes produced
    add("encode", "eas.encode (tree)", eas.encode, [eas.decode(doc) for doc in docs], sizes)
    add("encode", "eas.encode (XML text)", eas.encode,
        [eas.decode_to_xml(doc, pretty=False).encode("utf-8") for doc in docs], sizes)
    if lib is not None:
        lib_xml = [(_try(lib.decode, doc), size) for doc, size in zip(docs, sizes, strict=True)]
        add("encode", "libwbxml xml2wbxml (C)", lib.encode, [xml for xml, _ in lib_xml if xml is not None],
            [size for xml, size in lib_xml if xml is not None])
    return cases


def run(shapes: list[_shapes.Shape], min_time: float, rounds: int) -> list[Result]:
    """Every case once per round, rounds interleaved (a busy machine then slows all contenders alike)."""
    lib = load_libwbxml()
    mitm = mitmproxy_decoder()
    cases = [case for shape in shapes for case in cases_for(shape, lib, mitm)]
    for _ in range(rounds):
        for case in cases:
            case.best = min(case.best, time_round(case.func, case.inputs, min_time))
    return [Result(c.shape, c.operation, c.implementation, len(c.inputs), c.nbytes, c.best, c.skipped)
            for c in cases]


def _try(func: Callable[[bytes], bytes], data: bytes) -> bytes | None:
    try:
        return func(data)
    except RuntimeError:
        return None


def table(results: list[Result]) -> str:
    """Markdown: one row per measurement; ratios of eas (decode: tree; encode: tree) against the others."""
    lines = ["| shape | operation | implementation | docs | docs/s | MB/s | eas is x faster |",
             "|---|---|---|---:|---:|---:|---:|"]
    for result in results:
        ours = next(r for r in results if r.shape == result.shape and r.operation == result.operation
                    and r.implementation.startswith("eas.") and "tree" in r.implementation)
        if result.implementation.startswith("mitmproxy"):
            ours = next((r for r in results if r.shape == result.shape and r.implementation == OURS_ON_MITM_DOCS), ours)
        ratio = "" if result.implementation.startswith("eas.") else f"{result.seconds / ours.seconds:.2f}x"
        skipped = f" ({result.skipped} failed)" if result.skipped else ""
        lines.append(f"| {result.shape} | {result.operation} | {result.implementation} | {result.documents}{skipped} "
                     f"| {result.docs_per_s:,.0f} | {result.mb_per_s:.2f} | {ratio} |")
    return "\n".join(lines)


def verdict(results: list[Result]) -> list[str]:
    """The targets: decode >= 50x mitmproxy and >= 0.5x libwbxml; encode >= 0.5x libwbxml (per shape)."""
    out = []

    def seconds(shape: str, operation: str, prefix: str) -> float | None:
        found = [r.seconds for r in results if r.shape == shape and r.operation == operation
                 and r.implementation.startswith(prefix)]
        return found[0] if found else None

    for shape in dict.fromkeys(r.shape for r in results):
        checks = (("decode", "eas.decode (tree)", "mitmproxy", 50.0), ("decode", "eas.decode (tree)", "libwbxml", 0.5),
                  ("decode", "eas.decode_to_xml", "libwbxml", 0.5),
                  ("encode", "eas.encode (tree)", "libwbxml", 0.5), ("encode", "eas.encode (XML text)", "libwbxml", 0.5))
        for operation, ours_name, other, target in checks:
            ours, theirs = seconds(shape, operation, ours_name), seconds(shape, operation, other)
            if other == "mitmproxy":  # the same documents on both sides
                ours = seconds(shape, operation, OURS_ON_MITM_DOCS) or ours
            if ours is None or theirs is None:
                continue
            speed = theirs / ours
            mark = "ok" if speed >= target else "MISSED"
            out.append(f"- {shape}: {ours_name} vs {other} {operation}: {speed:.2f}x (target >= {target}x) {mark}")
    return out


SIZE_CLASSES = ((0, 40), (40, 100), (100, 300), (300, 1000), (1000, 1 << 30))


def by_size(shape: _shapes.Shape, min_time: float, rounds: int) -> str:
    """Decode time per document by size class: where a many-small-documents ratio comes from."""
    lib = load_libwbxml()
    mitm = mitmproxy_decoder()
    decoders: list[tuple[str, Callable[[bytes], object]]] = [("eas.decode", eas.decode)]
    if lib is not None:
        decoders.append(("libwbxml", lib.decode))
    if mitm is not None:
        decoders.append(("mitmproxy", mitm))
    lines = ["| WBXML size | docs | share of eas time | " + " | ".join(f"{name} us/doc" for name, _ in decoders)
             + " | mitmproxy / eas |", "|---|---:|---:|" + "---:|" * len(decoders) + "---:|"]
    rows = []
    for low, high in SIZE_CLASSES:
        # only documents every decoder handles, so the columns compare the same work
        docs = [doc for doc in shape.documents if low <= len(doc) < high
                and all(usable(func, [doc]) for _, func in decoders)]
        if not docs:
            continue
        best = [float("inf")] * len(decoders)
        for _ in range(rounds):
            for k, (_, func) in enumerate(decoders):
                best[k] = min(best[k], time_round(func, docs, min_time))
        rows.append((low, high, len(docs), best))
    total_eas = sum(best[0] for *_, best in rows)
    for low, high, count, best in rows:
        label = f">= {low} B" if high >= 1 << 30 else f"{low}-{high - 1} B"
        per_doc = " | ".join(f"{seconds / count * 1e6:,.1f}" for seconds in best)
        ratio = f"{best[-1] / best[0]:.1f}x" if mitm is not None else ""
        lines.append(f"| {label} | {count} | {best[0] / total_eas:.0%} | {per_doc} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement and round (default 0.5)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds, best kept (default 5)")
    parser.add_argument("--quick", action="store_true", help="0.2 s x 1 round: a smoke run")
    args = parser.parse_args(argv)
    min_time, rounds = (0.2, 1) if args.quick else (args.min_time, args.rounds)
    shapes = _shapes.shapes()
    for shape in shapes:
        print(f"- {shape.name}: {shape.description}; {len(shape.documents)} document(s), {shape.total_bytes:,} bytes")
    print(f"- Python {sys.version.split()[0]}, eas codec {eas._native.status}, best of {rounds} x {min_time} s; "
          "libwbxml in-process via ctypes\n")
    results = run(shapes, min_time, rounds)
    print(table(results))
    print()
    print("\n".join(verdict(results)))
    print(f"\n{shapes[0].name}, decode by document size:\n")
    print(by_size(shapes[0], min_time, rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
