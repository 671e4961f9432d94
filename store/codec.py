"""Byte encodings of values, index keys and log records.

Keys sort the way reads want them: integers are big-endian and fixed-width, values are
self-delimiting and order-preserving within a type, and the transaction id is stored as
``~tx`` (its complement) so that, for one (entity, attribute, value), the newest version
comes first. Every index key ends with ``~tx`` (8 bytes) and the op byte (1 assert,
0 retract); ``e`` is 8 bytes, ``a`` 4, ``v`` an encoded value (tag byte first). The value
of an index key is the datom's valid time (8 bytes, see ``valid_bytes``): the second time
axis rides beside the key, so the key orders stay what they were.

====== ======================= =====================================================
EAVT   ``E e a v ~tx op``      an entity's facts, grouped by attribute
AEVT   ``A a e v ~tx op``      every entity having an attribute
AVET   ``V a v e ~tx op``      lookup by value (unique and indexed attributes only)
VAET   ``R v' a e ~tx op``     reverse references (``v'`` is the target's 8-byte id)
XIDS   ``X v`` -> ``e``        xid -> entity id, a point read (bloom filters answer "no")
LOG    ``L tx``                the transaction record: the source of truth
T      ``T at tx``             wall-clock instant -> tx, for as-of by time
META   ``M name``              counters and the schema
====== ======================= =====================================================
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from store.schema import SchemaError, ValueType

U64 = struct.Struct(">Q")
U32 = struct.Struct(">I")
F64 = struct.Struct(">d")
MAX_U64 = (1 << 64) - 1
SIGN_BIT = 1 << 63

# Index tags: the first byte of every key names its keyspace.
EAVT = b"E"
AEVT = b"A"
AVET = b"V"
VAET = b"R"
XIDS = b"X"
LOG = b"L"
INSTANTS = b"T"
META = b"M"

# Every encoded value starts with its type's tag byte (1 string ... 7 json), so values of
# different types never compare equal.
_TERMINATOR = b"\x00\x01"


def tx_of(key: bytes) -> int:
    """The transaction of an index key (from its ``~tx`` tail)."""
    return MAX_U64 - U64.unpack_from(key, len(key) - 9)[0]


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\x00", b"\x00\xff") + _TERMINATOR


def _unescape(encoded: bytes) -> bytes:
    """The raw bytes of an encoded string or JSON value (tag and terminator dropped)."""
    return encoded[1:-2].replace(b"\x00\xff", b"\x00")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The instants a datetime can hold, in microseconds since the epoch.
MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_MIN_I64 = -(1 << 63)
_MAX_I64 = (1 << 63) - 1


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    # Integer arithmetic: going through a float timestamp can be a microsecond off.
    return _EPOCH + timedelta(microseconds=value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _enc_string(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError
    return b"\x01" + _escape(value.encode())


def _enc_int(value: Any) -> bytes:
    if not _is_int(value) or not _MIN_I64 <= value <= _MAX_I64:
        raise TypeError
    return b"\x02" + U64.pack(value + SIGN_BIT)


def _enc_float(value: Any) -> bytes:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError
    value = float(value)
    # Equal numbers must be equal keys, or retracting 0.0 would miss a stored -0.0.
    if value == 0.0:
        value = 0.0
    elif value != value:
        value = math.nan
    bits = U64.unpack(F64.pack(value))[0]
    bits = bits ^ MAX_U64 if bits & SIGN_BIT else bits | SIGN_BIT
    return b"\x03" + U64.pack(bits)


def _enc_bool(value: Any) -> bytes:
    if not isinstance(value, bool):
        raise TypeError
    return b"\x04\x01" if value else b"\x04\x00"


def _enc_instant(value: Any) -> bytes:
    if isinstance(value, datetime):
        value = micros(value)
    # Only instants a datetime can hold: a stored value must decode.
    if not _is_int(value) or not MIN_MICROS <= value <= MAX_MICROS:
        raise TypeError
    return b"\x05" + U64.pack(value + SIGN_BIT)


def ref_value(e: int) -> bytes:
    """The encoded ref to entity ``e`` (a known-good id)."""
    return b"\x06" + U64.pack(e)


def _enc_ref(value: Any) -> bytes:
    if not _is_int(value) or not 0 <= value <= MAX_U64:
        raise TypeError
    return ref_value(value)


def _enc_json(value: Any) -> bytes:
    # Canonical text, so equal documents are equal values.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b"\x07" + _escape(text.encode())


_ENCODERS: dict[ValueType, Callable[[Any], bytes]] = {
    ValueType.STRING: _enc_string,
    ValueType.INT: _enc_int,
    ValueType.FLOAT: _enc_float,
    ValueType.BOOL: _enc_bool,
    ValueType.INSTANT: _enc_instant,
    ValueType.REF: _enc_ref,
    ValueType.JSON: _enc_json,
}
#: What an encoder raises on a value of the wrong type (see ``bad_value``).
ENCODE_ERRORS = (TypeError, ValueError, OverflowError, RecursionError, struct.error)


def bad_value(value_type: ValueType, value: Any) -> SchemaError:
    return SchemaError(f"{value!r} is not a valid {value_type.value} value")


def raw_encoder(value_type: ValueType) -> Callable[[Any], bytes]:
    """The encoder of one type, for hot loops: raises one of ``ENCODE_ERRORS`` (not
    ``SchemaError``) on a bad value, so the caller owns the try block."""
    return _ENCODERS[value_type]


def encode_value(value_type: ValueType, value: Any) -> bytes:
    """Encode ``value`` as ``value_type``; ``SchemaError`` if it is not of that type."""
    try:
        return _ENCODERS[value_type](value)
    except ENCODE_ERRORS as exc:
        raise bad_value(value_type, value) from exc


def _dec_float(encoded: bytes) -> float:
    bits = U64.unpack_from(encoded, 1)[0]
    bits = bits ^ SIGN_BIT if bits & SIGN_BIT else bits ^ MAX_U64
    return float(F64.unpack(U64.pack(bits))[0])


#: tag byte -> decoder of the whole encoded value (tag included)
_DECODERS: dict[int, Callable[[bytes], Any]] = {
    1: lambda b: _unescape(b).decode(),
    2: lambda b: U64.unpack_from(b, 1)[0] - SIGN_BIT,
    3: _dec_float,
    4: lambda b: b[1] == 1,
    5: lambda b: from_micros(U64.unpack_from(b, 1)[0] - SIGN_BIT),
    6: lambda b: U64.unpack_from(b, 1)[0],
    7: lambda b: json.loads(_unescape(b)),
}


def decode_value(encoded: bytes) -> Any:
    return _DECODERS[encoded[0]](encoded)


# -- index keys ---------------------------------------------------------------------------


#: The valid time of a fact still true: the end of every open valid interval. Valid times
#: are microseconds since the epoch (negative before 1970), always below this.
VALID_OPEN = 1 << 62
#: The valid time of a view that asks for the latest (every fact not yet ended).
VALID_LATEST = VALID_OPEN - 1


def valid_bytes(valid: int) -> bytes:
    """The 8 bytes an index key holds as its value: the datom's valid time."""
    return U64.pack(valid + SIGN_BIT)


