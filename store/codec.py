"""Byte encodings of values, index keys and log records.

Keys sort the way reads want them: integers are big-endian and fixed-width, values are
self-delimiting and order-preserving within a type, and the transaction id is stored as
``~tx`` (its complement) so that, for one (entity, attribute, value), the newest version
comes first. Every key ends with ``~tx`` (8 bytes) and the op byte (1 assert, 0 retract).
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from typing import Any

from store.schema import SchemaError, ValueType

U64 = struct.Struct(">Q")
U32 = struct.Struct(">I")
I64 = struct.Struct(">q")
F64 = struct.Struct(">d")
MAX_U64 = (1 << 64) - 1
SIGN_BIT = 1 << 63

# Index tags: the first byte of every key names its keyspace.
EAVT = b"E"
AEVT = b"A"
AVET = b"V"
VAET = b"R"
LOG = b"L"
INSTANTS = b"T"
META = b"M"

# Value type tags, the first byte of an encoded value.
_TAG = {
    ValueType.STRING: 1,
    ValueType.INT: 2,
    ValueType.FLOAT: 3,
    ValueType.BOOL: 4,
    ValueType.INSTANT: 5,
    ValueType.REF: 6,
    ValueType.JSON: 7,
}
_TYPE_OF_TAG = {tag: vt for vt, tag in _TAG.items()}
_TERMINATOR = b"\x00\x01"


def u64(n: int) -> bytes:
    return U64.pack(n)


def not_tx(tx: int) -> bytes:
    """``~tx``: sorts newer transactions first."""
    return U64.pack(MAX_U64 - tx)


def tx_of(not_tx_bytes: bytes) -> int:
    return MAX_U64 - U64.unpack(not_tx_bytes)[0]


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\x00", b"\x00\xff") + _TERMINATOR


def _unescape(body: bytes) -> bytes:
    return body[:-2].replace(b"\x00\xff", b"\x00")


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def encode_value(value_type: ValueType, value: Any) -> bytes:
    """Encode ``value`` as ``value_type``; ``SchemaError`` if it is not of that type."""
    tag = bytes((_TAG[value_type],))
    try:
        if value_type is ValueType.STRING:
            if not isinstance(value, str):
                raise TypeError
            return tag + _escape(value.encode())
        if value_type is ValueType.REF:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TypeError
            return tag + U64.pack(value)
        if value_type is ValueType.INT:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError
            return tag + U64.pack((value + SIGN_BIT) & MAX_U64)
        if value_type is ValueType.FLOAT:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError
            bits = U64.unpack(F64.pack(float(value)))[0]
            bits = bits ^ MAX_U64 if bits & SIGN_BIT else bits | SIGN_BIT
            return tag + U64.pack(bits)
        if value_type is ValueType.BOOL:
            if not isinstance(value, bool):
                raise TypeError
            return tag + (b"\x01" if value else b"\x00")
        if value_type is ValueType.INSTANT:
            if isinstance(value, datetime):
                value = micros(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError
            return tag + U64.pack((value + SIGN_BIT) & MAX_U64)
        # JSON: canonical text, so equal documents are equal values.
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return tag + _escape(text.encode())
    except (TypeError, ValueError, OverflowError, struct.error) as exc:
        raise SchemaError(f"{value!r} is not a valid {value_type.value} value") from exc


def value_length(buf: bytes, start: int) -> int:
    """Length of the encoded value starting at ``buf[start]`` (values self-delimit)."""
    vt = _TYPE_OF_TAG[buf[start]]
    if vt is ValueType.BOOL:
        return 2
    if vt in (ValueType.STRING, ValueType.JSON):
        pos = start + 1
        while True:
            pos = buf.index(b"\x00", pos)
            if buf[pos + 1] == 1:
                return pos + 2 - start
            pos += 2
    return 9


def decode_value(encoded: bytes) -> Any:
    vt = _TYPE_OF_TAG[encoded[0]]
    body = encoded[1:]
    if vt is ValueType.STRING:
        return _unescape(body).decode()
    if vt is ValueType.REF:
        return U64.unpack(body)[0]
    if vt is ValueType.INT:
        return U64.unpack(body)[0] - SIGN_BIT
    if vt is ValueType.FLOAT:
        bits = U64.unpack(body)[0]
        bits = bits ^ SIGN_BIT if bits & SIGN_BIT else bits ^ MAX_U64
        return F64.unpack(U64.pack(bits))[0]
    if vt is ValueType.BOOL:
        return body == b"\x01"
    if vt is ValueType.INSTANT:
        return from_micros(U64.unpack(body)[0] - SIGN_BIT)
    return json.loads(_unescape(body))


# -- index keys ---------------------------------------------------------------------------
# Every key is (tag, components..., ~tx, op). Decoding relies on the fixed 9-byte tail.


def eavt_key(e: int, a: int, v: bytes, tx: int, added: bool) -> bytes:
    return b"".join((EAVT, U64.pack(e), U32.pack(a), v, not_tx(tx), b"\x01" if added else b"\x00"))


def aevt_key(e: int, a: int, v: bytes, tx: int, added: bool) -> bytes:
    return b"".join((AEVT, U32.pack(a), U64.pack(e), v, not_tx(tx), b"\x01" if added else b"\x00"))


def avet_key(e: int, a: int, v: bytes, tx: int, added: bool) -> bytes:
    return b"".join((AVET, U32.pack(a), v, U64.pack(e), not_tx(tx), b"\x01" if added else b"\x00"))


def vaet_key(e: int, a: int, v: bytes, tx: int, added: bool) -> bytes:
    """Reverse reference: ``v`` is an encoded ref; the key starts with the target's id."""
    return b"".join(
        (VAET, v[1:], U32.pack(a), U64.pack(e), not_tx(tx), b"\x01" if added else b"\x00")
    )


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

_DATOM_HEAD = struct.Struct(">QIBI")  # e, a, added, len(value)
_LOG_HEAD = struct.Struct(">QI")  # at, len(meta)

EncodedDatom = tuple[int, int, bytes, bool]


def encode_log(at: int, meta: dict[str, Any], datoms: list[EncodedDatom]) -> bytes:
    meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    parts = [_LOG_HEAD.pack(at, len(meta_bytes)), meta_bytes]
    for e, a, v, added in datoms:
        parts.append(_DATOM_HEAD.pack(e, a, 1 if added else 0, len(v)))
        parts.append(v)
    return b"".join(parts)


def decode_log_head(record: bytes) -> tuple[int, dict[str, Any]]:
    at, meta_len = _LOG_HEAD.unpack_from(record)
    start = _LOG_HEAD.size
    return at, json.loads(record[start : start + meta_len])


def decode_log_datoms(record: bytes) -> list[EncodedDatom]:
    _, meta_len = _LOG_HEAD.unpack_from(record)
    pos = _LOG_HEAD.size + meta_len
    out: list[EncodedDatom] = []
    while pos < len(record):
        e, a, added, vlen = _DATOM_HEAD.unpack_from(record, pos)
        pos += _DATOM_HEAD.size
        out.append((e, a, record[pos : pos + vlen], bool(added)))
        pos += vlen
    return out
