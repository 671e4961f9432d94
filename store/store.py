"""FactStore: the append-only, time-travelling fact log on RocksDB.

One process writes (the daemon); each transaction is one atomic WriteBatch holding its log
record, its index keys and the store's counters. The log (keyed by tx) is the source of
truth; EAVT, AEVT, AVET and VAET are covering key orders derived from it and can be rebuilt.
Reads go through ``Db`` views pinned to a basis transaction, so a view never sees a later
write even though RocksDB iterators here are not snapshot-isolated.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import rocksdict

from store import codec
from store.codec import U32, U64, EncodedDatom
from store.db import Db
from store.intervals import Fact, IntervalCache, Link, facts_from_eavt, links_from_vaet
from store.schema import XID, Attribute, SchemaError, ValueType
from store.tx import Add, Datom, EntityRef, Op, Replace, Retract, TxChanges, TxReport

_INDEX_PREFIXES = (codec.EAVT, codec.AEVT, codec.AVET, codec.VAET, codec.INSTANTS)


class StoreClosed(RuntimeError):
    pass


class FactStore:
    """Open with ``FactStore(path)``; write with ``transact``; read through ``db()``.

    ``sync=True`` fsyncs the WAL on every transaction; otherwise a transaction is durable
    against a process crash (it is in the WAL) and ``sync_wal()`` groups fsyncs.
    ``secondary`` opens a read-only follower of a live primary at ``path``, keeping its
    own bookkeeping in that directory; call ``catch_up()`` to see newer transactions.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sync: bool = False,
        cache_entries: int = 1_000_000,
        secondary: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.read_only = secondary is not None
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_background_jobs(2)
        if secondary is not None:
            access = rocksdict.AccessType.secondary(str(secondary))
            self._rdb = rocksdict.Rdict(str(self.path), options, access_type=access)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._rdb = rocksdict.Rdict(str(self.path), options)
        self._write_options = rocksdict.WriteOptions()
        self._write_options.sync = sync
        self._write_lock = threading.Lock()
        self._facts = IntervalCache(cache_entries)
        self._links = IntervalCache(cache_entries)
        self._xids: dict[str, int] = {}
        self._closed = False
        self._load_meta()

    # -- lifecycle ----------------------------------------------------------------------------

    def _load_meta(self) -> None:
        self.last_tx = self._meta_int("last_tx")
        self.last_at = self._meta_int("last_at")
        self._next_eid = self._meta_int("next_eid") or 1
        self._attrs: dict[str, Attribute] = {}
        self._attr_ids: dict[str, int] = {}
        self._attr_by_id: dict[int, Attribute] = {}
        raw = self._rdb.get(codec.meta_key("schema"))
        for entry in (json.loads(raw) if raw else {}).values():
            attribute = Attribute.from_json(entry["attribute"])
            self._register(attribute, int(entry["id"]))
        if XID.name not in self._attrs:
            self.install([XID])

    def _meta_int(self, name: str) -> int:
        raw = self._rdb.get(codec.meta_key(name))
        return U64.unpack(raw)[0] if raw else 0

    def _register(self, attribute: Attribute, attr_id: int) -> None:
        self._attrs[attribute.name] = attribute
        self._attr_ids[attribute.name] = attr_id
        self._attr_by_id[attr_id] = attribute

    def catch_up(self) -> None:
        """Secondary only: follow the primary's newer writes."""
        self._rdb.try_catch_up_with_primary()
        self._facts.clear()
        self._links.clear()
        self._load_meta()

    def sync_wal(self) -> None:
        """fsync the write-ahead log: one call makes every earlier transaction power-safe."""
        self._rdb.flush_wal(True)

    def checkpoint(self, target: str | Path) -> None:
        """A consistent, openable copy of the store at ``target`` (hard links where possible)."""
        rocksdict.Checkpoint(self._rdb).create_checkpoint(str(target))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._rdb.close()

    def __enter__(self) -> FactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def install(self, attributes: Iterable[Attribute]) -> None:
        """Add attributes to the schema (idempotent); an incompatible redefinition fails."""
        if self.read_only:
            raise SchemaError("a secondary store cannot change the schema")
        with self._write_lock:
            changed = False
            next_id = max(self._attr_by_id, default=0) + 1
            for attribute in attributes:
                known = self._attrs.get(attribute.name)
                if known is not None:
                    if not known.compatible_with(attribute):
                        raise SchemaError(
                            f"attribute {attribute.name!r} is stored as {known.value_type.value}/"
                            f"{known.cardinality.value}/unique={known.unique}; cannot redefine "
                            f"it as {attribute.value_type.value}/{attribute.cardinality.value}/"
                            f"unique={attribute.unique}"
                        )
                    if known == attribute:
                        continue
                    self._register(attribute, self._attr_ids[attribute.name])
                else:
                    self._register(attribute, next_id)
                    next_id += 1
                changed = True
            if changed:
                doc = {
                    name: {"id": self._attr_ids[name], "attribute": a.to_json()}
                    for name, a in self._attrs.items()
                }
                self._rdb.put(codec.meta_key("schema"), json.dumps(doc, sort_keys=True).encode())

    def attribute(self, name: str) -> Attribute:
        try:
            return self._attrs[name]
        except KeyError:
            raise SchemaError(f"unknown attribute {name!r}") from None

    def attr_id(self, name: str) -> int:
        try:
            return self._attr_ids[name]
        except KeyError:
            raise SchemaError(f"unknown attribute {name!r}") from None

    def attr_name(self, attr_id: int) -> str:
        return self._attr_by_id[attr_id].name

    def attribute_by_id(self, attr_id: int) -> Attribute:
        return self._attr_by_id[attr_id]

    @property
    def attributes(self) -> list[Attribute]:
        return list(self._attrs.values())

    # -- views --------------------------------------------------------------------------------

    def db(self) -> Db:
        """The current database: a view pinned to the last committed transaction."""
        return Db(self, self.last_tx)

    def as_of(self, point: int | datetime) -> Db:
        return self.db().as_of(point)

    def since(self, tx: int) -> Db:
        return self.db().since(tx)

    def tx_at(self, moment: datetime) -> int:
        """The last transaction committed at or before ``moment`` (0 if none)."""
        bound = codec.instant_key(codec.micros(moment), codec.MAX_U64)
        it = self._rdb.iter()
        it.seek_for_prev(bound)
        if not it.valid():
            return 0
        key = it.key()
        if not key.startswith(codec.INSTANTS):
            return 0
        return int(U64.unpack_from(key, 9)[0])

    def instant_of(self, tx: int) -> datetime | None:
        record = self._rdb.get(codec.log_key(tx))
        if record is None:
            return None
        return codec.from_micros(codec.decode_log_head(record)[0])

    # -- raw reads used by views -----------------------------------------------------------

    def scan(self, prefix: bytes) -> list[bytes]:
        if self._closed:
            raise StoreClosed("the store is closed")
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        return list(self._rdb.keys(from_key=prefix, read_opt=options))

    def facts_of(self, e: int) -> list[Fact]:
        cached: list[Fact] | None = self._facts.get(e)
        if cached is None:
            generation = self._facts.generation()
            cached = facts_from_eavt(self.scan(codec.EAVT + U64.pack(e)))
            self._facts.put(e, cached, generation)
        return cached

    def links_to(self, e: int) -> list[Link]:
        cached: list[Link] | None = self._links.get(e)
        if cached is None:
            generation = self._links.generation()
            cached = links_from_vaet(self.scan(codec.VAET + U64.pack(e)))
            self._links.put(e, cached, generation)
        return cached

    def lookup_xid(self, xid: str) -> int | None:
        """The internal id of an external id, whenever it was created (ids never change)."""
        cached = self._xids.get(xid)
        if cached is not None:
            return cached
        prefix = codec.AVET + U32.pack(self._attr_ids[XID.name])
        prefix += codec.encode_value(ValueType.STRING, xid)
        keys = self.scan(prefix)
        if not keys:
            return None
        eid = int(U64.unpack_from(keys[0], len(prefix))[0])
        if len(self._xids) > 2_000_000:
            self._xids.clear()
        self._xids[xid] = eid
        return eid

    # -- writes -------------------------------------------------------------------------------

    def transact(self, ops: Sequence[Op], meta: dict[str, Any] | None = None) -> TxReport | None:
        """Apply ``ops`` atomically. Returns ``None`` when they change nothing (no write)."""
        if self.read_only:
            raise SchemaError("a secondary store is read-only")
        meta = dict(meta or {})
        with self._write_lock:
            return _Transaction(self, meta).run(ops)

    def _commit(
        self,
        datoms: list[EncodedDatom],
        meta: dict[str, Any],
        next_eid: int,
    ) -> tuple[int, int]:
        tx = self.last_tx + 1
        at = max(int(time.time() * 1_000_000), self.last_at + 1)
        batch = rocksdict.WriteBatch(raw_mode=True)
        self._write_index_keys(batch, tx, at, datoms)
        batch.put(codec.log_key(tx), codec.encode_log(at, meta, datoms))
        batch.put(codec.meta_key("last_tx"), U64.pack(tx))
        batch.put(codec.meta_key("last_at"), U64.pack(at))
        batch.put(codec.meta_key("next_eid"), U64.pack(next_eid))
        self._rdb.write(batch, self._write_options)
        self._facts.invalidate({e for e, _, _, _ in datoms})
        self._links.invalidate(
            {U64.unpack_from(v, 1)[0] for _, a, v, _ in datoms if self._attr_by_id[a].is_ref}
        )
        self.last_tx, self.last_at, self._next_eid = tx, at, next_eid
        return tx, at

    def _write_index_keys(
        self, batch: rocksdict.WriteBatch, tx: int, at: int, datoms: list[EncodedDatom]
    ) -> None:
        batch.put(codec.instant_key(at, tx), b"")
        for e, a, v, added in datoms:
            attribute = self._attr_by_id[a]
            batch.put(codec.eavt_key(e, a, v, tx, added), b"")
            batch.put(codec.aevt_key(e, a, v, tx, added), b"")
            if attribute.in_avet:
                batch.put(codec.avet_key(e, a, v, tx, added), b"")
            if attribute.is_ref:
                batch.put(codec.vaet_key(e, a, v, tx, added), b"")

    # -- the log ------------------------------------------------------------------------------

    def log(self, start_tx: int = 1, end_tx: int | None = None) -> Iterator[TxReport]:
        """Transactions ``start_tx <= tx < end_tx`` in order, decoded."""
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(
            codec.log_key(end_tx) if end_tx is not None else codec.upper_bound(codec.LOG)
        )
        for key, record in self._rdb.items(from_key=codec.log_key(start_tx), read_opt=options):
            tx = int(U64.unpack_from(key, 1)[0])
            yield self._report(tx, record)

    def transaction(self, tx: int) -> TxReport | None:
        record = self._rdb.get(codec.log_key(tx))
        return None if record is None else self._report(tx, record)

    def _report(self, tx: int, record: bytes) -> TxReport:
        at, meta = codec.decode_log_head(record)
        datoms = [
            Datom(e, self._attr_by_id[a].name, codec.decode_value(v), tx, added)
            for e, a, v, added in codec.decode_log_datoms(record)
        ]
        return TxReport(tx, codec.from_micros(at), meta, datoms, {})

    def history(self, e: int) -> list[TxChanges]:
        """Every transaction that touched entity ``e``, oldest first, with its datoms."""
        by_tx: dict[int, list[Datom]] = {}
        for key in self.scan(codec.EAVT + U64.pack(e)):
            a = int(U32.unpack_from(key, 9)[0])
            tx = codec.tx_of(key[-9:-1])
            datom = Datom(
                e, self._attr_by_id[a].name, codec.decode_value(key[13:-9]), tx, key[-1] == 1
            )
            by_tx.setdefault(tx, []).append(datom)
        changes: list[TxChanges] = []
        for tx in sorted(by_tx):
            record = self._rdb.get(codec.log_key(tx))
            at, meta = codec.decode_log_head(record)
            datoms = sorted(by_tx[tx], key=lambda d: (d.added, d.a))
            changes.append(TxChanges(tx, codec.from_micros(at), meta, datoms))
        return changes

    def rebuild_indexes(self) -> int:
        """Drop every index and rewrite it from the log. Returns the transactions replayed."""
        with self._write_lock:
            for prefix in _INDEX_PREFIXES:
                self._rdb.delete_range(prefix, codec.upper_bound(prefix))
            count = 0
            batch = rocksdict.WriteBatch(raw_mode=True)
            options = rocksdict.ReadOptions()
            options.set_iterate_upper_bound(codec.upper_bound(codec.LOG))
            for key, record in self._rdb.items(from_key=codec.LOG, read_opt=options):
                tx = int(U64.unpack_from(key, 1)[0])
                at, _ = codec.decode_log_head(record)
                self._write_index_keys(batch, tx, at, codec.decode_log_datoms(record))
                count += 1
                if len(batch) > 50_000:
                    self._rdb.write(batch, self._write_options)
                    batch = rocksdict.WriteBatch(raw_mode=True)
            self._rdb.write(batch, self._write_options)
            self._facts.clear()
            self._links.clear()
            return count

    def index_keys(self, prefix: bytes) -> Iterator[bytes]:
        """Every key of one keyspace in order (for checks and tools, not for queries)."""
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        yield from self._rdb.keys(from_key=prefix, read_opt=options)


