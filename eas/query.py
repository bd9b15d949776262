"""The EAS request URI query (MS-ASHTTP 2.2.1.1.1): decode and encode its plain-text and base64 forms."""

# Theory of operation
# -------------------
# A request URI carries its parameters in one of two forms (MS-ASHTTP 2.2.1.1.1):
#   plain   Cmd=Sync&User=u&DeviceId=d&DeviceType=t[&CollectionId=...&SaveInSent=T...]
#   base64  the base64 text of a byte sequence: version, command code, locale, device ID, policy key,
#           device type, then tag-length-value command parameters (2.2.1.1.1.1, 2.2.1.1.1.5).
# `decode_query` tells them apart by shape: text of the base64 alphabet with no `&` and `=` only as padding is
# base64, anything else is plain. It tolerates what clients and tools really send (percent-encoding, URL-safe
# alphabet, missing padding, whitespace, a whole URL) and records each tolerance in `EasQuery.notes`. When the
# base64 bytes are themselves a plain-text query (the spec's own example in 2.2.1.1.1 is one), they are read as
# plain text and the form stays "base64".
#
# Offsets in QueryError: for the plain form, the character offset in the query text (after `?`); for the
# base64 form, the byte offset in the decoded byte sequence (or the character offset in the base64 text when
# the text itself is not base64).
#
# One value serves both forms: `user` and `options` have their own fields (tag 8 and tag 7 in base64; `User=`
# and `SaveInSent=T` in plain text), every other command parameter stays in `parameters`, in order. The
# canonical layout written by the encoders is: base64 - parameters, then User, then Options; plain - Cmd, User,
# DeviceId, DeviceType, parameters, then SaveInSent=T.

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from .errors import QueryError
from .sensitive import HIDDEN, is_secret_parameter

# MS-ASHTTP 2.2.1.1.1.3 (current edition: 2.2.1.1.1.1.2) Command Codes. 23 Find is in the current edition
# (protocol 16.1); 5-8 are absent from MS-ASHTTP: they are the EAS 2.x hierarchy commands, named as servers
# (SOGo, Z-Push) advertise them in MS-ASCmds.
COMMAND_NAMES: Mapping[int, str] = {
    0: "Sync",
    1: "SendMail",
    2: "SmartForward",
    3: "SmartReply",
    4: "GetAttachment",
    5: "GetHierarchy",
    6: "CreateCollection",
    7: "DeleteCollection",
    8: "MoveCollection",
    9: "FolderSync",
    10: "FolderCreate",
    11: "FolderDelete",
    12: "FolderUpdate",
    13: "MoveItems",
    14: "GetItemEstimate",
    15: "MeetingResponse",
    16: "Search",
    17: "Settings",
    18: "Ping",
    19: "ItemOperations",
    20: "Provision",
    21: "ResolveRecipients",
    22: "ValidateCert",
    23: "Find",
}
COMMAND_CODES: Mapping[str, int] = {name: code for code, name in COMMAND_NAMES.items()}

# MS-ASHTTP 2.2.1.1.1.5 Command Parameters: tag values of the base64 form, as the 2009 edition (the one in
# shared/specs) lists them. The current edition (2.2.1.1.1.1.3) lists tags 0, 1, 3, 4, 6, 7 and 8 only:
# CollectionName (2) and ParentId (5) are in the 2009 edition only (LEGACY_PARAMETER_TAGS).
PARAMETER_NAMES: Mapping[int, str] = {
    0: "AttachmentName",
    1: "CollectionId",
    2: "CollectionName",
    3: "ItemId",
    4: "LongId",
    5: "ParentId",
    6: "Occurrence",
    7: "Options",
    8: "User",
}
PARAMETER_TAGS: Mapping[str, int] = {name: tag for tag, name in PARAMETER_NAMES.items()}
LEGACY_PARAMETER_TAGS = frozenset({2, 5})
TAG_OPTIONS = 7
TAG_USER = 8

