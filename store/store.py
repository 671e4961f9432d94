"""FactStore: the append-only, time-travelling fact log on RocksDB.

One process writes (the daemon); each transaction is one atomic WriteBatch holding its log
record, its index keys and the store's counters. The log (keyed by tx) is the source of
truth; EAVT, AEVT, AVET and VAET are covering key orders derived from it and can be rebuilt.
Reads go through ``Db`` views pinned to a basis transaction, so a view never sees a later
write even though RocksDB iterators here are not snapshot-isolated.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import rocksdict

from store import codec
from store.codec import U32, U64, EncodedDatom
from store.db import Db
from store.intervals import (
    OPEN,
    EntityIntervals,
    Fact,
    IntervalCache,
    Neighbours,
    entity_from_eavt,
    links_from_vaet,
    spans,
)
from store.schema import XID, Attribute, SchemaError, ValueType
from store.tx import Add, Datom, EntityRef, Op, Replace, Retract, TxChanges, TxReport

_INDEX_PREFIXES = (codec.EAVT, codec.AEVT, codec.AVET, codec.VAET, codec.XIDS, codec.INSTANTS)
#: The layout version. 2 added the XIDS keyspace; a primary upgrades an older store when it
#: opens it, by rebuilding the indexes from the log (the one time opening scans).
_FORMAT = 2
#: Bound of the xid <-> entity id maps. Ids never change, so entries never go stale; the
#: bound only caps memory (the maps are dropped whole, then refill from RocksDB).
_XID_CACHE_MAX = 2_000_000
#: Index keys per write batch when rebuilding or reindexing (bounds the batch's memory).
_BATCH_KEYS = 50_000


def _options(block_cache_bytes: int) -> rocksdict.Options:
    """RocksDB tuned for this workload: many short prefix scans (one per entity read).

    The block cache is the setting that matters: with RocksDB's 8 MB default, a scan
    mostly re-reads and decompresses blocks from the OS page cache, and reading one entity
    costs several times more. Bloom filters make the point reads (log, counters) cheap.
    """
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_max_background_jobs(2)
    table = rocksdict.BlockBasedOptions()
    table.set_block_cache(rocksdict.Cache(block_cache_bytes))
    table.set_bloom_filter(10, False)
    options.set_block_based_table_factory(table)
    return options


class StoreClosed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class AttrInfo:
    """An attribute with what the hot paths need precomputed: its id and key prefixes."""

    id: int
    attribute: Attribute
    name: str
    many: bool
    is_ref: bool
    a4: bytes  # the id as it appears in keys
    aevt: bytes  # AEVT prefix of this attribute
    avet: bytes | None  # AVET prefix, or None when the attribute is not in AVET
    #: value -> encoded bytes, raising one of ``codec.ENCODE_ERRORS`` on a bad value
    raw_encode: Callable[[Any], bytes]

    @classmethod
    def of(cls, attribute: Attribute, attr_id: int) -> AttrInfo:
        a4 = U32.pack(attr_id)
        return cls(
            id=attr_id,
            attribute=attribute,
            name=attribute.name,
            many=attribute.many,
            is_ref=attribute.is_ref,
            a4=a4,
            aevt=codec.AEVT + a4,
            avet=codec.AVET + a4 if attribute.in_avet else None,
            raw_encode=codec.raw_encoder(attribute.value_type),
        )

    def encode(self, value: Any) -> bytes:
        """``value`` encoded; ``SchemaError`` if it is not of the attribute's type."""
        return codec.encode_value(self.attribute.value_type, value)


