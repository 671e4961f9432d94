"""One write: ops resolved against the current state and netted into the datoms to commit.

Apart from the store so that the rules of a write (what an op means, which ops change
nothing, how new entities get ids) read on their own; the store commits what this nets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from store import codec
from store.attrinfo import AttrInfo
from store.codec import U64, EncodedDatom
from store.intervals import OPEN, EntityIntervals, spans
from store.schema import XID, SchemaError
from store.source import FactSource
from store.tx import Add, Datom, EntityRef, Op, Replace, Retract, TxReport

__all__ = ["Commit", "Transaction"]

_NOTHING: dict[bytes, Any] = {}  # the shared, never mutated, empty "before" of new entities


#: Writes the netted datoms as one transaction: (datoms, next free entity id, xids created)
#: -> (tx, instant in microseconds).
Commit = Callable[[list[EncodedDatom], int, dict[str, int]], tuple[int, int]]


class Transaction:
    """Resolves ops against the current state and nets them into datoms.

    For each (entity, attribute) an op touches, ``touched`` holds the values true before
    the transaction and the values as the ops apply, both as {encoded: decoded}; the datoms
    are the difference, so ops that restate what is true write nothing. ``apply`` is the
    hot path of bulk writes, hence its inlined lookups.

    ``infos`` are the store's attributes by name, ``next_eid`` its next free entity id and
    ``known_xids`` the xid -> id map it holds in memory (a lookup that never reads).
    """

    def __init__(
        self,
        source: FactSource,
        infos: Mapping[str, AttrInfo],
        next_eid: int,
        known_xids: Mapping[str, int],
    ) -> None:
        self.source = source
        self.infos = infos
        self.known_xids = known_xids
        self.xid_info = infos[XID.name]
        #: ids at or above this were allocated by this transaction: they have no past
        self.first_new_eid = next_eid
        self.next_eid = next_eid
        self.created: dict[str, int] = {}
        self.touched: dict[tuple[int, int], tuple[dict[bytes, Any], dict[bytes, Any]]] = {}

    def run(self, ops: Sequence[Op], meta: dict[str, Any], commit: Commit) -> TxReport | None:
        """Apply ``ops``, then ``commit`` what they change; None when they change nothing."""
        self.apply_all(ops)
        datoms, values = self.net()
        if not datoms:
            return None
        tx, at = commit(datoms, self.next_eid, self.created)
        names = {info.id: info.name for info in self.infos.values()}
        new = tuple.__new__  # Datom(...) minus a Python-level frame per datom
        decoded = [
            new(Datom, (e, names[a], value, tx, added))
            for (e, a, _, added), value in zip(datoms, values, strict=True)
        ]
        return TxReport(tx, codec.from_micros(at), meta, decoded, dict(self.created))

    def apply_all(self, ops: Sequence[Op]) -> None:
        """``apply`` each op, with the bulk-write cases inlined: an ``Add`` to an entity this
        transaction created, and a ``Replace`` on an entity that exists, each of values or
        of refs to known xids. Anything else, errors included, takes the general path."""
        infos_get = self.infos.get
        created_get = self.created.get
        known = self.known
        touched = self.touched
        touched_get = touched.get
        xid_info = self.xid_info
        apply = self.apply
        values_of = self.values
        ref_value = codec.ref_value
        for op in ops:
            if isinstance(op, Replace):
                info = infos_get(op.attr)
                eid = known(op.e)
                encoded = None
                if info is not None and info is not xid_info and eid is not None:
                    encoded = self.encode_all(info, op.values)
                if encoded is None:
                    apply(op)
                    continue
                assert info is not None and eid is not None
                current = values_of(eid, info)
                current.clear()
                current.update(encoded)
                continue
            if op.__class__ is not Add:
                apply(op)
                continue
            info = infos_get(op.attr)
            e = created_get(op.e) if op.e.__class__ is str else None
            if info is None or info is xid_info or e is None:
                apply(op)
                continue
            value = op.value
            if info.is_ref:
                target = known(value)
                if target is None:
                    apply(op)
                    continue
                v, value = ref_value(target), target
            else:
                try:
                    v = info.raw_encode(value)
                except codec.ENCODE_ERRORS as exc:
                    raise codec.bad_value(info.attribute.value_type, value) from exc
            key = (e, info.id)
            pair = touched_get(key)
            if pair is None:
                pair = touched[key] = (_NOTHING, {})  # a new entity has no past
            current = pair[1]
            if not info.many:
                current.clear()
            current[v] = value

    def encode_all(self, info: AttrInfo, values: Sequence[Any]) -> dict[bytes, Any] | None:
        """{encoded: decoded} of a ``Replace``'s values when each is a plain value or a ref
        to an entity already known by xid; ``None`` sends the op down the general path
        (new entities to create, errors to report)."""
        if len(values) > 1 and not info.many:
            return None
        encoded: dict[bytes, Any] = {}
        if info.is_ref:
            for value in values:
                target = self.known(value)
                if target is None:
                    return None
                encoded[codec.ref_value(target)] = target
            return encoded
        encode = info.raw_encode
        try:
            for value in values:
                encoded[encode(value)] = value
        except codec.ENCODE_ERRORS:
            return None
        return encoded

    def known(self, ref: object) -> int | None:
        """The id of an xid this transaction created or the store has in memory; ``None``
        for anything else (ints, unknown xids), which the general path resolves."""
        if not isinstance(ref, str):
            return None
        return self.created.get(ref) or self.known_xids.get(ref)

    def resolve(self, ref: EntityRef, create: bool) -> int | None:
        """The entity id of ``ref``; a new entity for an unknown xid when ``create``."""
        if isinstance(ref, str):
            eid = self.created.get(ref)
            if eid is not None:
                return eid
            eid = self.source.lookup_xid(ref)
            if eid is None and create:
                eid = self.next_eid
                self.next_eid += 1
                self.created[ref] = eid
                self.touched[(eid, self.xid_info.id)] = (_NOTHING, {self.xid_info.encode(ref): ref})
            return eid
        if isinstance(ref, int) and not isinstance(ref, bool):
            # Ids are allocated in order and never reused: anything below next_eid exists.
            if not 0 < ref < self.next_eid:
                raise SchemaError(f"unknown entity id {ref}")
            return ref
        raise SchemaError(f"an entity is named by its id or xid, got {ref!r}")

    def values(self, e: int, info: AttrInfo) -> dict[bytes, Any]:
        """The values of (e, attribute) as the ops so far leave them (mutable)."""
        key = (e, info.id)
        pair = self.touched.get(key)
        if pair is None:
            before: dict[bytes, Any] = {}
            if e < self.first_new_eid:
                cached: EntityIntervals | None = self.source.entity_cache.get(e)
                if cached is not None:
                    a, encode = info.id, info.raw_encode
                    for fa, v, _, end in cached.facts:
                        if fa == a and end == OPEN:
                            before[encode(v)] = v  # stored values re-encode to their bytes
                else:
                    # Only this attribute's keys: the commit drops the entity from the cache
                    # anyway, so decoding all of it here would be wasted.
                    prefix = codec.EAVT + U64.pack(e) + info.a4
                    for v, _, end in spans(self.source.scan(prefix), len(prefix)):
                        if end == OPEN:
                            before[v] = codec.decode_value(v)
            # A new entity's empty "before" is shared: before dicts are never mutated.
            pair = self.touched[key] = (before or _NOTHING, dict(before))
        return pair[1]

    def encode(self, info: AttrInfo, value: Any, create: bool) -> tuple[bytes, Any] | None:
        """(encoded, decoded) of a value; ``None`` for a ref to an unknown xid when not
        ``create``."""
        if info.is_ref:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise SchemaError(f"{info.name}: a ref must be an entity id or xid, got {value!r}")
            target = self.resolve(value, create)
            if target is None:
                return None
            value = target
        try:
            return info.raw_encode(value), value
        except codec.ENCODE_ERRORS as exc:
            raise codec.bad_value(info.attribute.value_type, value) from exc

    def apply(self, op: Op) -> None:
        info = self.infos.get(op.attr)
        if info is None:
            raise SchemaError(f"unknown attribute {op.attr!r}")
        if info is self.xid_info:
            raise SchemaError("db/xid is set when an entity is created and never changes")
        if isinstance(op, Add):
            e = self.resolve(op.e, create=True)
            assert e is not None
            current = self.values(e, info)
            encoded = self.encode(info, op.value, create=True)
            assert encoded is not None
            if not info.many:
                current.clear()
            current[encoded[0]] = encoded[1]
        elif isinstance(op, Retract):
            e = self.resolve(op.e, create=False)
            if e is None:
                return
            encoded = self.encode(info, op.value, create=False)
            if encoded is not None:
                self.values(e, info).pop(encoded[0], None)
        elif isinstance(op, Replace):
            values = list(op.values)
            if not info.many and len(values) > 1:
                raise SchemaError(f"{info.name} is cardinality one; got {len(values)} values")
            e = self.resolve(op.e, create=True)
            assert e is not None
            current = self.values(e, info)
            current.clear()
            for value in values:
                encoded = self.encode(info, value, create=True)
                assert encoded is not None
                current[encoded[0]] = encoded[1]
        else:
            raise TypeError(f"not an op: {op!r}")

    def net(self) -> tuple[list[EncodedDatom], list[Any]]:
        """The datoms (retractions first, then assertions, each in the order the ops first
        touched them) and, alongside, their decoded values."""
        retracts: list[EncodedDatom] = []
        retracted: list[Any] = []
        asserts: list[EncodedDatom] = []
        asserted: list[Any] = []
        for (e, a), (before, after) in self.touched.items():
            if before:
                for v, value in before.items():
                    if v not in after:
                        retracts.append((e, a, v, False))
                        retracted.append(value)
                for v, value in after.items():
                    if v not in before:
                        asserts.append((e, a, v, True))
                        asserted.append(value)
            else:
                for v, value in after.items():
                    asserts.append((e, a, v, True))
                    asserted.append(value)
        return retracts + asserts, retracted + asserted