# MS-ASHTTP 2.2.1.1.1.5, the Options parameter: a one-byte bitmask.
OPTION_BITS: Mapping[int, str] = {0x01: "SaveInSent", 0x02: "AcceptMultiPart"}
OPTION_FLAGS: Mapping[str, int] = {name: bit for bit, name in OPTION_BITS.items()}

# MS-ASHTTP 2.2.1.1.1.2 Command-Specific URI Parameters, plus the common ones of 2.2.1.1.1 (plain form), by
# lower-case name so that `cmd=sync` is read like `Cmd=Sync`.
PLAIN_NAMES: Mapping[str, str] = {
    name.lower(): name
    for name in (
        "Cmd", "User", "DeviceId", "DeviceType", "AttachmentName", "CollectionId", "CollectionName",
        "ItemId", "LongId", "ParentId", "Occurrence", "SaveInSent",
    )
}

# Protocol version bytes MS-ASHTTP 2.2.1.1.1.1 names (140 in this edition; 121, 140, 141, 160, 161 in the current).
KNOWN_VERSION_BYTES = frozenset({121, 140, 141, 160, 161})

# Language tags of common Windows LCIDs ([MS-LCID] 2.2, "LCID Structure" and its table of language IDs); the
# locale field of the base64 form holds an LCID (MS-ASHTTP current edition 2.2.1.1.1.1).
LOCALE_TAGS: Mapping[int, str] = {
    0x0401: "ar-SA", 0x0402: "bg-BG", 0x0403: "ca-ES", 0x0404: "zh-TW", 0x0405: "cs-CZ", 0x0406: "da-DK",
    0x0407: "de-DE", 0x0408: "el-GR", 0x0409: "en-US", 0x040B: "fi-FI", 0x040C: "fr-FR", 0x040D: "he-IL",
    0x040E: "hu-HU", 0x040F: "is-IS", 0x0410: "it-IT", 0x0411: "ja-JP", 0x0412: "ko-KR", 0x0413: "nl-NL",
    0x0414: "nb-NO", 0x0415: "pl-PL", 0x0416: "pt-BR", 0x0418: "ro-RO", 0x0419: "ru-RU", 0x041A: "hr-HR",
    0x041B: "sk-SK", 0x041D: "sv-SE", 0x041E: "th-TH", 0x041F: "tr-TR", 0x0421: "id-ID", 0x0422: "uk-UA",
    0x0424: "sl-SI", 0x0425: "et-EE", 0x0426: "lv-LV", 0x0427: "lt-LT", 0x042A: "vi-VN", 0x0439: "hi-IN",
    0x0804: "zh-CN", 0x0807: "de-CH", 0x0809: "en-GB", 0x080A: "es-MX", 0x080C: "fr-BE", 0x0813: "nl-BE",
    0x0816: "pt-PT", 0x0C04: "zh-HK", 0x0C07: "de-AT", 0x0C09: "en-AU", 0x0C0A: "es-ES", 0x0C0C: "fr-CA",
    0x1009: "en-CA", 0x100C: "fr-CH", 0x1409: "en-NZ", 0x1809: "en-IE", 0x4009: "en-IN",
}

# MS-ASHTTP 2.2.1.1.1.1: device ID and device type are 0-16 bytes; longer values are read but noted.
SPEC_MAX_FIELD = 16
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_-]+={0,3}")
_PLACEHOLDER_COMMAND = re.compile(r"Command(\d{1,3})")
_PLACEHOLDER_TAG = re.compile(r"Tag(\d{1,3})")
_PLACEHOLDER_OPTION = re.compile(r"0x([0-9A-Fa-f]{2})")
_VERSION_TEXT = re.compile(r"(\d{1,2})\.(\d)")
_PLAIN_SAFE = "@"  # besides the RFC 3986 unreserved characters, kept literal as in the spec's examples