class _Transaction:
    """Resolves ops against the current state and nets them into datoms."""

    def __init__(self, store: FactStore, meta: dict[str, Any]) -> None:
        self.store = store
        self.meta = meta
        self.next_eid = store._next_eid
        self.created: dict[str, int] = {}
        self.new_eids: set[int] = set()
        # (e, a) -> {encoded value: decoded value}: the state before and as ops apply.
        self.before: dict[tuple[int, int], dict[bytes, Any]] = {}
        self.after: dict[tuple[int, int], dict[bytes, Any]] = {}
        self.xid_attr = store.attr_id(XID.name)

    def run(self, ops: Sequence[Op]) -> TxReport | None:
        for op in ops:
            self.apply(op)
        datoms = self.net()
        if not datoms:
            return None
        tx, at = self.store._commit(datoms, self.meta, self.next_eid)
        decoded = [
            Datom(e, self.store.attr_name(a), codec.decode_value(v), tx, added)
            for e, a, v, added in datoms
        ]
        return TxReport(tx, codec.from_micros(at), self.meta, decoded, dict(self.created))

    def resolve(self, ref: EntityRef, create: bool) -> int | None:
        if isinstance(ref, int):
            return ref
        if ref in self.created:
            return self.created[ref]
        eid = self.store.lookup_xid(ref)
        if eid is None and create:
            eid = self.next_eid
            self.next_eid += 1
            self.created[ref] = eid
            self.new_eids.add(eid)
            encoded = codec.encode_value(ValueType.STRING, ref)
            self.before[(eid, self.xid_attr)] = {}
            self.after[(eid, self.xid_attr)] = {encoded: ref}
        return eid

    def state(self, e: int, a: int) -> dict[bytes, Any]:
        key = (e, a)
        current = self.after.get(key)
        if current is None:
            if e in self.new_eids:
                values: dict[bytes, Any] = {}
            else:
                values = {
                    codec.encode_value(self.store.attribute_by_id(a).value_type, f.v): f.v
                    for f in self.store.facts_of(e)
                    if f.a == a and f.end == codec.MAX_U64
                }
            self.before[key] = values
            current = self.after[key] = dict(values)
        return current

    def encode(self, attribute: Attribute, value: Any, create: bool) -> tuple[bytes, Any] | None:
        if attribute.is_ref:
            if not isinstance(value, int | str) or isinstance(value, bool):
                raise SchemaError(
                    f"{attribute.name}: a ref must be an entity id or xid, got {value!r}"
                )
            target = self.resolve(value, create)
            if target is None:
                return None
            value = target
        return codec.encode_value(attribute.value_type, value), value

    def apply(self, op: Op) -> None:
        attribute = self.store.attribute(op.attr)
        if attribute.name == XID.name:
            raise SchemaError("db/xid is set when an entity is created and never changes")
        a = self.store.attr_id(op.attr)
        e = self.resolve(op.e, create=not isinstance(op, Retract))
        if e is None:
            return
        current = self.state(e, a)
        if isinstance(op, Add):
            encoded = self.encode(attribute, op.value, create=True)
            assert encoded is not None
            if not attribute.many:
                current.clear()
            current[encoded[0]] = encoded[1]
        elif isinstance(op, Retract):
            encoded = self.encode(attribute, op.value, create=False)
            if encoded is not None:
                current.pop(encoded[0], None)
        elif isinstance(op, Replace):
            values = list(op.values)
            if not attribute.many and len(values) > 1:
                raise SchemaError(f"{attribute.name} is cardinality one; got {len(values)} values")
            current.clear()
            for value in values:
                encoded = self.encode(attribute, value, create=True)
                assert encoded is not None
                current[encoded[0]] = encoded[1]
        else:  # pragma: no cover - the Op union is closed
            raise TypeError(f"not an op: {op!r}")

    def net(self) -> list[EncodedDatom]:
        """Retractions first, then assertions, in the order the ops first touched them."""
        retracts: list[EncodedDatom] = []
        asserts: list[EncodedDatom] = []
        for (e, a), after in self.after.items():
            before = self.before[(e, a)]
            retracts.extend((e, a, v, False) for v in before if v not in after)
            asserts.extend((e, a, v, True) for v in after if v not in before)
        return retracts + asserts
