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
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import rocksdict

from store import codec
from store.attrinfo import AttrInfo
from store.codec import U32, U64, EncodedDatom
from store.db import Db
from store.indexing import put_index_keys
from store.intervals import (
    EntityIntervals,
    Fact,
    IntervalCache,
    Neighbours,
    entity_from_eavt,
    links_from_vaet,
)
from store.reading import Reads
from store.schema import XID, Attribute, SchemaError, ValueType
from store.transaction import Transaction
from store.tx import Datom, Op, TxChanges, TxReport

_INDEX_PREFIXES = (codec.EAVT, codec.AEVT, codec.AVET, codec.VAET, codec.XIDS, codec.INSTANTS)
#: The layout version. 2 added the XIDS keyspace, 3 the valid time of each index key; a
#: primary upgrades an older store when it opens it, by rebuilding the indexes from the log
#: (the one time opening scans; a record written before 3 was valid from its instant).
_FORMAT = 3
#: A follower that catches up over more transactions than this forgets its caches whole
#: rather than reading every record to learn what they touched.
_CATCH_UP_FORGETS_ALL = 1_000
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


class ReplayGap(RuntimeError):
    """A replayed transaction does not follow this store's last one."""


class StoreClosed(RuntimeError):
    pass


class FactStore:
    """Open with ``FactStore(path)``; write with ``transact``; read through ``db()``.

    ``sync=True`` fsyncs the WAL on every transaction; otherwise a transaction is durable
    against a process crash (it is in the WAL) and ``sync_wal()`` groups fsyncs.
    ``secondary`` opens a read-only follower of a live primary at ``path``, keeping its
    own bookkeeping in that directory; call ``catch_up()`` to see newer transactions.
    ``cache_entries`` bounds each of the two decoded-interval caches (entities and
    reverse references), in entities; ``block_cache_bytes`` bounds RocksDB's cache of
    (uncompressed) blocks, which serves the reads that miss those. ``xid_entries`` bounds
    the maps between external and internal ids: ids never change, so entries never go
    stale; the bound only caps memory (the maps are dropped whole, then refill from RocksDB).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sync: bool = False,
        cache_entries: int = 1_000_000,
        block_cache_bytes: int = 256 << 20,
        xid_entries: int = 2_000_000,
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
        #: decoded entities and reverse references by id: views look here first, only the
        #: store fills them (a read that misses) and empties them (a write that touches them)
        self.entity_cache = IntervalCache(cache_entries)
        self.links_cache = IntervalCache(cache_entries)
        self._xid_max = xid_entries
        self._xids: dict[str, int] = {}
        self._xid_of: dict[int, str] = {}
        self._closed = False
        self._load_meta()

    # -- lifecycle ----------------------------------------------------------------------------

    def _load_meta(self) -> None:
        """Read the counters and the schema: a handful of point reads, never a scan."""
        self.last_tx = self._meta_int("last_tx")
        self.last_at = self._meta_int("last_at")
        raw_earliest = self._rdb.get(codec.meta_key("earliest_valid"))
        #: the earliest valid time of any datom (microseconds), None in an empty store
        self.earliest_valid_micros: int | None = (
            codec.valid_of(raw_earliest) if raw_earliest else None
        )
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
        """Secondary only: follow the primary's newer writes.

        Only what they touched leaves the caches (read from their log records): a follower
        serving reads while the primary ingests catches up before nearly every read, and
        emptying its caches each time made every read a first touch."""
        self._check_open()
        before = self.last_tx
        self._rdb.try_catch_up_with_primary()
        self._load_meta()
        if self.last_tx - before > _CATCH_UP_FORGETS_ALL:
            self.drop_caches()
            return
        entities: set[int] = set()
        targets: set[int] = set()
        refs = self._ref_attrs
        for _, record in self._records(before + 1, self.last_tx + 1):
            for e, a, v, _, _ in codec.decode_log_datoms(record):
                entities.add(e)
                if a in refs:
                    targets.add(int.from_bytes(v[1:], "big"))
        self.entity_cache.invalidate(entities)
        self.links_cache.invalidate(targets)

    def drop_caches(self) -> None:
        """Forget every decoded entity and reverse reference (the next reads refill them)."""
        self.entity_cache.clear()
        self.links_cache.clear()

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
        for key, valid in self.index_items(info.aevt):
            e8, v = key[head : head + 8], key[head + 8 : -9]
            batch.put(info.avet + v + e8 + key[-9:], valid)
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
        """The database as recorded by transaction ``point`` (system time)."""
        return self.db().as_of(point)

    def valid_at(self, moment: datetime | None) -> Db:
        """The database as it was true at ``moment`` (valid time), as known now."""
        return self.db().valid_at(moment)

    def earliest_valid(self) -> datetime | None:
        """How far back the graph reaches: the earliest valid time of any fact."""
        earliest = self.earliest_valid_micros
        return None if earliest is None else codec.from_micros(earliest)

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

    def scan_items(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in order: index keys with
        their valid times."""
        self._check_open()
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        # ``options`` must outlive the iterator: the iterator borrows its upper bound.
        items = self._rdb.items(from_key=prefix, read_opt=options)
        return cast(list[tuple[bytes, bytes]], list(items))

    def entity_of(self, e: int) -> EntityIntervals:
        """Everything ever stated about ``e``, decoded (cached until a write touches it)."""
        cached: EntityIntervals | None = self.entity_cache.get(e)
        if cached is None:
            generation = self.entity_cache.generation()
            cached = self._decode_entity(e, self.scan_items(codec.EAVT + U64.pack(e)))
            self.entity_cache.put(e, cached, generation)
        return cached

    def _decode_entity(
        self, e: int, items: list[tuple[bytes, bytes]], lazy: bool = False
    ) -> EntityIntervals:
        decoded = entity_from_eavt(items, self._xid_attr, self._ref_attrs, lazy=lazy)
        if decoded.xid is not None:
            self._remember_xid(decoded.xid, e)
        return decoded

    def reading(self) -> Reads:
        """``entity_of`` and ``links_to`` for one answer, sharing one RocksDB iterator
        (see ``store.reading``): drop it with the answer."""
        self._check_open()
        decode = partial(self._decode_entity, lazy=True)  # an answer's entities: a few attributes
        return Reads(self._rdb.iter, self.entity_cache, self.links_cache, decode)

    def facts_of(self, e: int) -> list[Fact]:
        """Every version of every value of ``e`` (see ``Db.facts`` for one view's)."""
        return [Fact._make(f) for f in self.entity_of(e).facts]

    def created_tx(self, e: int) -> int:
        """The transaction that created ``e``, 0 if none did. Existence checks ask this of
        many entities they never read further (a write's referenced targets), so it reads
        the one xid key rather than decoding the whole entity into the cache."""
        cached: EntityIntervals | None = self.entity_cache.get(e)
        if cached is not None:
            return cached.created
        keys = self.scan(codec.EAVT + U64.pack(e) + U32.pack(self._xid_attr))
        # never retracted; asserted again when its valid start moves back (newest first)
        return codec.tx_of(keys[-1]) if keys else 0

    def links_to(self, e: int) -> dict[int, Neighbours]:
        """The references pointing at ``e``, by attribute (from VAET; cached like entities)."""
        cached: dict[int, Neighbours] | None = self.links_cache.get(e)
        if cached is None:
            generation = self.links_cache.generation()
            cached = links_from_vaet(self.scan_items(codec.VAET + U64.pack(e)))
            self.links_cache.put(e, cached, generation)
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
            cached: EntityIntervals | None = self.entity_cache.get(e)
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
        if len(self._xids) >= self._xid_max:
            self._xids.clear()
            self._xid_of.clear()
        self._xids[xid] = e
        self._xid_of[e] = xid

    # -- writes -------------------------------------------------------------------------------

    def transact(
        self,
        ops: Sequence[Op],
        meta: dict[str, Any] | None = None,
        *,
        valid: datetime | None = None,
    ) -> TxReport | None:
        """Apply ``ops`` atomically. Returns ``None`` when they change nothing (no write).

        ``meta`` (JSON-serialisable) is stored with the transaction and comes back in
        ``log``, ``transaction`` and ``history``. ``valid`` is the valid time of the ops
        that name none; by default the transaction's own instant (when mds saw it).
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
            # Instants never go backwards, whatever the clock does, so tx_at stays monotonic.
            at = max(int(time.time() * 1_000_000), self.last_at + 1)
            default = at if valid is None else codec.micros(valid)
            transaction = Transaction(self, self._infos, self._next_eid, self._xids, default)
            return transaction.run(ops, meta, partial(self._commit, meta_bytes, at), at)

    def replay(self, report: TxReport, attributes: Sequence[Attribute] = ()) -> bool:
        """Write ``report``, a transaction of another store's log, as this store's next one:
        its entity ids, instant, meta and valid times kept, so this store answers every
        read, as of any moment on both axes, as that one did (a replica following its
        primary). ``attributes`` define those it names that this store does not know yet.

        False for a transaction this store has already (a redelivery changes nothing);
        ``ReplayGap`` when one before it is missing."""
        if self.read_only:
            raise SchemaError("a secondary store is read-only")
        if report.tx <= self.last_tx:
            return False
        if report.tx != self.last_tx + 1:
            raise ReplayGap(f"transaction {report.tx} follows {report.tx - 1}, but this store "
                            f"ends at {self.last_tx}")  # fmt: skip
        unknown = [a for a in attributes if a.name not in self._infos]
        if unknown:
            self.install(unknown)
        meta_bytes = json.dumps(report.meta, sort_keys=True, separators=(",", ":")).encode()
        with self._write_lock:
            self._check_open()
            next_eid, created, datoms = self._next_eid, {}, []
            valid_micros: dict[datetime, int] = {}  # most datoms share a valid time
            for d in report.datoms:
                info = self._infos.get(d.a)
                if info is None:
                    raise SchemaError(f"transaction {report.tx} names unknown attribute {d.a!r}")
                encoded = codec.encode_value(info.attribute.value_type, d.v)
                valid = valid_micros.get(d.valid)
                if valid is None:
                    valid = valid_micros[d.valid] = codec.micros(d.valid)
                datoms.append((d.e, info.id, encoded, d.added, valid))
                next_eid = max(next_eid, d.e + 1)
                if d.a == XID.name and d.added:
                    created[str(d.v)] = d.e
            self._commit(meta_bytes, codec.micros(report.at), datoms, next_eid, created)
        return True

    def _commit(
        self,
        meta_bytes: bytes,
        at: int,
        datoms: list[EncodedDatom],
        next_eid: int,
        created: dict[str, int],
    ) -> int:
        tx = self.last_tx + 1
        batch = rocksdict.WriteBatch(raw_mode=True)
        targets = put_index_keys(batch, self._info_by_id, self._xid_attr, tx, at, datoms)
        batch.put(codec.log_key(tx), codec.encode_log(at, meta_bytes, datoms))
        batch.put(codec.meta_key("last_tx"), U64.pack(tx))
        batch.put(codec.meta_key("last_at"), U64.pack(at))
        batch.put(codec.meta_key("next_eid"), U64.pack(next_eid))
        earliest = min(valid for _, _, _, _, valid in datoms)
        if self.earliest_valid_micros is None or earliest < self.earliest_valid_micros:
            batch.put(codec.meta_key("earliest_valid"), codec.valid_bytes(earliest))
        else:
            earliest = self.earliest_valid_micros
        self._rdb.write(batch, self._write_options)
        self.entity_cache.invalidate({datom[0] for datom in datoms})
        self.links_cache.invalidate(targets)
        for xid, e in created.items():
            self._remember_xid(xid, e)
        self.last_tx, self.last_at, self._next_eid = tx, at, next_eid
        self.earliest_valid_micros = earliest
        return tx

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
        moments: dict[int, datetime] = {}
        datoms = []
        for e, a, v, added, valid in codec.decode_log_datoms(record):
            moment = moments.get(valid)
            if moment is None:
                moment = moments[valid] = codec.from_micros(valid)
            datoms.append(Datom(e, infos[a].name, codec.decode_value(v), tx, added, moment))
        return TxReport(tx, codec.from_micros(at), meta, datoms, {})

    def history(self, e: int) -> list[TxChanges]:
        """Every transaction that touched entity ``e``, oldest first, with its datoms."""
        by_tx: dict[int, list[Datom]] = {}
        infos = self._info_by_id
        for key, valid in self.scan_items(codec.EAVT + U64.pack(e)):
            name = infos[int(U32.unpack_from(key, 9)[0])].name
            tx = codec.tx_of(key)
            moment = codec.from_micros(codec.valid_of(valid))
            datom = Datom(e, name, codec.decode_value(key[13:-9]), tx, key[-1] == 1, moment)
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
            earliest: int | None = None
            batch = rocksdict.WriteBatch(raw_mode=True)
            for tx, record in self._records(0, None):
                at, _ = codec.decode_log_head(record)
                datoms = codec.decode_log_datoms(record)
                put_index_keys(batch, self._info_by_id, self._xid_attr, tx, at, datoms)
                lowest = min((d[4] for d in datoms), default=None)
                if lowest is not None and (earliest is None or lowest < earliest):
                    earliest = lowest
                count += 1
                if len(batch) >= _BATCH_KEYS:
                    self._rdb.write(batch, self._write_options)
                    batch = rocksdict.WriteBatch(raw_mode=True)
            if earliest is not None:
                batch.put(codec.meta_key("earliest_valid"), codec.valid_bytes(earliest))
            self._rdb.write(batch, self._write_options)
            self.earliest_valid_micros = earliest
            self.drop_caches()
            return count

    def index_items(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, valid time) of one keyspace in order, streamed (for rewrites)."""
        self._check_open()
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        # ``options`` lives in this frame as long as the iterator: it borrows the bound.
        items = self._rdb.items(from_key=prefix, read_opt=options)
        yield from cast(Iterator[tuple[bytes, bytes]], items)

    def index_keys(self, prefix: bytes) -> Iterator[bytes]:
        """Every key of one keyspace in order (for checks and tools, not for queries)."""
        self._check_open()
        options = rocksdict.ReadOptions()
        options.set_iterate_upper_bound(codec.upper_bound(prefix))
        # ``options`` lives in this frame as long as the iterator: it borrows the bound.
        yield from cast(Iterator[bytes], self._rdb.keys(from_key=prefix, read_opt=options))