@dataclass(frozen=True)
class EasQuery:
    """One decoded request URI query.

    Attributes:
        form: "plain" or "base64" (also when the base64 text wraps a plain-text query; see `notes`).
        command: the command name ("Sync"); a placeholder "Command<N>" for an unknown base64 code.
        command_code: the MS-ASHTTP command code when the command has one, else None.
        user: the User parameter.
        device_id: the device ID as text; a base64-form binary device ID is shown as upper-case hex
            (what servers make of it).
        device_id_hex: the raw device ID bytes of the base64 form, upper-case hex; None in the plain form.
        device_type: the device type.
        protocol_version: "14.1" (base64 form only; the plain form carries it in MS-ASProtocolVersion).
        locale: the LCID of the base64 form (0x0409 = en-US), else None.
        policy_key: the policy key of the base64 form, else None (plain form: X-MS-PolicyKey header).
        parameters: the other command parameters as (name, value), in order; unknown base64 tags as "Tag<N>".
        options: option names: "SaveInSent", "AcceptMultiPart", and "0x04"-style names for unknown bits.
        notes: what was tolerated while decoding (not part of equality).
    """

    form: str = "plain"
    command: str | None = None
    command_code: int | None = None
    user: str | None = None
    device_id: str | None = None
    device_id_hex: str | None = None
    device_type: str | None = None
    protocol_version: str | None = None
    locale: int | None = None
    policy_key: int | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    options: frozenset[str] = frozenset()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def locale_tag(self) -> str | None:
        """The language tag of `locale` ("en-US"), when it is a known LCID."""
        return None if self.locale is None else LOCALE_TAGS.get(self.locale)

    @property
    def device_id_guid(self) -> str | None:
        """A 16-byte binary device ID in GUID form (Windows byte order), else None."""
        if self.device_id_hex is None or len(self.device_id_hex) != 32 or _printable(bytes.fromhex(self.device_id_hex)):
            return None
        return "{" + str(uuid.UUID(bytes_le=bytes.fromhex(self.device_id_hex))).upper() + "}"

    def parameter(self, name: str) -> str | None:
        """The first value of the command parameter `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.parameters if key.lower() == wanted), None)

    def fields(self) -> list[tuple[str, str]]:
        """(label, value) pairs for display, in the order of the base64 layout."""
        rows: list[tuple[str, str]] = [("Form", self.form)]
        if self.protocol_version is not None:
            rows.append(("ProtocolVersion", self.protocol_version))
        if self.command is not None:
            code = "" if self.command_code is None else f" ({self.command_code})"
            rows.append(("Command", self.command + code))
        if self.locale is not None:
            tag = self.locale_tag
            rows.append(("Locale", f"0x{self.locale:04X}" + (f" ({tag})" if tag else "")))
        if self.device_id is not None:
            rows.append(("DeviceId", self.device_id))
            guid = self.device_id_guid
            if guid is not None:
                rows.append(("DeviceId (GUID)", guid))
        if self.policy_key is not None:
            rows.append(("PolicyKey", str(self.policy_key)))
        if self.device_type is not None:
            rows.append(("DeviceType", self.device_type))
        if self.user is not None:
            rows.append(("User", self.user))
        # A credential passed as a parameter (access_token=, token=) is shown as hidden.
        rows.extend((name, HIDDEN if is_secret_parameter(name) else value) for name, value in self.parameters)
        if self.options:
            rows.append(("Options", ", ".join(_sorted_options(self.options))))
        rows.extend(("Note", note) for note in self.notes)
        return rows


def decode_query(query: str) -> EasQuery:
    """Decode a request URI query, plain or base64 (MS-ASHTTP 2.2.1.1.1).

    Args:
        query: the query text; a leading `?`, a whole URL or path (`https://host/Microsoft-Server-ActiveSync?...`),
            percent-encoding and surrounding whitespace are accepted.

    Raises:
        QueryError: the query is empty or cannot be read; `field` names the part and `offset` where.
    """
    text = _strip_url(query)
    if not text:
        raise QueryError("empty query", 0)
    compact = "".join(text.split())
    candidate = _percent_decoded_ascii(compact) if "%" in compact else compact
    if candidate is not None and _BASE64_TEXT.fullmatch(candidate):
        notes: list[str] = []
        if compact != text:
            notes.append("whitespace inside the base64 text ignored")
        if candidate != compact:
            notes.append("percent-encoded base64 text decoded")
        data = _base64_bytes(candidate, notes)
        wrapped = _wrapped_plain_text(data)
        if wrapped is not None:
            notes.append("the base64 text wraps a plain-text query (like the example of MS-ASHTTP 2.2.1.1.1)")
            return _decode_plain(wrapped, form="base64", notes=notes)
        return _decode_binary(data, notes)
    return _decode_plain(text, form="plain", notes=[])


def encode_plain(q: EasQuery) -> str:
    """The plain-text query of `q`: Cmd, User, DeviceId, DeviceType, parameters, SaveInSent=T.

    Protocol version, locale and policy key have no place in the plain form (they travel in headers) and are left out.

    Raises:
        QueryError: `q` has an option the plain form cannot say (AcceptMultiPart is the MS-ASAcceptMultiPart header).
    """
    pairs: list[tuple[str, str]] = []
    for name, value in (("Cmd", q.command), ("User", q.user), ("DeviceId", q.device_id), ("DeviceType", q.device_type)):
        if value is not None:
            pairs.append((name, value))
    pairs.extend(q.parameters)
    for option in _sorted_options(q.options):
        if option != "SaveInSent":
            raise QueryError(
                f"option {option} has no plain-text form"
                + (" (send the MS-ASAcceptMultiPart: T header instead)" if option == "AcceptMultiPart" else ""),
                field="Options",
            )
        pairs.append(("SaveInSent", "T"))
    return "&".join(f"{_quote(name)}={_quote(value)}" for name, value in pairs)


def encode_base64(q: EasQuery) -> str:
    """The base64 query of `q` (MS-ASHTTP 2.2.1.1.1.1), standard alphabet with padding.

    Raises:
        QueryError: a field the byte layout needs is missing or does not fit (`field` names it).
    """
    out = bytearray()
    out.append(_version_byte(q.protocol_version))
    out.append(_command_code(q))
    if q.locale is None or not 0 <= q.locale <= 0xFFFF:
        raise QueryError("the base64 form needs a locale (0-0xFFFF)", field="Locale")
    out += q.locale.to_bytes(2, "little")
    if q.device_id_hex is not None:
        try:
            device_id = bytes.fromhex(q.device_id_hex)
        except ValueError as err:
            raise QueryError("device_id_hex is not hex", field="DeviceId") from err
    else:
        device_id = _utf8(q.device_id or "", "DeviceId")
    _append_counted(out, device_id, "DeviceId")
    if q.policy_key is None:
        out.append(0)
    else:
        if not 0 <= q.policy_key <= 0xFFFFFFFF:
            raise QueryError("policy key does not fit in 32 bits", field="PolicyKey")
        out.append(4)
        out += q.policy_key.to_bytes(4, "little")
    _append_counted(out, _utf8(q.device_type or "", "DeviceType"), "DeviceType")
    options = set(q.options)
    for name, value in q.parameters:
        if name == "SaveInSent":
            if value.upper() == "T":
                options.add("SaveInSent")
            continue  # F is the default and has no byte of its own
        tag = _parameter_tag(name)
        out.append(tag)
        _append_counted(out, _utf8(value, name), name)
    if q.user is not None:
        out.append(TAG_USER)
        _append_counted(out, _utf8(q.user, "User"), "User")
    if options:
        out += bytes((TAG_OPTIONS, 1, _option_byte(options)))
    return base64.b64encode(bytes(out)).decode("ascii")


# ---------------------------------------------------------------------------------------------------- decoding


def _strip_url(query: str) -> str:
    text = query.strip()
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")) or text.startswith("/"):
        _, sep, rest = text.partition("?")
        text = rest if sep else ""
    elif text.startswith("?"):
        text = text[1:]
    return text.strip()


def _percent_decoded_ascii(text: str) -> str | None:
    """`text` with %XX escapes decoded when every escape is well formed and yields ASCII, else None."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                return None
            value = int(pair, 16)
            if value > 0x7F:
                return None
            out.append(chr(value))
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _base64_bytes(text: str, notes: list[str]) -> bytes:
    body = text.rstrip("=")
    if len(text) - len(body) > 2:
        raise QueryError("more than two padding characters", len(body) + 2, "base64")
    if "-" in body or "_" in body:
        if "+" in body or "/" in body:
            raise QueryError("mixes the standard and URL-safe base64 alphabets", _first_of(body, "-_"), "base64")
        notes.append("URL-safe base64 alphabet")
        body = body.translate(str.maketrans("-_", "+/"))
    if len(body) % 4 == 1:
        raise QueryError(f"base64 text of {len(body)} characters leaves one character over", len(body) - 1, "base64")
    padding = "=" * (-len(body) % 4)
    if padding and text == text.rstrip("="):
        notes.append("base64 padding missing")
    try:
        return base64.b64decode(body + padding, validate=True)
    except binascii.Error as err:  # pragma: no cover - the pattern above admits only valid text
        raise QueryError(f"not base64: {err}", 0, "base64") from err


