"""Readable descriptions of EAS values (dates, TimeZone, pictures, conversation ids, MIME); pure, never raise."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.policy
import re
import struct
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser

# Cap on what a decoder looks at, so one huge value cannot stall an annotation pass.
MAX_BINARY = 8 * 1024 * 1024
MAX_MIME_PARTS = 50

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SYSTEMTIME_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_ORDINALS = ("first", "second", "third", "fourth", "last")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_B64_RE = re.compile(r"[A-Za-z0-9+/=\s_-]+")
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?")
_ISO_DATE_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z|[+-]\d{2}:?\d{2})?")
_HEADER_LINE_RE = re.compile(r"[A-Za-z0-9-]+:")
_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)


def binary_from_text(text: str) -> bytes | None:
    """The bytes an opaque value stands for: hex when it is all hex digits (even length), else base64.

    Returns None when the text is neither.
    """
    compact = "".join(text.split())
    if not compact:
        return b""
    if len(compact) > 2 * MAX_BINARY:
        return None
    if len(compact) % 2 == 0 and _HEX_RE.fullmatch(compact):
        return bytes.fromhex(compact)
    return _base64(compact)


def _base64(text: str) -> bytes | None:
    if text:
        try:
            # canonical base64, the usual case: checked and decoded in one C call; anything else (line
            # breaks, URL-safe letters, missing padding) takes the lenient path, which gives the same bytes here
            return binascii.a2b_base64(text, strict_mode=True)
        except ValueError:  # binascii.Error, or a non-ASCII str
            pass
    return _base64_lenient(text)


def _base64_lenient(text: str) -> bytes | None:
    compact = "".join(text.split())
    if not _B64_RE.fullmatch(compact):
        return None
    compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def describe_date(text: str) -> str:
    """Describe an EAS date: compact `20260115T140000Z` or ISO `2026-01-15T14:00:00.000Z`.

    Returns e.g. "2026-01-15 14:00:00 UTC, Thursday", or an "invalid date" note.
    """
    value = text.strip()
    match = _COMPACT_DATE_RE.fullmatch(value)
    fraction = None
    zone = "Z" if value.endswith("Z") else None
    if match:
        parts = [int(p) for p in match.groups()]
    else:
        iso = _ISO_DATE_RE.fullmatch(value)
        if not iso:
            return f"invalid date: {_short(value)!r} is neither 20260115T140000Z nor 2026-01-15T14:00:00.000Z"
        year, month, day, hour, minute, second, fraction, zone = iso.groups()
        parts = [int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)]
    try:
        when = dt.datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    except ValueError as err:
        return f"invalid date: {_short(value)!r} ({err})"
    shown = when.strftime("%Y-%m-%d %H:%M:%S")
    if fraction and int(fraction):
        shown += "." + fraction
    if zone in (None, ""):
        where = "no time zone given (floating time)"
    elif zone == "Z" or zone in ("+00:00", "+0000", "-00:00"):
        where = "UTC"
    else:
        where = f"UTC{zone}"
    return f"{shown} {where}, {_WEEKDAYS[when.weekday()]}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _filetime(value: int) -> dt.datetime | None:
    try:
        return _FILETIME_EPOCH + dt.timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _utc_offset(bias_minutes: int) -> str:
    offset = -bias_minutes
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return f"UTC{sign}{offset // 60:02d}:{offset % 60:02d}"


def _systemtime(raw: bytes) -> str:
    year, month, weekday, day, hour, minute, second, millis = struct.unpack("<8H", raw)
    if raw == bytes(16):
        return "no transition"
    if month == 0:
        return f"no transition (month 0), but garbage in the other fields: {raw.hex(' ')}"
    garbage = f"invalid SYSTEMTIME (garbage bytes {raw.hex(' ')})"
    if not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 59 or millis > 999:
        return garbage
    clock = f"{hour:02d}:{minute:02d}"
    if year == 0:
        if weekday > 6 or not 1 <= day <= 5:
            return garbage
        return f"{_ORDINALS[day - 1]} {_SYSTEMTIME_DAYS[weekday]} of {_MONTHS[month - 1]} {clock}"
    try:
        when = dt.datetime(year, month, day, hour, minute)
    except ValueError:
        return garbage
    return f"once, on {when:%Y-%m-%d} {clock}"


def _utf16_name(raw: bytes) -> str:
    name = raw.decode("utf-16-le", errors="replace")
    end = name.find("\x00")
    name = name if end < 0 else name[:end]
    return "".join(ch if ch.isprintable() else "?" for ch in name)


def describe_timezone(text: str) -> str:
    """Describe a Calendar TimeZone: base64 of the 172-byte TIME_ZONE_INFORMATION (MS-ASDTYPE 2.7.4).

    Garbage inside the SYSTEMTIMEs is reported as such, the other fields are still shown.
    """
    raw = _base64(text)
    if raw is None:
        return "invalid TimeZone: not base64"
    if len(raw) != 172:
        return f"invalid TimeZone: {len(raw)} bytes, a TIME_ZONE_INFORMATION has 172"
    bias, = struct.unpack_from("<i", raw, 0)
    std_name = _utf16_name(raw[4:68])
    std_date = _systemtime(raw[68:84])
    std_bias, = struct.unpack_from("<i", raw, 84)
    dst_name = _utf16_name(raw[88:152])
    dst_date = _systemtime(raw[152:168])
    dst_bias, = struct.unpack_from("<i", raw, 168)
    if abs(bias) > 24 * 60 or abs(std_bias) > 24 * 60 or abs(dst_bias) > 24 * 60:
        return f"invalid TimeZone: bias out of range (Bias {bias}, StandardBias {std_bias}, DaylightBias {dst_bias})"
    base = f"{_utc_offset(bias)}"
    std = f"standard {std_name!r} " if std_name else "standard "
    dst = f"daylight {dst_name!r} " if dst_name else "daylight "
    if raw[70:72] == b"\x00\x00" and raw[154:156] == b"\x00\x00":
        garbage = [f"{label} holds garbage bytes {block.hex(' ')}"
                   for label, block in (("StandardDate", raw[68:84]), ("DaylightDate", raw[152:168]))
                   if block != bytes(16)]
        return "; ".join([f"{base}, no daylight saving time" + (f" ({std_name!r})" if std_name else ""), *garbage])
    return (f"{base}; {std}{_utc_offset(bias + std_bias)} from {std_date}; "
            f"{dst}{_utc_offset(bias + dst_bias)} from {dst_date}")


def _image_size(data: bytes) -> tuple[str, tuple[int, int] | None] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return "PNG", struct.unpack(">II", data[16:24])
        return "PNG", None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF", struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None
    if data.startswith(b"BM"):
        if len(data) >= 26:
            header, = struct.unpack_from("<I", data, 14)
            if header == 12:
                return "BMP", struct.unpack_from("<HH", data, 18)
            width, height = struct.unpack_from("<ii", data, 18)
            return "BMP", (abs(width), abs(height))
        return "BMP", None
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG", _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    for _ in range(1000):
        while pos < len(data) and data[pos] != 0xFF:
            pos += 1
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos + 2 >= len(data):
            return None
        marker = data[pos]
        pos += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            return None
        if pos + 2 > len(data):
            return None
        length, = struct.unpack_from(">H", data, pos)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 7 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, pos + 3)
            return width, height
        if length < 2:
            return None
        pos += length
    return None


def describe_picture(text: str) -> str:
    """Describe a contact Picture (base64 image): type from its magic bytes, size, dimensions."""
    if not text.strip():
        return "empty picture"
    data = _base64(text)
    if data is None:
        return "invalid picture: not base64"
    found = _image_size(data)
    size = f"{len(data):,} bytes"
    if found is None:
        return f"unknown image type ({size}, starts {data[:8].hex(' ')})"
    kind, dims = found
    shown = f"{dims[0]}x{dims[1]} pixels" if dims else "dimensions unreadable"
    return f"{kind} image, {size}, {shown}"


def _opaque(value: str | bytes) -> bytes | None:
    if isinstance(value, bytes):
        return value
    return binary_from_text(value)


def describe_conversation_id(value: str | bytes) -> str:
    """Describe a ConversationId (MS-ASEMAIL: opaque bytes shared by every message of a thread).

    Args:
        value: the bytes, or text holding them as hex or base64; other text is taken as the id itself.
    """
    data = _opaque(value)
    if data is None and isinstance(value, str):
        data = value.encode("utf-8", errors="replace")
    assert data is not None
    if len(data) != 16 and data.isascii() and data.decode("ascii").isprintable():
        return (f"conversation id given as text ({len(data)} bytes): {_short(data.decode('ascii'), 80)!r}; "
                "Exchange sends 16 binary bytes")
    note = "" if len(data) == 16 else f" (expected 16 bytes, got {len(data)})"
    return f"conversation id {data.hex().upper()}{note}"


def describe_conversation_index(value: str | bytes) -> str:
    """Describe a ConversationIndex: a 5-byte header time (MS-ASCON 2.2.2.4) or the 22-byte MAPI header
    (MS-OXOMSG 2.2.1.3), then one 5-byte response level per reply or forward.
    """
    data = _opaque(value)
    if data is None:
        return "invalid ConversationIndex: neither hex nor base64"
    if len(data) >= 22 and data[0] == 1 and (len(data) - 22) % 5 == 0:
        header, levels, guid = data[1:6], data[22:], data[6:22]
        extra = f", thread GUID {guid.hex().upper()}"
    elif len(data) >= 5 and len(data) % 5 == 0:
        header, levels, extra = data[:5], data[5:], ""
    else:
        return f"invalid ConversationIndex: {len(data)} bytes is not 5 + 5n nor 22 + 5n"
    start = _filetime(int.from_bytes(header, "big") << 24)
    if start is None:
        return "invalid ConversationIndex: header time out of range"
    parts = [f"started {start:%Y-%m-%d %H:%M:%S} UTC{extra}"]
    for number in range(len(levels) // 5):
        block = int.from_bytes(levels[number * 5:number * 5 + 5], "big")
        coarse = block >> 39
        delta = (block >> 8) & 0x7FFFFFFF
        ticks = delta << (23 if coarse else 18)
        seconds = ticks / 10_000_000
        parts.append(f"response {number + 1}: +{_duration(seconds)}")
    if not levels:
        parts.append("no replies or forwards yet")
    return "; ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    shown = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days} d {shown}" if days else shown


# MS-OXOCAL PidLidGlobalObjectId: the 16 bytes every meeting object id starts with.
_GLOBAL_OBJECT_PREFIX = bytes.fromhex("040000008200E00074C5B7101A82E008")
_VCAL_UID_MARKER = b"vCal-Uid\x01\x00\x00\x00"


def describe_global_obj_id(text: str) -> str:
    """Describe a GlobalObjId / meeting object id (base64 of MS-OXOCAL PidLidGlobalObjectId): the UID it
    carries, the instance date (zero for the whole series) and its creation time."""
    data = _base64(text)
    if data is None:
        return "invalid GlobalObjId: not base64"
    if len(data) < 40 or not data.startswith(_GLOBAL_OBJECT_PREFIX):
        return f"not a meeting object id ({len(data)} bytes, starts {data[:8].hex(' ')})"
    year = data[16] * 256 + data[17]
    month, day = data[18], data[19]
    created = _filetime(int.from_bytes(data[20:28], "little"))
    size = int.from_bytes(data[36:40], "little")
    payload = data[40:40 + size]
    if data[40 + size:] or len(payload) != size:
        return f"invalid GlobalObjId: data size {size} does not match the {len(data) - 40} bytes left"
    if payload.startswith(_VCAL_UID_MARKER):
        uid = payload[len(_VCAL_UID_MARKER):].rstrip(b"\x00").decode("utf-8", errors="replace")
        parts = [f"meeting UID {_short(uid, 120)!r} (from iCalendar)"]
    else:
        parts = [f"meeting id {payload.hex().upper()}"]
    parts.append(f"instance of {year:04d}-{month:02d}-{day:02d}" if year or month or day else "the whole series")
    if created is not None and data[20:28] != bytes(8):
        parts.append(f"created {created:%Y-%m-%d %H:%M:%S} UTC")
    return ", ".join(parts)


_XSD_INTEGER = re.compile(r"[+-]?[0-9]+")


def describe_day_of_week(text: str) -> str:
    """Describe a DayOfWeek bit mask (MS-ASCAL: 1 Sunday, 2 Monday, ... 64 Saturday)."""
    stripped = text.strip()
    # An xs:unsignedByte is ASCII digits with an optional sign (XML Schema Part 2, 3.3.13 and 3.3.24); Python's
    # int() would also take "1_000" and other scripts' digits.
    if _XSD_INTEGER.fullmatch(stripped) is None:
        return f"invalid DayOfWeek: {_short(stripped)!r} is not a number"
    digits = stripped.lstrip("+-").lstrip("0")
    mask = int(stripped) if len(digits) < 10 else None  # int() refuses thousands of digits; these are too many
    if mask is None or not 0 < mask <= 127:
        return f"invalid DayOfWeek: {_short(stripped)} is outside 1-127"
    days = [name for bit, name in enumerate(_SYSTEMTIME_DAYS) if mask & (1 << bit)]
    if mask == 127:
        return "every day (with a monthly/yearly nth pattern: the last day of the month)"
    if mask == 62:
        return "weekdays (Monday to Friday)"
    if mask == 65:
        return "weekend (Saturday and Sunday)"
    return ", ".join(days)


def describe_mime(value: str | bytes) -> str:
    """Summarize an RFC 822 message: From, To, Subject, Date, Content-Type, then its parts.

    Args:
        value: the message bytes, or its text (base64 of the message is recognised too).
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="surrogateescape")
    text = value
    if not text.strip():
        return "empty MIME message"
    raw = text.encode("utf-8", errors="surrogateescape")
    if not _HEADER_LINE_RE.match(text.lstrip()):
        decoded = _base64(text) if len(text) <= 2 * MAX_BINARY else None
        if decoded is not None and _HEADER_LINE_RE.match(decoded.lstrip().decode("latin-1")):
            raw = decoded
    if len(raw) > MAX_BINARY:
        raw = raw[:MAX_BINARY]
    try:
        # compat32, decoding only the headers shown: the default policy parses every header up front
        message = BytesParser(policy=email.policy.compat32).parsebytes(raw)
        return _mime_summary(message)
    except Exception as err:  # noqa: BLE001 - the stdlib parser raises many types on garbage
        return f"MIME that could not be read: {type(err).__name__}"


