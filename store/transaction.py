"""One write: ops resolved against the current state and netted into the datoms to commit.

Apart from the store so that the rules of a write (what an op means, which ops change
nothing, how new entities get ids) read on their own; the store commits what this nets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from store import codec
from store.attrinfo import AttrInfo
from store.codec import U64, VALID_OPEN, EncodedDatom
from store.intervals import NEVER, OPEN, EntityIntervals, Tops, rectangles
from store.schema import XID, SchemaError
from store.source import FactSource
from store.tx import Add, Created, Datom, EntityRef, Interpose, Op, Replace, Retract, TxReport

__all__ = ["Commit", "Transaction"]

_NOTHING: dict[bytes, Any] = {}  # the shared, never mutated, empty "before" of new entities
_NO_TIMES: dict[bytes, int] = {}
_NO_TOPS: Tops = {}


#: Writes the netted datoms as one transaction: (datoms, next free entity id, xids created).
Commit = Callable[[list[EncodedDatom], int, dict[str, int]], int]


class Touch:
    """One (entity, attribute) a transaction touches: its values before and after the ops.

    ``before`` are the values true now (at the latest valid time) with ``starts``, when
    each became valid; ``tops`` hold, per value with several datoms, the latest valid time
    of any of them and of its retractions (``intervals.Tops``), and ``ends`` where the
    last window such a value holds in (as known now) ends, absent if it holds nowhere.
    ``after`` are the values as the ops leave them, ``valid`` the valid time each was
    stated with (absent: carried over unchanged) and ``removed`` the valid time of the last
    op that took values away."""

    __slots__ = ("after", "before", "ends", "removed", "starts", "tops", "valid")

    def __init__(
        self,
        before: dict[bytes, Any],
        starts: dict[bytes, int],
        tops: Tops,
        ends: dict[bytes, int],
        after: dict[bytes, Any],
        valid: dict[bytes, int],
        removed: int,
    ) -> None:
        self.before = before
        self.starts = starts
        self.tops = tops
        self.ends = ends
        self.after = after
        self.valid = valid
        self.removed = removed


class Transaction:
    """Resolves ops against the current state and nets them into datoms.

    For each (entity, attribute) an op touches, a ``Touch`` holds the values true before
    the transaction and the values as the ops apply, both as {encoded: decoded}; the datoms
    are the difference, so ops that restate what is true write nothing (unless they move
    its valid start back). ``apply_all`` is the hot path of bulk writes, hence its inlined
    lookups.

    ``infos`` are the store's attributes by name, ``next_eid`` its next free entity id,
    ``known_xids`` the xid -> id map it holds in memory (a lookup that never reads) and
    ``default_valid`` the valid time of ops that name none (microseconds).
    """

    def __init__(
        self,
        source: FactSource,
        infos: Mapping[str, AttrInfo],
        next_eid: int,
        known_xids: Mapping[str, int],
        default_valid: int,
    ) -> None:
        self.source = source
        self.infos = infos
        self.known_xids = known_xids
        self.xid_info = infos[XID.name]
        self.default_valid = default_valid
        #: ids at or above this were allocated by this transaction: they have no past
        self.first_new_eid = next_eid
        self.next_eid = next_eid
        self.created: dict[str, int] = {}
        self.touched: dict[tuple[int, int], Touch] = {}
        #: (entity, attribute) -> (valid time, {encoded: decoded}) of an ``Interpose``
        self.interposed: dict[tuple[int, int], tuple[int, dict[bytes, Any]]] = {}
        self._micros: dict[datetime, int] = {}

    def valid_of(self, moment: datetime | None) -> int:
        """An op's valid time in microseconds (the default when it names none)."""
        if moment is None:
            return self.default_valid
        found = self._micros.get(moment)
        if found is None:
            if not isinstance(moment, datetime):
                raise SchemaError(f"a valid time is a datetime, got {moment!r}")
            found = self._micros[moment] = codec.micros(moment)
        return found

    def run(
        self, ops: Sequence[Op], meta: dict[str, Any], commit: Commit, at: int
    ) -> TxReport | None:
        """Apply ``ops``, then ``commit`` what they change at instant ``at``; None when
        they change nothing."""
        self.apply_all(ops)
        datoms, values = self.net()
        if not datoms:
            return None
        tx = commit(datoms, self.next_eid, self.created)
        names = {info.id: info.name for info in self.infos.values()}
        moments: dict[int, datetime] = {}
        new = tuple.__new__  # Datom(...) minus a Python-level frame per datom
        decoded = []
        for (e, a, _, added, valid), value in zip(datoms, values, strict=True):
            moment = moments.get(valid)
            if moment is None:
                moment = moments[valid] = codec.from_micros(valid)
            decoded.append(new(Datom, (e, names[a], value, tx, added, moment)))
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
        touch_of = self.touch
        valid_of = self.valid_of
        default = self.default_valid
        micros_get = self._micros.get
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
                touch = touch_of(eid, info)
                moment = op.valid
                when = default if moment is None else (micros_get(moment) or valid_of(moment))
                after = touch.after
                if len(after) != len(encoded) or any(v not in encoded for v in after):
                    touch.removed = when
                after.clear()
                after.update(encoded)
                stated = touch.valid
                for v in encoded:
                    stated[v] = when
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
            found = touched_get(key)
            if found is None:  # a new entity has no past
                found = touched[key] = Touch(_NOTHING, _NO_TIMES, _NO_TOPS, _NO_TIMES, {}, {}, 0)
            touch = found
            moment = op.valid
            when = default if moment is None else (micros_get(moment) or valid_of(moment))
            if not info.many:
                if touch.after:
                    touch.removed = when
                touch.after.clear()
            touch.after[v] = value
            touch.valid[v] = when

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
                v = self.xid_info.encode(ref)
                self.touched[(eid, self.xid_info.id)] = Touch(
                    _NOTHING, _NO_TIMES, _NO_TOPS, _NO_TIMES, {v: ref}, {v: self.default_valid}, 0
                )
            return eid
        if isinstance(ref, int) and not isinstance(ref, bool):
            # Ids are allocated in order and never reused: anything below next_eid exists.
            if not 0 < ref < self.next_eid:
                raise SchemaError(f"unknown entity id {ref}")
            return ref
        raise SchemaError(f"an entity is named by its id or xid, got {ref!r}")

    def touch(self, e: int, info: AttrInfo) -> Touch:
        """The ``Touch`` of (e, attribute), read from the store the first time."""
        key = (e, info.id)
        touch = self.touched.get(key)
        if touch is not None:
            return touch
        before: dict[bytes, Any] = {}
        starts: dict[bytes, int] = {}
        tops: Tops = {}
        ends: dict[bytes, int] = {}
        if e < self.first_new_eid:
            cached: EntityIntervals | None = self.source.entity_cache.get(e)
            if cached is not None:
                a, encode = info.id, info.raw_encode
                for fa, value, _, end, valid_start, valid_end in cached.facts:
                    if fa != a or end != OPEN:
                        continue
                    v = encode(value)  # stored values re-encode to their bytes
                    if valid_end == VALID_OPEN:
                        before[v] = value
                        starts[v] = valid_start
                    else:
                        ends[v] = max(ends.get(v, NEVER), valid_end)
                if cached.tops:
                    a4 = info.a4
                    tops = {g[4:]: top for g, top in cached.tops.items() if g[:4] == a4}
            else:
                # Only this attribute's keys: the commit drops the entity from the cache
                # anyway, so decoding all of it here would be wasted.
                prefix = codec.EAVT + U64.pack(e) + info.a4
                items = self.source.scan_items(prefix)
                for v, _, end, valid_start, valid_end in rectangles(items, len(prefix), tops):
                    if end != OPEN:
                        continue
                    if valid_end == VALID_OPEN:
                        before[v] = codec.decode_value(v)
                        starts[v] = valid_start
                    else:
                        ends[v] = max(ends.get(v, NEVER), valid_end)
        # A new entity's empty "before" is shared: before dicts are never mutated.
        touch = self.touched[key] = Touch(
            before or _NOTHING, starts, tops, ends, dict(before), {}, self.default_valid
        )
        return touch

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
        if isinstance(op, Created):
            self.apply_created(op)
            return
        if isinstance(op, Interpose):
            self.apply_interpose(op)
            return
        info = self.infos.get(op.attr)
        if info is None:
            raise SchemaError(f"unknown attribute {op.attr!r}")
        if info is self.xid_info:
            raise SchemaError("db/xid is set when an entity is created and never changes")
        when = self.valid_of(op.valid)
        if isinstance(op, Add):
            e = self.resolve(op.e, create=True)
            assert e is not None
            touch = self.touch(e, info)
            encoded = self.encode(info, op.value, create=True)
            assert encoded is not None
            if not info.many:
                if touch.after and encoded[0] not in touch.after:
                    touch.removed = when
                touch.after.clear()
            touch.after[encoded[0]] = encoded[1]
            touch.valid[encoded[0]] = when
        elif isinstance(op, Retract):
            e = self.resolve(op.e, create=False)
            if e is None:
                return
            encoded = self.encode(info, op.value, create=False)
            if encoded is not None:
                touch = self.touch(e, info)
                if touch.after.pop(encoded[0], None) is not None:
                    touch.removed = when
        elif isinstance(op, Replace):
            values = list(op.values)
            if not info.many and len(values) > 1:
                raise SchemaError(f"{info.name} is cardinality one; got {len(values)} values")
            e = self.resolve(op.e, create=True)
            assert e is not None
            touch = self.touch(e, info)
            encoded_values = []
            for value in values:
                encoded = self.encode(info, value, create=True)
                assert encoded is not None
                encoded_values.append(encoded)
            if {v for v, _ in encoded_values} != set(touch.after):
                touch.removed = when
            touch.after.clear()
            for v, value in encoded_values:
                touch.after[v] = value
                touch.valid[v] = when
        else:
            raise TypeError(f"not an op: {op!r}")

    def apply_created(self, op: Created) -> None:
        """The entity exists from ``op.valid``: its xid's valid time, moved back only."""
        e = self.resolve(op.e, create=True)
        assert e is not None
        touch = self.touch(e, self.xid_info)
        when = self.valid_of(op.valid)
        for v in touch.after:
            if e >= self.first_new_eid or when < touch.valid.get(v, touch.starts.get(v, when)):
                touch.valid[v] = when

    def apply_interpose(self, op: Interpose) -> None:
        """Note a bounded statement; ``interpose`` nets it once every op is in."""
        info = self.infos.get(op.attr)
        if info is None:
            raise SchemaError(f"unknown attribute {op.attr!r}")
        if info is self.xid_info:
            raise SchemaError("db/xid is set when an entity is created and never changes")
        if not info.many and len(op.values) > 1:
            raise SchemaError(f"{info.name} is cardinality one; got {len(op.values)} values")
        e = self.resolve(op.e, create=True)
        assert e is not None
        when = self.valid_of(op.valid)
        values: dict[bytes, Any] = {}
        for value in op.values:
            encoded = self.encode(info, value, create=True)
            assert encoded is not None
            values[encoded[0]] = encoded[1]
        earlier = self.interposed.get((e, info.id))
        if earlier is not None and earlier[0] != when:
            raise SchemaError(f"{info.name}: two interposed statements at different moments")
        self.interposed[(e, info.id)] = (when, values)

    def interpose(
        self, e: int, info: AttrInfo, when: int, values: dict[bytes, Any]
    ) -> list[tuple[EncodedDatom, Any]]:
        """The datoms making exactly ``values`` true from ``when`` until the next datom of
        (e, attribute) after it: each value whose state at ``when`` differs is set there,
        and set back at that next moment unless a datom of its own already decides it. A
        value already true is asserted again at ``when`` (unless a datom of it is there):
        the statement is the bound of one delivered later for an earlier moment."""
        datoms: dict[bytes, list[tuple[int, int, int]]] = {}  # value -> (valid, tx, added)
        if e < self.first_new_eid:
            prefix = codec.EAVT + U64.pack(e) + info.a4
            head = len(prefix)
            for key, valid in self.source.scan_items(prefix):
                tx = codec.MAX_U64 - int.from_bytes(key[-9:-1], "big")
                datoms.setdefault(key[head:-9], []).append((codec.valid_of(valid), tx, key[-1]))
        later = [valid for found in datoms.values() for valid, _, _ in found if valid > when]
        bound = min(later, default=None)
        out: list[tuple[EncodedDatom, Any]] = []
        for v in {**dict.fromkeys(datoms), **dict.fromkeys(values)}:
            before = [d for d in datoms.get(v, ()) if d[0] <= when]
            held = bool(before) and bool(max(before)[2])
            wanted = v in values
            if held and wanted and all(valid != when for valid, _, _ in datoms.get(v, ())):
                # said again: a datom at its moment, so a statement delivered later that
                # belongs before it ends here, not at whatever was said after
                out.append(((e, info.id, v, True, when), values[v]))
            if held == wanted:
                continue
            value = values[v] if wanted else codec.decode_value(v)
            out.append(((e, info.id, v, wanted, when), value))
            if bound is not None and all(valid != bound for valid, _, _ in datoms.get(v, ())):
                out.append(((e, info.id, v, held, bound), value))
        return out

    def net(self) -> tuple[list[EncodedDatom], list[Any]]:
        """The datoms (retractions first, then assertions, each in the order the ops first
        touched them) and, alongside, their decoded values.

        A value leaves at the valid time of the op that took it away, and never before its
        own latest datom (or an older assertion would outlive the retraction); taken away
        before it began, with nothing after its start, it never held (a correction). An
        assertion never starts before its value's own latest datom (which would override
        it), nor, for a cardinality-one attribute, before the end of any other value's
        last window or the leaving of the value it replaces, so the attribute never holds
        two values at once. A value restated with an earlier valid time moves its start back as far as
        that allows."""
        retracts: list[EncodedDatom] = []
        retracted: list[Any] = []
        asserts: list[EncodedDatom] = []
        asserted: list[Any] = []
        infos = self.source.info_by_id
        for (e, a), touch in self.touched.items():
            before, after, stated, tops = touch.before, touch.after, touch.valid, touch.tops
            if not before and not tops:
                for v, value in after.items():
                    asserts.append((e, a, v, True, stated[v]))
                    asserted.append(value)
                continue
            starts = touch.starts
            many = infos(a).many
            # cardinality one: what a new value must not start before, the end of where
            # another value holds (one asserted and taken back at one moment holds nowhere)
            floor = max((end for v, end in touch.ends.items() if v not in before), default=NEVER)
            for v, value in before.items():
                if v in after:
                    floor = max(floor, tops.get(v, (NEVER, NEVER))[1])
                    continue
                start = starts[v]
                latest, last_retraction = tops.get(v, (start, NEVER))
                if touch.removed <= start and latest == start:
                    retracts.append((e, a, v, False, start))  # it never held
                    floor = max(floor, last_retraction)
                else:
                    gone = max(touch.removed, latest)
                    retracts.append((e, a, v, False, gone))
                    floor = max(floor, gone)
                retracted.append(value)
            for v, value in after.items():
                began = starts.get(v)
                latest, last_retraction = tops.get(v, (NEVER, NEVER))
                if began is None:  # a new value: after every datom of its own
                    lowest = max(latest, NEVER if many else floor)
                else:  # still true: moved back, after its own last retraction
                    lowest = last_retraction if many else floor
                when = max(stated.get(v, VALID_OPEN), lowest)
                if began is None or when < began:
                    asserts.append((e, a, v, True, when))
                    asserted.append(value)
        for (e, a), (when, values) in self.interposed.items():
            if (e, a) in self.touched:
                name = infos(a).name
                raise SchemaError(f"{name}: an interposed statement shares its transaction")
            for datom, value in self.interpose(e, infos(a), when, values):
                (asserts if datom[3] else retracts).append(datom)
                (asserted if datom[3] else retracted).append(value)
        return retracts + asserts, retracted + asserted