def valid_of(value: bytes) -> int:
    """The valid time an index key holds (see ``valid_bytes``)."""
    return int(U64.unpack(value)[0]) - SIGN_BIT


def tx_tail(tx: int, added: bool) -> bytes:
    """The last 9 bytes of every index key of a datom: ``~tx`` then the op byte."""
    return U64.pack(MAX_U64 - tx) + (b"\x01" if added else b"\x00")


def log_key(tx: int) -> bytes:
    return LOG + U64.pack(tx)


def instant_key(at: int, tx: int) -> bytes:
    return INSTANTS + U64.pack(at) + U64.pack(tx)


def meta_key(name: str) -> bytes:
    return META + name.encode()


def upper_bound(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return b"\xff" * (len(prefix) + 1)
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


# -- log records --------------------------------------------------------------------------
# The log is the source of truth: (at, meta, datoms) with each value already encoded, so
# indexes rebuilt from it are byte-identical to the ones written at transaction time.
# A datom's op byte says whether its valid time follows (bit 2): records written before
# the valid-time axis have none, and their datoms were valid from the transaction's instant.

_DATOM_HEAD = struct.Struct(">QIBI")  # e, a, op, len(value)
_VALID = struct.Struct(">q")  # the valid time, after the head when the op byte has bit 2
_HAS_VALID = 2
_LOG_HEAD = struct.Struct(">QI")  # at, len(meta)

#: (entity, attribute id, encoded value, added, valid time in microseconds)
EncodedDatom = tuple[int, int, bytes, bool, int]


def encode_log(at: int, meta_json: bytes, datoms: list[EncodedDatom]) -> bytes:
    """The record of one transaction; ``meta_json`` is its meta, already JSON-encoded."""
    parts = [_LOG_HEAD.pack(at, len(meta_json)), meta_json]
    head, valid_of_datom = _DATOM_HEAD.pack, _VALID.pack
    for e, a, v, added, valid in datoms:
        parts.append(head(e, a, _HAS_VALID | added, len(v)))
        parts.append(valid_of_datom(valid))
        parts.append(v)
    return b"".join(parts)


def decode_log_head(record: bytes) -> tuple[int, dict[str, Any]]:
    at, meta_len = _LOG_HEAD.unpack_from(record)
    start = _LOG_HEAD.size
    return at, json.loads(record[start : start + meta_len])


def decode_log_datoms(record: bytes) -> list[EncodedDatom]:
    at, meta_len = _LOG_HEAD.unpack_from(record)
    pos = _LOG_HEAD.size + meta_len
    out: list[EncodedDatom] = []
    while pos < len(record):
        e, a, op, vlen = _DATOM_HEAD.unpack_from(record, pos)
        pos += _DATOM_HEAD.size
        valid = at
        if op & _HAS_VALID:
            valid = _VALID.unpack_from(record, pos)[0]
            pos += _VALID.size
        out.append((e, a, record[pos : pos + vlen], bool(op & 1), valid))
        pos += vlen
    return out
