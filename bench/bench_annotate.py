"""Cost of eas.annotate (meanings as XML comments) compared with a plain eas.decode, on the benchmark shapes."""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _shapes  # noqa: E402

import eas  # noqa: E402
from eas import AnnotationContext  # noqa: E402


def time_round(func: Callable[[], object], min_time: float) -> float:
    """Seconds per call, averaged over as many calls as fit in min_time (at least one)."""
    calls = 0
    gc.collect()
    start = time.perf_counter()
    while True:
        func()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def workloads(shape: _shapes.Shape) -> dict[str, Callable[[], object]]:
    """The timed passes over a shape: decode, decode+annotate, decode_annotated (one call), and decode with
    and without annotate with XML text out."""
    pairs = list(zip(shape.documents, shape.is_response, strict=True))

    def context(is_response: bool) -> AnnotationContext:
        return AnnotationContext(command=None, is_response=is_response, protocol_version="14.1")

    contexts = [(doc, context(is_response)) for doc, is_response in pairs]

    def decode() -> None:
        for doc, _ in contexts:
            eas.decode(doc)

    def decode_annotate() -> None:
        for doc, ctx in contexts:
            eas.annotate(eas.decode(doc), ctx)

    def decode_annotated() -> None:  # most notes written by the decoder, a pass adds those that need the tree
        for doc, ctx in contexts:
            eas.decode_annotated(doc, ctx)

    def decode_text() -> None:
        for doc, _ in contexts:
            eas.to_xml(eas.decode(doc))

    def decode_annotate_text() -> None:
        for doc, ctx in contexts:
            eas.to_xml(eas.annotate(eas.decode(doc), ctx))

    return {"decode": decode, "decode+annotate": decode_annotate, "decode_annotated": decode_annotated,
            "decode+to_xml": decode_text, "decode+annotate+to_xml": decode_annotate_text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement and round (default 0.5)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds, best kept (default 5)")
    parser.add_argument("--quick", action="store_true", help="0.2 s x 1 round: a smoke run")
    args = parser.parse_args(argv)
    min_time, rounds = (0.2, 1) if args.quick else (args.min_time, args.rounds)
    shapes = _shapes.shapes()
    runs = {shape.name: workloads(shape) for shape in shapes}
    best = {(name, kind): float("inf") for name, work in runs.items() for kind in work}
    for work in runs.values():  # warm caches (code page tables, annotation lookups) before timing
        for func in work.values():
            func()
    for _ in range(rounds):  # interleaved, so a busy machine slows every variant alike
        for name, work in runs.items():
            for kind, func in work.items():
                best[name, kind] = min(best[name, kind], time_round(func, min_time))
    print(f"- Python {sys.version.split()[0]}, best of {rounds} interleaved rounds x {min_time} s\n")
    print("| shape | decode ms | decode+annotate ms | annotate alone ms | annotate / decode "
          "| with to_xml: plain ms | annotated ms | extra | decode_annotated ms | its extra / decode |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdicts = []
    for shape in shapes:
        plain, annotated = best[shape.name, "decode"], best[shape.name, "decode+annotate"]
        text_plain, text_annotated = best[shape.name, "decode+to_xml"], best[shape.name, "decode+annotate+to_xml"]
        ratio = (annotated - plain) / plain
        fast = best[shape.name, "decode_annotated"]
        fast_ratio = (fast - plain) / plain
        print(f"| {shape.name} | {plain * 1e3:.2f} | {annotated * 1e3:.2f} | {(annotated - plain) * 1e3:.2f} "
              f"| {ratio:.2f}x | {text_plain * 1e3:.2f} | {text_annotated * 1e3:.2f} "
              f"| {(text_annotated - text_plain) / text_plain:+.0%} | {fast * 1e3:.2f} | {fast_ratio:.2f}x |")
        verdicts.append(f"- {shape.name}: annotate costs {ratio:.2f}x a decode, decode_annotated {fast_ratio:.2f}x "
                        f"(target <= 1.0x) {'ok' if min(ratio, fast_ratio) <= 1.0 else 'MISSED'}")
    print()
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
