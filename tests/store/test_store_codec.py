"""Value encodings: every type round-trips, and keys sort the way values do."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import SchemaError, ValueType, codec

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
INSTANTS = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
).map(lambda d: d.replace(tzinfo=UTC))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
#: type -> values of that type whose natural order the encoding must preserve
ORDERED: dict[ValueType, st.SearchStrategy[Any]] = {
    ValueType.STRING: st.text(),
    ValueType.INT: INT64,
    ValueType.FLOAT: st.floats(allow_nan=False),
    ValueType.BOOL: st.booleans(),
    ValueType.INSTANT: INSTANTS,
    ValueType.REF: st.integers(min_value=0, max_value=(1 << 64) - 1),
}


def roundtrip(value_type: ValueType, value: Any) -> Any:
    encoded = codec.encode_value(value_type, value)
    decoded = codec.decode_value(encoded)
    # Stored values re-encode to the same bytes: the transaction relies on it.
    assert codec.encode_value(value_type, decoded) == encoded
    return decoded


@pytest.mark.parametrize("value_type", list(ORDERED))
@settings(max_examples=60)
@given(data=st.data())
def test_round_trip_and_order(value_type: ValueType, data: st.DataObject) -> None:
    a = data.draw(ORDERED[value_type], label="a")
    b = data.draw(ORDERED[value_type], label="b")
    assert roundtrip(value_type, a) == a
    ea, eb = codec.encode_value(value_type, a), codec.encode_value(value_type, b)
    assert (a < b) == (ea < eb)
    assert (a == b) == (ea == eb)


@settings(max_examples=60)
@given(JSON)
def test_json_round_trip(value: Any) -> None:
    assert roundtrip(ValueType.JSON, value) == value


def test_json_is_canonical() -> None:
    one = codec.encode_value(ValueType.JSON, {"b": 1, "a": [1, 2]})
    assert one == codec.encode_value(ValueType.JSON, {"a": [1, 2], "b": 1})


@settings(max_examples=30)
@given(st.text())
def test_string_with_nul_bytes_sorts_before_longer_strings(text: str) -> None:
    encoded = codec.encode_value(ValueType.STRING, text)
    assert encoded < codec.encode_value(ValueType.STRING, text + "\x00")
    assert codec.encode_value(ValueType.STRING, text + "\x00") < codec.encode_value(
        ValueType.STRING, text + "\x01"
    )


def test_instant_accepts_micros_and_any_timezone() -> None:
    moment = datetime(2025, 3, 1, 12, 0, 0, 1, tzinfo=UTC)
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    micros = codec.micros(moment)
    encoded = codec.encode_value(ValueType.INSTANT, moment)
    assert codec.encode_value(ValueType.INSTANT, plus_two) == encoded
    assert codec.encode_value(ValueType.INSTANT, micros) == encoded
    assert codec.encode_value(ValueType.INSTANT, moment.replace(tzinfo=None)) == encoded
    assert codec.decode_value(encoded) == moment


def test_equal_floats_encode_equal() -> None:
    assert codec.encode_value(ValueType.FLOAT, -0.0) == codec.encode_value(ValueType.FLOAT, 0.0)
    nan = codec.encode_value(ValueType.FLOAT, float("nan"))
    assert nan == codec.encode_value(ValueType.FLOAT, -float("nan"))
    assert math.isnan(codec.decode_value(nan))
    assert codec.encode_value(ValueType.FLOAT, 3) == codec.encode_value(ValueType.FLOAT, 3.0)


@pytest.mark.parametrize(
    ("value_type", "value"),
    [
        (ValueType.STRING, 1),
        (ValueType.STRING, "\ud800"),  # a lone surrogate has no UTF-8
        (ValueType.INT, "1"),
        (ValueType.INT, True),
        (ValueType.INT, 1 << 63),
        (ValueType.INT, -(1 << 63) - 1),
        (ValueType.FLOAT, "1.0"),
        (ValueType.FLOAT, 10**400),
        (ValueType.BOOL, 1),
        (ValueType.INSTANT, "2025-01-01"),
        (ValueType.INSTANT, codec.MAX_MICROS + 1),
        (ValueType.REF, -1),
        (ValueType.REF, 1 << 64),
        (ValueType.REF, False),
        (ValueType.JSON, {1j}),
    ],
)
def test_bad_values_raise_schema_error(value_type: ValueType, value: Any) -> None:
    with pytest.raises(SchemaError):
        codec.encode_value(value_type, value)


def test_types_never_collide() -> None:
    zeros = {ValueType.STRING: "", ValueType.BOOL: False, ValueType.JSON: 0}
    encoded = {codec.encode_value(vt, zeros.get(vt, 0)) for vt in ValueType}
    assert len(encoded) == len(ValueType)


def test_log_record_round_trip() -> None:
    datoms = [
        (1, 2, codec.encode_value(ValueType.STRING, "x\x00y"), True, -5),
        (3, 4, b"\x04\x01", False, 1_700_000_000_000_000),
    ]
    record = codec.encode_log(123, b'{"k":"v"}', datoms)
    assert codec.decode_log_head(record) == (123, {"k": "v"})
    assert codec.decode_log_datoms(record) == datoms


def test_a_log_record_without_valid_times_was_valid_from_its_instant() -> None:
    """Records written before the valid-time axis (format 2) still decode."""
    value = codec.encode_value(ValueType.STRING, "x")
    old = struct.pack(">QI", 123, 2) + b"{}" + struct.pack(">QIBI", 1, 2, 1, len(value)) + value
    assert codec.decode_log_datoms(old) == [(1, 2, value, True, 123)]


@pytest.mark.parametrize(
    ("prefix", "bound"), [(b"E", b"F"), (b"E\x00\xff", b"E\x01"), (b"\xff\xff", b"\xff\xff\xff")]
)
def test_upper_bound(prefix: bytes, bound: bytes) -> None:
    assert codec.upper_bound(prefix) == bound