def _first_of(text: str, chars: str) -> int:
    return min(i for i, ch in enumerate(text) if ch in chars)


def _wrapped_plain_text(data: bytes) -> str | None:
    """The text when base64 bytes are a plain-text query: UTF-8, no control characters, with an `=`.

    A binary query never qualifies: its second byte is a command code (0-23), a control character.
    """
    if b"=" not in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return None
    return text


class _Reader:
    """Reads the byte layout of MS-ASHTTP 2.2.1.1.1.1, naming the field and offset of any problem."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self, field_name: str) -> int:
        if self.pos >= len(self.data):
            raise QueryError(f"the query ends before the {field_name} byte", self.pos, field_name)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, count: int, field_name: str) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise QueryError(
                f"{count} bytes announced, {len(self.data) - self.pos} left", self.pos, field_name
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def text(self, count: int, field_name: str) -> str:
        start = self.pos
        chunk = self.take(count, field_name)
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError as err:
            raise QueryError(f"not UTF-8 text: {err.reason}", start + err.start, field_name) from err


def _decode_binary(data: bytes, notes: list[str]) -> EasQuery:
    reader = _Reader(data)
    version = reader.byte("ProtocolVersion")
    if version not in KNOWN_VERSION_BYTES:
        notes.append(f"protocol version byte {version} is not one MS-ASHTTP 2.2.1.1.1.1 names")
    code = reader.byte("Command")
    command = COMMAND_NAMES.get(code)
    if command is None:
        command = f"Command{code}"
        notes.append(f"command code {code} is not in MS-ASHTTP 2.2.1.1.1.3")
    locale = int.from_bytes(reader.take(2, "Locale"), "little")

    length = reader.byte("DeviceId length")
    if length > SPEC_MAX_FIELD:
        notes.append(f"device ID of {length} bytes (MS-ASHTTP allows 0-16)")
    raw_device_id = reader.take(length, "DeviceId")
    device_id_hex = raw_device_id.hex().upper() if raw_device_id else None
    device_id = raw_device_id.decode("ascii") if _printable(raw_device_id) else device_id_hex

    length_offset = reader.pos
    length = reader.byte("PolicyKey length")
    if length not in (0, 4):
        raise QueryError(f"policy key length must be 0 or 4, not {length}", length_offset, "PolicyKey length")
    policy_key = int.from_bytes(reader.take(4, "PolicyKey"), "little") if length == 4 else None

    length = reader.byte("DeviceType length")
    if length > SPEC_MAX_FIELD:
        notes.append(f"device type of {length} bytes (MS-ASHTTP allows 0-16)")
    device_type = reader.text(length, "DeviceType") if length else None

    user: str | None = None
    option_bits: int | None = None
    parameters: list[tuple[str, str]] = []
    while reader.pos < len(data):
        tag = reader.byte("parameter tag")
        name = PARAMETER_NAMES.get(tag)
        if name is None:
            name = f"Tag{tag}"
            notes.append(f"parameter tag {tag} is not in MS-ASHTTP 2.2.1.1.1.5")
        elif tag in LEGACY_PARAMETER_TAGS:
            notes.append(f"parameter tag {tag} ({name}) is in the 2009 edition of MS-ASHTTP only; the current"
                         " edition lists tags 0, 1, 3, 4, 6, 7, 8")
        length = reader.byte(f"{name} length")
        if tag == TAG_OPTIONS:
            if length != 1:
                raise QueryError(f"Options must be 1 byte, not {length}", reader.pos - 1, "Options")
            bits = reader.byte("Options")
            if option_bits is not None:
                notes.append("Options appears more than once; the bits are combined")
            option_bits = (option_bits or 0) | bits
        elif tag == TAG_USER and user is None:
            user = reader.text(length, "User")
        else:
            if tag == TAG_USER:
                notes.append("User appears more than once; the first is used")
            parameters.append((name, reader.text(length, name)))
    options = _options_from_bits(option_bits or 0)
    return EasQuery(
        form="base64",
        command=command,
        command_code=code,
        user=user,
        device_id=device_id,
        device_id_hex=device_id_hex,
        device_type=device_type,
        protocol_version=f"{version // 10}.{version % 10}",
        locale=locale,
        policy_key=policy_key,
        parameters=tuple(parameters),
        options=options,
        notes=tuple(notes),
    )


def _decode_plain(text: str, *, form: str, notes: list[str]) -> EasQuery:
    known: dict[str, str] = {}
    parameters: list[tuple[str, str]] = []
    options: set[str] = set()
    pos = 0
    for segment in text.split("&"):
        start = pos
        pos += len(segment) + 1
        if not segment.strip():
            continue
        raw_name, sep, raw_value = segment.partition("=")
        name = _unquote(raw_name, start, raw_name.strip() or "parameter name")
        canonical = PLAIN_NAMES.get(name.strip().lower())
        value = _unquote(raw_value, start + len(raw_name) + len(sep), canonical or name)
        if canonical in ("Cmd", "User", "DeviceId", "DeviceType"):
            if canonical in known:
                notes.append(f"{canonical} appears more than once (offset {start}); the first is used")
            else:
                known[canonical] = value
        elif canonical == "SaveInSent" and value.strip().upper() == "T":
            options.add("SaveInSent")
        else:
            parameters.append((canonical or name, value))
    command = known.get("Cmd")
    code: int | None = None
    if command is None:
        notes.append("no Cmd parameter")
    else:
        match = next((name for name in COMMAND_CODES if name.lower() == command.lower()), None)
        if match is not None:
            command, code = match, COMMAND_CODES[match]
        else:
            notes.append(f"command {command!r} is not in MS-ASHTTP 2.2.1.1.1.3")
    return EasQuery(
        form=form,
        command=command,
        command_code=code,
        user=known.get("User"),
        device_id=known.get("DeviceId"),
        device_type=known.get("DeviceType"),
        parameters=tuple(parameters),
        options=frozenset(options),
        notes=tuple(notes),
    )


def _unquote(raw: str, offset: int, field_name: str) -> str:
    """Form-decode one name or value (`+` is a space, %XX a byte), then read it as UTF-8."""
    if "%" not in raw and "+" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "%":
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                raise QueryError(f"bad percent escape {raw[i:i + 3]!r}", offset + i, field_name)
            out.append(int(pair, 16))
            i += 3
            continue
        if ch == "+":
            out.append(0x20)
        else:
            try:
                out += ch.encode("utf-8")
            except UnicodeEncodeError as err:
                raise QueryError("character that is not Unicode text", offset + i, field_name) from err
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as err:
        raise QueryError(f"percent-decoded bytes are not UTF-8: {err.reason}", offset, field_name) from err


def _printable(data: bytes) -> bool:
    return bool(data) and all(0x20 <= b < 0x7F for b in data)


def _options_from_bits(bits: int) -> frozenset[str]:
    return frozenset(OPTION_BITS.get(1 << i, f"0x{1 << i:02X}") for i in range(8) if bits & (1 << i))


def _sorted_options(options: frozenset[str] | set[str]) -> list[str]:
    return sorted(options, key=lambda name: (OPTION_FLAGS.get(name, 0x100), name))


# ---------------------------------------------------------------------------------------------------- encoding


def _version_byte(version: str | None) -> int:
    if version is None:
        raise QueryError("the base64 form needs a protocol version (such as 14.1)", field="ProtocolVersion")
    match = _VERSION_TEXT.fullmatch(version.strip())
    value = int(match.group(1)) * 10 + int(match.group(2)) if match else -1
    if not 0 <= value <= 0xFF:
        raise QueryError(f"protocol version {version!r} does not fit the version byte", field="ProtocolVersion")
    return value


def _command_code(q: EasQuery) -> int:
    if q.command_code is not None:
        if not 0 <= q.command_code <= 0xFF:
            raise QueryError(f"command code {q.command_code} does not fit a byte", field="Command")
        return q.command_code
    if q.command is None:
        raise QueryError("the base64 form needs a command", field="Command")
    code = COMMAND_CODES.get(q.command)
    if code is None:
        code = next((c for name, c in COMMAND_CODES.items() if name.lower() == q.command.lower()), None)
    if code is None:
        match = _PLACEHOLDER_COMMAND.fullmatch(q.command)
        if match is None or int(match.group(1)) > 0xFF:
            raise QueryError(f"command {q.command!r} has no MS-ASHTTP command code", field="Command")
        code = int(match.group(1))
    return code


def _parameter_tag(name: str) -> int:
    tag = PARAMETER_TAGS.get(name)
    if tag is None:
        tag = next((t for known, t in PARAMETER_TAGS.items() if known.lower() == name.lower()), None)
    if tag is None:
        match = _PLACEHOLDER_TAG.fullmatch(name)
        if match is None or int(match.group(1)) > 0xFF:
            raise QueryError(f"parameter {name!r} has no tag in the base64 form (MS-ASHTTP 2.2.1.1.1.5)", field=name)
        tag = int(match.group(1))
    if tag in (TAG_OPTIONS, TAG_USER):
        raise QueryError(f"{name} belongs in the {'options' if tag == TAG_OPTIONS else 'user'} field", field=name)
    return tag


def _option_byte(options: set[str]) -> int:
    bits = 0
    for name in options:
        bit = OPTION_FLAGS.get(name)
        if bit is None:
            match = _PLACEHOLDER_OPTION.fullmatch(name)
            value = int(match.group(1), 16) if match else 0
            if value == 0 or value & (value - 1):
                raise QueryError(f"unknown option {name!r}", field="Options")
            bit = value
        bits |= bit
    return bits


def _append_counted(out: bytearray, value: bytes, field_name: str) -> None:
    if len(value) > 0xFF:
        raise QueryError(f"{len(value)} bytes do not fit a one-byte length", field=field_name)
    out.append(len(value))
    out += value


def _quote(text: str) -> str:
    return quote(_utf8(text, "plain query"), safe=_PLAIN_SAFE)


def _utf8(text: str, field_name: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise QueryError(f"{field_name} is not Unicode text (lone surrogate)", field=field_name) from err


__all__ = [
    "COMMAND_CODES",
    "COMMAND_NAMES",
    "LOCALE_TAGS",
    "OPTION_BITS",
    "PARAMETER_NAMES",
    "EasQuery",
    "decode_query",
    "encode_base64",
    "encode_plain",
]
