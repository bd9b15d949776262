"""Hypothesis strategies shared by the property tests: the header names and length edges that matter."""

from __future__ import annotations

from hypothesis import strategies as st

# Header names clients, servers and proxies really send around ActiveSync (MS-ASHTTP 2.2.1.1.2 and 2.2.2.1.2,
# RFC 9110, RFC 6265), the credential carriers first: redaction, indexing and the store's round trip all
# depend on recognising them, in any case.
REAL_HEADER_NAMES = (
    "Host", "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Set-Cookie2", "WWW-Authenticate",
    "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "User-Agent", "Accept-Encoding",
    "MS-ASProtocolVersion", "MS-ASProtocolVersions", "MS-ASProtocolCommands", "MS-ASAcceptMultiPart",
    "MS-Server-ActiveSync", "X-MS-PolicyKey", "X-MS-RP", "X-MS-ASThrottle", "X-Auth-Token", "X-Access-Token",
)


def _cased(name: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([name, name.lower(), name.upper()]).map(str.encode)


# A field name is an RFC 9110 token: what a client might invent besides the real ones.
TOKEN_BYTES = st.binary(min_size=1, max_size=20).filter(lambda b: all(0x21 <= c < 0x7F and c != 0x3A for c in b))
HEADER_NAMES = st.one_of(st.sampled_from(REAL_HEADER_NAMES).flatmap(_cased), TOKEN_BYTES)

# Values: any bytes but CR and LF, with non-UTF-8 bytes (Latin-1 text, lone continuation bytes, 0xFF) drawn on
# purpose rather than left to chance.
_NOT_UTF8 = st.sampled_from([b"\xff", b"\xe9", b"\x80", b"\xc3(", b"\xed\xa0\x80", b"caf\xe9", b"\xfe\xff"])
HEADER_VALUES = st.one_of(
    st.binary(max_size=40),
    st.tuples(st.binary(max_size=15), _NOT_UTF8, st.binary(max_size=15)).map(b"".join),
    st.text(max_size=30).map(str.encode),
).filter(lambda b: b"\r" not in b and b"\n" not in b)
HEADERS = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6)

# The edges of a WBXML mb_u_int32 (WAP-192 section 5.1): 7 bits a byte, so one more byte past 127, 16383,
# 2097151; each length field (string table, OPAQUE, STR_T offset) is drawn at those edges as often as elsewhere.
MB_U_INT32_EDGES = (0, 1, 126, 127, 128, 129, 16382, 16383, 16384, 16385)
LENGTHS = st.one_of(st.sampled_from(MB_U_INT32_EDGES), st.integers(min_value=0, max_value=17000))
