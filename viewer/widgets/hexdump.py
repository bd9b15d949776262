"""Hex dump text for raw bodies (offset, 16 bytes in hex, printable ASCII)."""

from __future__ import annotations

BYTES_PER_LINE = 16
DEFAULT_LIMIT = 256 * 1024


def hexdump(data: bytes, limit: int = DEFAULT_LIMIT) -> str:
    """`00000010  03 01 6a 00 ...  |..j.|` lines; bodies longer than `limit` are cut with a note."""
    if not data:
        return "(empty)"
    shown = data[:limit]
    lines = []
    for offset in range(0, len(shown), BYTES_PER_LINE):
        chunk = shown[offset : offset + BYTES_PER_LINE]
        hex_part = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hex_part:<48}  |{text}|")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit} more bytes not shown ({len(data)} in all)")
    return "\n".join(lines)


def line_of_offset(offset: int) -> int:
    """The hexdump line (0-based) that shows byte `offset`."""
    return max(0, offset) // BYTES_PER_LINE


__all__ = ["BYTES_PER_LINE", "hexdump", "line_of_offset"]