def _decoded_header(value: object) -> str:
    try:
        shown = str(make_header(decode_header(str(value))))
    except Exception:  # noqa: BLE001 - bad encoded words or charsets: show the raw header
        shown = str(value)
    return " ".join(shown.split())


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else _decoded_header(value)


def _mime_summary(message: Message) -> str:
    fields = []
    for name in ("From", "To", "Cc", "Subject", "Date"):
        value = _header(message, name)
        if value is not None:
            fields.append(f"{name}: {_short(value, 120)}")
    fields.append(f"Content-Type: {message.get_content_type()}")
    if not message.keys():
        return "not a MIME message: no headers found"
    parts = []
    for count, part in enumerate(message.walk()):
        if count >= MAX_MIME_PARTS:
            parts.append("...")
            break
        if part.is_multipart():
            continue
        parts.append(_part_summary(part))
    if message.is_multipart():
        fields.append(f"{len(parts)} parts: " + "; ".join(parts))
    elif parts:
        fields.append("body: " + parts[0])
    return " | ".join(fields)


def _part_summary(part: Message) -> str:
    kind = part.get_content_type()
    try:
        raw_name = part.get_filename()
    except Exception:  # noqa: BLE001
        raw_name = None
    name = _decoded_header(raw_name) if raw_name else None
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        payload = None
    size = len(payload) if isinstance(payload, bytes) else 0
    charset = part.get_content_charset()
    shown = kind + (f" {charset}" if charset and kind.startswith("text/") else "")
    disposition = part.get_content_disposition()
    if disposition == "attachment" or name:
        shown += f" attachment {name!r}" if name else " attachment"
    return f"{shown} ({size:,} bytes)"
