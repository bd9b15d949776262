"""The direct .mitm reader's tnetstring parsing gives mitmproxy's value for every item, or refuses it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.io import tnetstring

from capture.importers import mitm_state

# Every type a flow file's tnetstring carries, nested as a flow's state nests them.
LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.binary(max_size=12) | st.text(max_size=12)
)  # fmt: skip
VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=24,
)


def _typed(value: Any) -> Any:
    """The value with each item's exact type beside it: True and 1 and 1.0 compare equal in Python."""
    if isinstance(value, dict):
        return ("dict", [(_typed(key), _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    return (type(value).__name__, value)


def _direct(data: bytes) -> Any:
    value, end = mitm_state._item(data, 0, len(data))
    return value, end


def _mitmproxy(data: bytes) -> Any:
    try:
        return _typed(tnetstring.loads(data))
    except (ValueError, TypeError, IndexError, RecursionError):
        return "refused"


@settings(max_examples=300)
@given(VALUES)
def test_every_value_mitmproxy_writes_reads_back_the_same(value: Any) -> None:
    data = tnetstring.dumps(value)
    parsed, end = _direct(data)
    assert _typed(parsed) == _typed(tnetstring.loads(data))  # mitmproxy writes a dict's keys in reverse order
    assert parsed == value
    assert end == len(data)


@settings(max_examples=500)
@given(VALUES, st.data())
def test_a_damaged_item_is_read_as_mitmproxy_reads_it_or_refused(value: Any, data: st.DataObject) -> None:
    """One byte changed, inserted or cut: when the direct parser gives a value, mitmproxy gives the same one
    (where it refuses, mitmproxy's own path reads the record and words its error)."""
    encoded = bytearray(tnetstring.dumps(value))
    where = data.draw(st.integers(0, len(encoded) - 1))
    change = data.draw(st.sampled_from(["replace", "insert", "cut"]))
    byte = data.draw(st.sampled_from(b"0123456789:,;#^!~]}-+ _.eatrux\x00\xff"))
    if change == "replace":
        encoded[where] = byte
    elif change == "insert":
        encoded.insert(where, byte)
    else:
        del encoded[where:]
    damaged = bytes(encoded)
    try:
        parsed, _ = _direct(damaged)
    except (mitm_state._Unsure, ValueError, TypeError, RecursionError):
        return
    assert _typed(parsed) == _mitmproxy(damaged)


def test_what_it_refuses_and_mitmproxy_reads_or_refuses_too() -> None:
    """Length prefixes and literals the direct parser leaves to mitmproxy: not ASCII digits, past the container,
    an unknown tag, a null with a payload, a boolean of another word, a dict key without its value."""
    for data in (b"+1:a,", b" 1:a,", b"1_0:aaaaaaaaaa,", b"5:a,", b"1:a?", b"1:x~", b"3:yes!", b"4:1:a,}", b":a,"):
        try:
            _direct(data)
        except mitm_state._Unsure:
            continue
        raise AssertionError(f"{data!r} was read")
