"""WBXML 1.3 (WAP-192) decoding and encoding over the MS-ASWBXML code pages, byte-exact both ways."""

from __future__ import annotations

# The codec's public face. The work is done in:
#   wbxml_common   global tokens, header values, mb_u_int32, the string table (shared by both directions)
#   wbxml_content  the decoder's slow paths for content: text checks, markers, buffered content tokens, header
#   wbxml_tables   the decoder's token tables per code page, and the notes it writes for eas.annotate
#   wbxml_decode   WBXML -> XML text -> lxml tree (its theory of operation is at the top of that module)
#   wbxml_encode   lxml tree or XML text -> WBXML
# All of them are compiled with mypyc where a C compiler is at hand (eas/_native.py, setup.py).
#
# The XML this codec writes and reads is a contract of its own, described here once:
#
# XML shape. One namespace per code page, the URI being the page name (`AirSync`, `Email`, ...). The
# root's page is the default namespace, other pages get their prefix; every declaration is written once
# on the root, only for pages that carry a tag. Text is UTF-8; CR is written `&#13;` so XML parsing keeps
# it. Whatever XML cannot hold (bytes that are not text in the document's charset, control characters)
# is written as base64 with a marker.
#
# Charsets (WAP-192 5.6, IANA MIBenum): UTF-8 (106, what MS-ASWBXML sends), US-ASCII (3) and ISO-8859-1
# (4) are decoded natively. Any other is read as UTF-8 in lenient mode (text that is not UTF-8 then shows as
# base64) and refused in strict mode; wbxml:charset keeps the number so the encoder writes it back and
# encodes text in the same charset.
#
# Round-trip markers. Anything a real encoder may choose differently from our canonical encoding is kept
# as an attribute in the namespace WBXML_NS (prefix `wbxml`, declared only when used):
#   root:        wbxml:version="1.1"   wbxml:publicid="4" | "strtbl:N"   wbxml:charset="4" (IANA MIBenum)
#                wbxml:strtbl="<base64>"   wbxml:prolog="<base64 of PIs (and switches among them) before the root>"
#                wbxml:trailer="<base64 of bytes after the root>"
#                wbxml:header="<base64>" the raw header when an mb_u_int32 in it was not minimal
#   any element: wbxml:switch="1 1"   SWITCH_PAGE tokens sent before the tag when not exactly the one needed
#                wbxml:end-switch="2"  SWITCH_PAGE tokens sent between the content and END
#                wbxml:content="empty" the tag had the content flag but nothing before END
#                wbxml:token="0x2A"    the tag token when the page gives the name another token
#                wbxml:attrs="<base64>" the raw attribute list of a tag sent with the 0x80 flag
#   leaf text:   wbxml:opaque="text" | "base64"   one OPAQUE token, shown as text or as base64
#                wbxml:length-bytes="3"  that OPAQUE's length was written with more bytes than needed
#                wbxml:text="base64"  the STR_I bytes (or pieces, below) are not XML text: base64 of them
#                wbxml:pieces="s3 e8364 t0 o2 p1"  the text was sent as several tokens: STR_I of 3
#                characters, ENTITY U+20AC (one character), STR_T at string-table offset 0 (as many
#                characters as that string), OPAQUE of 2 characters, SWITCH_PAGE 1; `w2:3` is an OPAQUE
#                of 2 whose length took 3 bytes. With wbxml:text="base64" the counts are bytes of the
#                base64-decoded text.
# Placeholders (elements in WBXML_NS) stand for what MS-ASWBXML never sends, so lenient decoding loses
# nothing: wbxml:tag-PP-TT (unknown page PP or token TT, hex), wbxml:literal index="N" (LITERAL tags),
# wbxml:ext token="0x40" (extension tokens), wbxml:pi (a processing instruction, base64), and inside
# mixed content wbxml:str / wbxml:opaque (base64; length-bytes="N" as above), wbxml:entity (code point),
# wbxml:strref index="N" (STR_T). Pending SWITCH_PAGE tokens before such a token become its wbxml:switch.
# An index or code point written with redundant leading 0x80 bytes is refused (MalformedError): the
# number in the XML could not give those bytes back.

from .wbxml_common import MAX_DEPTH, decode_mb_u_int32, encode_mb_u_int32
from .wbxml_decode import decode, decode_to_xml, to_xml
from .wbxml_encode import encode, parse_xml

__all__ = [
    "MAX_DEPTH",
    "decode",
    "decode_to_xml",
    "encode",
    "to_xml",
    "parse_xml",
    "decode_mb_u_int32",
    "encode_mb_u_int32",
]
