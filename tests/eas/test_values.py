"""Value decoders of eas.values: realistic values, garbage, and a property that they never raise."""

from __future__ import annotations

import base64
import struct
import zlib
from email.message import EmailMessage

from hypothesis import example, given, settings
from hypothesis import strategies as st

from eas import values


def _systemtime(year: int, month: int, weekday: int, day: int, hour: int, minute: int = 0) -> bytes:
    return struct.pack("<8H", year, month, weekday, day, hour, minute, 0, 0)


def _name(text: str) -> bytes:
    return text.encode("utf-16-le").ljust(64, b"\x00")


def timezone_blob(standard_date: bytes, daylight_date: bytes, bias: int = -60) -> str:
    raw = (struct.pack("<i", bias) + _name("W. Europe Standard Time") + standard_date + struct.pack("<i", 0)
           + _name("W. Europe Daylight Time") + daylight_date + struct.pack("<i", -60))
    assert len(raw) == 172
    return base64.b64encode(raw).decode()


def png_bytes(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_bytes(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff\xdb\x00\x04\x00\x00" + sof0 + b"\xff\xd9"


# ---- dates --------------------------------------------------------------------------------------------

def test_compact_date_is_utc_with_weekday() -> None:
    assert values.describe_date("20260115T140000Z") == "2026-01-15 14:00:00 UTC, Thursday"


def test_iso_date_with_milliseconds() -> None:
    assert values.describe_date("2026-01-15T14:00:00.000Z") == "2026-01-15 14:00:00 UTC, Thursday"
    assert values.describe_date("2026-01-15T14:00:00.250Z") == "2026-01-15 14:00:00.250 UTC, Thursday"


def test_date_without_zone_is_floating() -> None:
    assert "floating" in values.describe_date("2026-01-15T14:00:00")


def test_invalid_dates_are_said_invalid() -> None:
    assert values.describe_date("20261315T140000Z").startswith("invalid date")
    assert values.describe_date("yesterday").startswith("invalid date")
    assert values.describe_date("").startswith("invalid date")


# ---- TimeZone -----------------------------------------------------------------------------------------

def test_timezone_central_europe_transitions() -> None:
    blob = timezone_blob(_systemtime(0, 10, 0, 5, 3), _systemtime(0, 3, 0, 5, 2))
    described = values.describe_timezone(blob)
    assert described.startswith("UTC+01:00")
    assert "'W. Europe Standard Time' UTC+01:00 from last Sunday of October 03:00" in described
    assert "'W. Europe Daylight Time' UTC+02:00 from last Sunday of March 02:00" in described


def test_timezone_with_garbage_standard_date_keeps_the_rest() -> None:
    garbage = bytes.fromhex("de ad be ef 41 00 9f 13 ff ff 00 7c 20 20 20 20")
    described = values.describe_timezone(timezone_blob(garbage, _systemtime(0, 3, 0, 5, 2)))
    assert "invalid SYSTEMTIME (garbage bytes de ad be ef" in described
    assert "last Sunday of March 02:00" in described
    assert described.startswith("UTC+01:00")


# What the lab server (SOGo 5.8) sends for a UTC event: StandardDate holds garbage, month 0.
SOGO_TIMEZONE = ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABwugAAkX8A"
                 "AACz5t04VgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")


def test_timezone_of_the_lab_server_with_garbage_in_standard_date() -> None:
    assert values.describe_timezone(SOGO_TIMEZONE) == (
        "UTC+00:00, no daylight saving time; StandardDate holds garbage bytes 70 ba 00 00 91 7f 00 00 00 b3 e6 dd "
        "38 56 00 00")


def test_timezone_without_daylight_saving() -> None:
    blob = timezone_blob(bytes(16), bytes(16), bias=-330)
    assert values.describe_timezone(blob).startswith("UTC+05:30, no daylight saving time")


def test_timezone_absolute_transition_and_wrong_sizes() -> None:
    described = values.describe_timezone(timezone_blob(_systemtime(2026, 10, 0, 25, 3), bytes(16)))
    assert "once, on 2026-10-25 03:00" in described
    assert values.describe_timezone(base64.b64encode(b"short").decode()) == (
        "invalid TimeZone: 5 bytes, a TIME_ZONE_INFORMATION has 172")
    assert values.describe_timezone("%%%") == "invalid TimeZone: not base64"


# ---- Picture ------------------------------------------------------------------------------------------

def test_png_picture_dimensions() -> None:
    data = png_bytes(48, 32)
    described = values.describe_picture(base64.b64encode(data).decode())
    assert described == f"PNG image, {len(data):,} bytes, 48x32 pixels"


def test_jpeg_gif_bmp_dimensions() -> None:
    assert values.describe_picture(base64.b64encode(jpeg_bytes(640, 480)).decode()).endswith("640x480 pixels")
    gif = b"GIF89a" + struct.pack("<HH", 16, 9) + b"\x00" * 10
    assert values.describe_picture(base64.b64encode(gif).decode()).startswith("GIF image, 20 bytes, 16x9")
    bmp = b"BM" + bytes(12) + struct.pack("<Iii", 40, 7, -5) + bytes(20)
    assert values.describe_picture(base64.b64encode(bmp).decode()).endswith("7x5 pixels")


def test_picture_unknown_and_invalid() -> None:
    assert values.describe_picture(base64.b64encode(b"RIFF1234WEBP").decode()).startswith("unknown image type")
    assert values.describe_picture("not base64!") == "invalid picture: not base64"
    assert values.describe_picture(base64.b64encode(b"\xff\xd8\xff").decode()).endswith("dimensions unreadable")


# ---- ConversationId / ConversationIndex ----------------------------------------------------------------

def test_conversation_id_hex_and_base64() -> None:
    raw = bytes(range(16))
    assert values.describe_conversation_id(raw.hex()) == "conversation id 000102030405060708090A0B0C0D0E0F"
    assert values.describe_conversation_id(base64.b64encode(raw).decode()).endswith("0E0F")
    assert "expected 16 bytes" in values.describe_conversation_id("0102")


def _filetime_header(year: int) -> bytes:
    import datetime as dt
    ticks = int((dt.datetime(year, 1, 15, 14, 0, tzinfo=dt.UTC)
                 - dt.datetime(1601, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000)
    return (ticks >> 24).to_bytes(5, "big")


def test_conversation_index_eas_layout_with_one_response() -> None:
    delta_ticks = 3600 * 10_000_000  # one hour, with DC=0 the unit is 2**18 ticks
    level = ((delta_ticks >> 18) << 8).to_bytes(5, "big")
    described = values.describe_conversation_index((_filetime_header(2026) + level).hex())
    assert described.startswith("started 2026-01-15 1")
    assert "response 1: +00:59:59" in described or "response 1: +01:00:00" in described


def test_conversation_index_mapi_layout() -> None:
    raw = b"\x01" + _filetime_header(2025) + bytes(range(16))
    described = values.describe_conversation_index(base64.b64encode(raw).decode())
    assert "thread GUID 000102030405060708090A0B0C0D0E0F" in described
    assert "no replies or forwards yet" in described
    assert values.describe_conversation_index("0102").startswith("invalid ConversationIndex")


# ---- GlobalObjId -------------------------------------------------------------------------------------

SOGO_GLOBAL_OBJ_ID = ("BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMgAAAHZDYWwtVWlkAQAAAGVhcy1sYWIt"
                      "ZGVzaWduLXJldmlldy0wMDAxQGV4YW1wbGUuY29t")


def test_global_obj_id_with_an_icalendar_uid() -> None:
    assert values.describe_global_obj_id(SOGO_GLOBAL_OBJ_ID) == (
        "meeting UID 'eas-lab-design-review-0001@example.com' (from iCalendar), the whole series")


def test_global_obj_id_of_an_instance_with_a_binary_id() -> None:
    raw = (bytes.fromhex("040000008200E00074C5B7101A82E008") + bytes([0x07, 0xEA, 1, 15])
           + (134_000_000_000_000_000).to_bytes(8, "little") + bytes(8) + (16).to_bytes(4, "little") + bytes(range(16)))
    described = values.describe_global_obj_id(base64.b64encode(raw).decode())
    assert described.startswith("meeting id 000102030405060708090A0B0C0D0E0F, instance of 2026-01-15, created 20")
    assert values.describe_global_obj_id(base64.b64encode(b"x" * 50).decode()).startswith("not a meeting object id")


# ---- DayOfWeek ----------------------------------------------------------------------------------------

def test_day_of_week_mask() -> None:
    assert values.describe_day_of_week("2") == "Monday"
    assert values.describe_day_of_week("20") == "Tuesday, Thursday"
    assert values.describe_day_of_week("62") == "weekdays (Monday to Friday)"
    assert values.describe_day_of_week("200").startswith("invalid DayOfWeek")


# ---- MIME ---------------------------------------------------------------------------------------------

def _mime_message() -> str:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@example.com"
    message["Subject"] = "Réunion été ✓ 会議"
    message["Date"] = "Thu, 15 Jan 2026 14:00:00 +0000"
    message.set_content("Bonjour, à demain.")
    message.add_alternative("<p>Bonjour, <b>à demain</b>.</p>", subtype="html")
    message.add_attachment(png_bytes(4, 4), maintype="image", subtype="png", filename="dot.png")
    return message.as_string()


def test_mime_summary_with_unicode_subject() -> None:
    summary = values.describe_mime(_mime_message())
    assert "From: Alice <alice@example.com>" in summary
    assert "To: bob@example.com" in summary
    assert "Subject: Réunion été ✓ 会議" in summary
    assert "Date: Thu, 15 Jan 2026 14:00:00 +0000" in summary
    assert "Content-Type: multipart/mixed" in summary
    assert "3 parts: text/plain utf-8" in summary
    assert "text/html utf-8" in summary
    assert "image/png attachment 'dot.png'" in summary


def test_mime_given_as_base64_is_decoded() -> None:
    encoded = base64.b64encode(_mime_message().encode()).decode()
    assert "Subject: Réunion été ✓ 会議" in values.describe_mime(encoded)


def test_mime_garbage() -> None:
    assert values.describe_mime("") == "empty MIME message"
    assert values.describe_mime("just some words").startswith("not a MIME message")


# ---- never raise --------------------------------------------------------------------------------------

DECODERS = (values.describe_date, values.describe_timezone, values.describe_picture, values.describe_global_obj_id,
            values.describe_conversation_id, values.describe_conversation_index, values.describe_mime,
            values.describe_day_of_week)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
@example("From: x\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--")
@example("2026-02-30T00:00:00Z")
@example("AAAA" * 43)
def test_decoders_never_raise_on_text(text: str) -> None:
    for decoder in DECODERS:
        described = decoder(text)
        assert described.strip() and "\n" not in described, (decoder.__name__, described)  # one line, never empty
    if not text.strip().lstrip("+-").isascii() or not text.strip().lstrip("+-").isdigit():
        assert values.describe_day_of_week(text).startswith("invalid DayOfWeek: ")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoders_never_raise_on_base64_of_garbage(data: bytes) -> None:
    text = base64.b64encode(data).decode()
    for decoder in DECODERS:
        described = decoder(text)
        assert described.strip() and "\n" not in described, (decoder.__name__, described)
    if data and len(data) != 172:  # MS-ASCAL TimeZone: Bias 4, StandardName 64, StandardDate 16, ...: 172 bytes
        assert values.describe_timezone(text) == f"invalid TimeZone: {len(data)} bytes, a TIME_ZONE_INFORMATION has 172"


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=172, max_size=172))
def test_timezone_of_any_172_bytes_describes(data: bytes) -> None:
    described = values.describe_timezone(base64.b64encode(data).decode())
    assert described.startswith(("UTC", "invalid TimeZone: bias"))


_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \r\n\t"


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=60).map(lambda data: base64.b64encode(data).decode()),
                 st.text(alphabet=_BASE64_ALPHABET, max_size=40), st.text(max_size=20)))
@example("")
@example("YQ=")
@example("YQ==YQ==")
@example("=YWJ")
@example("YWJjZA")
@example("YW\nJj")
@example("YR==")
@example("é")
def test_base64_fast_path_gives_what_the_lenient_path_gives(text: str) -> None:
    assert values._base64(text) == values._base64_lenient(text)