class FactStore:
    """Open with ``FactStore(path)``; write with ``transact``; read through ``db()``.

    ``sync=True`` fsyncs the WAL on every transaction; otherwise a transaction is durable
    against a process crash (it is in the WAL) and ``sync_wal()`` groups fsyncs.
    ``secondary`` opens a read-only follower of a live primary at ``path``, keeping its
    own bookkeeping in that directory; call ``catch_up()`` to see newer transactions.
    ``cache_entries`` bounds each of the two decoded-interval caches (entities and
    reverse references), in entities; ``block_cache_bytes`` bounds RocksDB's cache of
    (uncompressed) blocks, which serves the reads that miss those.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sync: bool = False,
        cache_entries: int = 1_000_000,
        block_cache_bytes: int = 256 << 20,
        secondary: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.read_only = secondary is not None
        options = self._options = _options(block_cache_bytes)
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
        self._xid_of: dict[int, str] = {}
        self._closed = False
        self._load_meta()

    # -- lifecycle ----------------------------------------------------------------------------

    def _load_meta(self) -> None:
        """Read the counters and the schema: a handful of point reads, never a scan."""
        self.last_tx = self._meta_int("last_tx")
        self.last_at = self._meta_int("last_at")
        self._next_eid = self._meta_int("next_eid") or 1
        self._infos: dict[str, AttrInfo] = {}
        self._info_by_id: dict[int, AttrInfo] = {}
        raw = self._rdb.get(codec.meta_key("schema"))
        for entry in (json.loads(raw) if raw else {}).values():
            self._register(Attribute.from_json(entry["attribute"]), int(entry["id"]))
        if XID.name not in self._infos:
            self.install([XID])
        self._xid_attr = self._infos[XID.name].id
        if self._meta_int("format") < _FORMAT:
            if self.read_only:
                raise SchemaError("the store has an older layout: open it once as a primary")
            if self.last_tx:
                self.rebuild_indexes()
            self._rdb.put(codec.meta_key("format"), U64.pack(_FORMAT))

    def _meta_int(self, name: str) -> int:
        raw = self._rdb.get(codec.meta_key(name))
        return U64.unpack(raw)[0] if raw else 0

    def _register(self, attribute: Attribute, attr_id: int) -> None:
        info = AttrInfo.of(attribute, attr_id)
        self._infos[attribute.name] = info
        self._info_by_id[attr_id] = info
        self._ref_attrs = frozenset(i.id for i in self._infos.values() if i.is_ref)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed")

    def catch_up(self) -> None:
        """Secondary only: follow the primary's newer writes."""
        self._check_open()
        self._rdb.try_catch_up_with_primary()
        self.drop_caches()
        self._load_meta()

    def drop_caches(self) -> None:
        """Forget every decoded entity and reverse reference (the next reads refill them)."""
        self._facts.clear()
        self._links.clear()

    def reopen(self) -> None:
        """Close RocksDB and open it again, after a write failed (a full disk): until then
        it refuses every write. Opening replays its log, so nothing committed is lost; it
        flushes the memory tables, so it raises ``ENOSPC`` while there is no room for them."""
        with self._write_lock:
            self._check_open()
            needed = self._rdb.property_int_value("rocksdb.cur-size-all-mem-tables") or 0
            free = shutil.disk_usage(self.path).free
            if free < 2 * needed:
                raise OSError(
                    errno.ENOSPC,
                    f"{free:,} bytes free, {needed:,} needed to reopen",
                    str(self.path),
                )
            # not waiting for background work, which retries the failed flush (1 s)
            self._rdb.cancel_all_background(False)
            with contextlib.suppress(Exception):  # it repeats the error that broke it
                self._rdb.close()
            self._rdb = rocksdict.Rdict(str(self.path), self._options)
            self.drop_caches()
            self._xids.clear()
            self._xid_of.clear()
            self._load_meta()

    def sync_wal(self) -> None:
        """fsync the write-ahead log: one call makes every earlier transaction power-safe."""
        self._check_open()
        self._rdb.flush_wal(True)

    def checkpoint(self, target: str | Path) -> None:
        """A consistent, openable copy of the store at ``target`` (hard links where possible)."""
        self._check_open()
        rocksdict.Checkpoint(self._rdb).create_checkpoint(str(target))

    def close(self) -> None:
        """Flush and close. Closing flushes the memtables, so the next open replays no WAL."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self.drop_caches()
            self._rdb.close()

    def __enter__(self) -> FactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def install(self, attributes: Iterable[Attribute]) -> None:
        """Add attributes to the schema (idempotent); an incompatible redefinition fails.

        Turning ``indexed`` on or off rewrites that attribute's AVET keys from AEVT, so a
        lookup by value sees datoms written before the change.
        """
        if self.read_only:
            raise SchemaError("a secondary store cannot change the schema")
        with self._write_lock:
            self._check_open()
            changed = False
            reindex: list[AttrInfo] = []
            next_id = max(self._info_by_id, default=0) + 1
            for attribute in attributes:
                known = self._infos.get(attribute.name)
                if known is None:
                    self._register(attribute, next_id)
                    next_id += 1
                    changed = True
                    continue
                if not known.attribute.compatible_with(attribute):
                    stored = known.attribute
                    raise SchemaError(
                        f"attribute {attribute.name!r} is stored as {stored.value_type.value}/"
                        f"{stored.cardinality.value}/unique={stored.unique}; cannot redefine "
                        f"it as {attribute.value_type.value}/{attribute.cardinality.value}/"
                        f"unique={attribute.unique}"
                    )
                if known.attribute == attribute:
                    continue
                self._register(attribute, known.id)
                if known.attribute.in_avet != attribute.in_avet:
                    reindex.append(self._infos[attribute.name])
                changed = True
            for info in reindex:
                self._reindex_avet(info)
            if changed:
                doc = {
                    name: {"id": info.id, "attribute": info.attribute.to_json()}
                    for name, info in self._infos.items()
                }
                self._rdb.put(codec.meta_key("schema"), json.dumps(doc, sort_keys=True).encode())

    def _reindex_avet(self, info: AttrInfo) -> None:
        """Make the attribute's AVET keys match its ``indexed`` flag (from its AEVT keys)."""
        prefix = codec.AVET + info.a4
        self._rdb.delete_range(prefix, codec.upper_bound(prefix))
        if info.avet is None:
            return
        batch = rocksdict.WriteBatch(raw_mode=True)
        head = len(info.aevt)
        for key in self.index_keys(info.aevt):
            e8, v = key[head : head + 8], key[head + 8 : -9]
            batch.put(info.avet + v + e8 + key[-9:], b"")
            if len(batch) >= _BATCH_KEYS:
                self._rdb.write(batch, self._write_options)
                batch = rocksdict.WriteBatch(raw_mode=True)
        self._rdb.write(batch, self._write_options)

    def attribute(self, name: str) -> Attribute:
        return self.info(name).attribute

    def info(self, name: str) -> AttrInfo:
        try:
            return self._infos[name]
        except KeyError:
            raise SchemaError(f"unknown attribute {name!r}") from None

    def attr_id(self, name: str) -> int:
        return self.info(name).id

    def attr_name(self, attr_id: int) -> str:
        return self._info_by_id[attr_id].name

    def attribute_by_id(self, attr_id: int) -> Attribute:
        return self._info_by_id[attr_id].attribute

    def info_by_id(self, attr_id: int) -> AttrInfo:
        return self._info_by_id[attr_id]

    @property
    def attributes(self) -> list[Attribute]:
        return [info.attribute for info in self._infos.values()]

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
        self._check_open()
        at = codec.micros(moment)
        if at < 0:
            return 0  # before the epoch: before any transaction
        it = self._rdb.iter()
        it.seek_for_prev(codec.instant_key(at, codec.MAX_U64))
        if not it.valid():
            return 0
        key = it.key()
        if not key.startswith(codec.INSTANTS):
            return 0
        return int(U64.unpack_from(key, 9)[0])

    def instant_of(self, tx: int) -> datetime | None:
        self._check_open()
        record = self._rdb.get(codec.log_key(tx))
        if record is None:
            return None
        return codec.from_micros(codec.decode_log_head(record)[0])

    # -- raw reads used by views -----------------------------------------------------------

    def _records(self, start_tx: int, end_tx: int | None) -> Iterator[tuple[int, bytes]]:
        """(tx, log record) for ``start_tx <= tx < end_tx``, in order."""
        self._check_open()
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(
            codec.log_key(max(end_tx, 0)) if end_tx is not None else codec.upper_bound(codec.LOG)
        )
        start = codec.log_key(max(start_tx, 0))
        # ``options`` lives in this frame as long as the iterator: it borrows the bound.
        items = cast(
            Iterator[tuple[bytes, bytes]], self._rdb.items(from_key=start, read_opt=options)
        )
        for key, record in items:
            yield int(U64.unpack_from(key, 1)[0]), record

    def scan(self, prefix: bytes) -> list[bytes]:
        """Every key starting with ``prefix``, in order."""
        self._check_open()
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        # ``options`` must outlive the iterator: the iterator borrows its upper bound.
        return cast(list[bytes], list(self._rdb.keys(from_key=prefix, read_opt=options)))

    def entity_of(self, e: int) -> EntityIntervals:
        """Everything ever stated about ``e``, decoded (cached until a write touches it)."""
        cached: EntityIntervals | None = self._facts.get(e)
        if cached is None:
            generation = self._facts.generation()
            keys = self.scan(codec.EAVT + U64.pack(e))
            cached = entity_from_eavt(keys, self._xid_attr, self._ref_attrs)
            self._facts.put(e, cached, generation)
            if cached.xid is not None:
                self._remember_xid(cached.xid, e)
        return cached

    def facts_of(self, e: int) -> list[Fact]:
        """Every version of every value of ``e`` (see ``Db.facts`` for one view's)."""
        return [Fact._make(f) for f in self.entity_of(e).facts]

    def created_tx(self, e: int) -> int:
        """The transaction that created ``e``, 0 if none did. Existence checks ask this of
        many entities they never read further (a write's referenced targets), so it reads
        the one xid key rather than decoding the whole entity into the cache."""
        cached: EntityIntervals | None = self._facts.get(e)
        if cached is not None:
            return cached.created
        keys = self.scan(codec.EAVT + U64.pack(e) + U32.pack(self._xid_attr))
        return codec.tx_of(keys[0]) if keys else 0  # asserted once, never retracted

    def links_to(self, e: int) -> dict[int, Neighbours]:
        """The references pointing at ``e``, by attribute (from VAET; cached like entities)."""
        cached: dict[int, Neighbours] | None = self._links.get(e)
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
        self._check_open()
        found = self._rdb.get(codec.XIDS + codec.encode_value(ValueType.STRING, xid))
        if found is None:
            return None
        eid = int(U64.unpack(cast(bytes, found))[0])
        self._remember_xid(xid, eid)
        return eid

    def xid_of(self, e: int) -> str | None:
        """The external id of entity ``e`` (``None`` if no such entity was ever created)."""
        xid = self._xid_of.get(e)
        if xid is None:
            cached: EntityIntervals | None = self._facts.get(e)
            if cached is not None:
                return cached.xid
            # Only the xid datom: one short scan instead of decoding the whole entity.
            keys = self.scan(codec.EAVT + U64.pack(e) + U32.pack(self._xid_attr))
            if not keys:
                return None
            xid = str(codec.decode_value(keys[0][13:-9]))
            self._remember_xid(xid, e)
        return xid

    def _remember_xid(self, xid: str, e: int) -> None:
        if len(self._xids) >= _XID_CACHE_MAX:
            self._xids.clear()
            self._xid_of.clear()
        self._xids[xid] = e
        self._xid_of[e] = xid

    # -- writes -------------------------------------------------------------------------------

    def transact(self, ops: Sequence[Op], meta: dict[str, Any] | None = None) -> TxReport | None:
        """Apply ``ops`` atomically. Returns ``None`` when they change nothing (no write).

        ``meta`` (JSON-serialisable) is stored with the transaction and comes back in
        ``log``, ``transaction`` and ``history``.
        """
        if self.read_only:
            raise SchemaError("a secondary store is read-only")
        meta = dict(meta or {})
        try:
            meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"transaction meta must be JSON-serialisable: {exc}") from exc
        with self._write_lock:
            self._check_open()
            return _Transaction(self).run(ops, meta, meta_bytes)

    def _commit(
        self, datoms: list[EncodedDatom], meta_bytes: bytes, next_eid: int, created: dict[str, int]
    ) -> tuple[int, int]:
        tx = self.last_tx + 1
        # Instants never go backwards, whatever the clock does, so tx_at stays monotonic.
        at = max(int(time.time() * 1_000_000), self.last_at + 1)
        batch = rocksdict.WriteBatch(raw_mode=True)
        targets = self._write_index_keys(batch, tx, at, datoms)
        batch.put(codec.log_key(tx), codec.encode_log(at, meta_bytes, datoms))
        batch.put(codec.meta_key("last_tx"), U64.pack(tx))
        batch.put(codec.meta_key("last_at"), U64.pack(at))
        batch.put(codec.meta_key("next_eid"), U64.pack(next_eid))
        self._rdb.write(batch, self._write_options)
        self._facts.invalidate({e for e, _, _, _ in datoms})
        self._links.invalidate(targets)
        for xid, e in created.items():
            self._remember_xid(xid, e)
        self.last_tx, self.last_at, self._next_eid = tx, at, next_eid
        return tx, at

    def _write_index_keys(
        self, batch: rocksdict.WriteBatch, tx: int, at: int, datoms: Iterable[EncodedDatom]
    ) -> set[int]:
        """Put every index key of ``datoms``; return the targets of the refs among them.

        The keys go into the batch sorted: RocksDB inserts sorted runs into its memtable
        several times faster than scattered keys, which more than pays for the sort.
        """
        infos = self._info_by_id
        tails = (codec.tx_tail(tx, False), codec.tx_tail(tx, True))
        pack = U64.pack
        targets: set[int] = set()
        keys = [codec.instant_key(at, tx)]
        add = keys.append
        xid_attr = self._xid_attr
        last_e, e8 = -1, b""
        for e, a, v, added in datoms:
            info = infos[a]
            if e != last_e:
                last_e, e8 = e, pack(e)
            if a == xid_attr:  # asserted once, at creation, never retracted
                batch.put(codec.XIDS + v, e8)
            tail = tails[added]
            add(b"".join((codec.EAVT, e8, info.a4, v, tail)))
            add(b"".join((info.aevt, e8, v, tail)))
            if info.avet is not None:
                add(b"".join((info.avet, v, e8, tail)))
            if info.is_ref:
                target8 = v[1:]
                add(b"".join((codec.VAET, target8, info.a4, e8, tail)))
                targets.add(int.from_bytes(target8, "big"))
        keys.sort()
        put = batch.put
        for key in keys:
            put(key, b"")
        return targets

    # -- the log ------------------------------------------------------------------------------

    def log(self, start_tx: int = 1, end_tx: int | None = None) -> Iterator[TxReport]:
        """Transactions ``start_tx <= tx < end_tx`` in order, decoded."""
        for tx, record in self._records(start_tx, end_tx):
            yield self._report(tx, record)

    def transaction(self, tx: int) -> TxReport | None:
        self._check_open()
        if tx < 1:
            return None
        record = self._rdb.get(codec.log_key(tx))
        return None if record is None else self._report(tx, record)

    def _report(self, tx: int, record: bytes) -> TxReport:
        at, meta = codec.decode_log_head(record)
        infos = self._info_by_id
        datoms = [
            Datom._make((e, infos[a].name, codec.decode_value(v), tx, added))
            for e, a, v, added in codec.decode_log_datoms(record)
        ]
        return TxReport(tx, codec.from_micros(at), meta, datoms, {})

    def history(self, e: int) -> list[TxChanges]:
        """Every transaction that touched entity ``e``, oldest first, with its datoms."""
        by_tx: dict[int, list[Datom]] = {}
        infos = self._info_by_id
        for key in self.scan(codec.EAVT + U64.pack(e)):
            name = infos[int(U32.unpack_from(key, 9)[0])].name
            tx = codec.tx_of(key)
            datom = Datom(e, name, codec.decode_value(key[13:-9]), tx, key[-1] == 1)
            by_tx.setdefault(tx, []).append(datom)
        changes: list[TxChanges] = []
        for tx in sorted(by_tx):
            at, meta = codec.decode_log_head(cast(bytes, self._rdb[codec.log_key(tx)]))
            datoms = sorted(by_tx[tx], key=lambda d: (d.added, d.a))
            changes.append(TxChanges(tx, codec.from_micros(at), meta, datoms))
        return changes

    def rebuild_indexes(self) -> int:
        """Drop every index and rewrite it from the log. Returns the transactions replayed."""
        with self._write_lock:
            self._check_open()
            for prefix in _INDEX_PREFIXES:
                self._rdb.delete_range(prefix, codec.upper_bound(prefix))
            count = 0
            batch = rocksdict.WriteBatch(raw_mode=True)
            for tx, record in self._records(0, None):
                at, _ = codec.decode_log_head(record)
                self._write_index_keys(batch, tx, at, codec.decode_log_datoms(record))
                count += 1
                if len(batch) >= _BATCH_KEYS:
                    self._rdb.write(batch, self._write_options)
                    batch = rocksdict.WriteBatch(raw_mode=True)
            self._rdb.write(batch, self._write_options)
            self.drop_caches()
            return count

    def index_keys(self, prefix: bytes) -> Iterator[bytes]:
        """Every key of one keyspace in order (for checks and tools, not for queries)."""
        self._check_open()
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        # ``options`` lives in this frame as long as the iterator: it borrows the bound.
        yield from cast(Iterator[bytes], self._rdb.keys(from_key=prefix, read_opt=options))


_NOTHING: dict[bytes, Any] = {}  # the shared, never mutated, empty "before" of new entities


class _Transaction:
    """Resolves ops against the current state and nets them into datoms.

    For each (entity, attribute) an op touches, ``touched`` holds the values true before
    the transaction and the values as the ops apply, both as {encoded: decoded}; the datoms
    are the difference, so ops that restate what is true write nothing. ``apply`` is the
    hot path of bulk writes, hence its inlined lookups.
    """

    def __init__(self, store: FactStore) -> None:
        self.store = store
        self.infos = store._infos
        self.xid_info = store._infos[XID.name]
        #: ids at or above this were allocated by this transaction: they have no past
        self.first_new_eid = store._next_eid
        self.next_eid = store._next_eid
        self.created: dict[str, int] = {}
        self.touched: dict[tuple[int, int], tuple[dict[bytes, Any], dict[bytes, Any]]] = {}

    def run(self, ops: Sequence[Op], meta: dict[str, Any], meta_bytes: bytes) -> TxReport | None:
        self.apply_all(ops)
        datoms, values = self.net()
        if not datoms:
            return None
        tx, at = self.store._commit(datoms, meta_bytes, self.next_eid, self.created)
        names = {a: info.name for a, info in self.store._info_by_id.items()}
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
        return self.created.get(ref) or self.store._xids.get(ref)

    def resolve(self, ref: EntityRef, create: bool) -> int | None:
        """The entity id of ``ref``; a new entity for an unknown xid when ``create``."""
        if isinstance(ref, str):
            eid = self.created.get(ref)
            if eid is not None:
                return eid
            eid = self.store.lookup_xid(ref)
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
                cached: EntityIntervals | None = self.store._facts.get(e)
                if cached is not None:
                    a, encode = info.id, info.raw_encode
                    for fa, v, _, end in cached.facts:
                        if fa == a and end == OPEN:
                            before[encode(v)] = v  # stored values re-encode to their bytes
                else:
                    # Only this attribute's keys: the commit drops the entity from the cache
                    # anyway, so decoding all of it here would be wasted.
                    prefix = codec.EAVT + U64.pack(e) + info.a4
                    for v, _, end in spans(self.store.scan(prefix), len(prefix)):
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
