"""How a transaction's datoms become index keys: the covering orders derived from the log.

Each datom is one key in EAVT and AEVT, one in AVET when its attribute is indexed, one in
VAET when it is a reference, each holding the datom's valid time as its value; an xid's
creation adds the XIDS key, a transaction its INSTANTS key. Both a commit and a rebuild
from the log write keys through here, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import rocksdict

from store import codec
from store.attrinfo import AttrInfo
from store.codec import U64, EncodedDatom

__all__ = ["put_index_keys"]


def put_index_keys(
    batch: rocksdict.WriteBatch,
    infos: Mapping[int, AttrInfo],
    xid_attr: int,
    tx: int,
    at: int,
    datoms: Iterable[EncodedDatom],
) -> set[int]:
    """Put every index key of ``datoms``; return the targets of the refs among them.

    ``infos`` are the attributes by id, ``xid_attr`` the id of ``db/xid``. The keys go into
    the batch sorted: RocksDB inserts sorted runs into its memtable several times faster
    than scattered keys, which more than pays for the sort.
    """
    tails = (codec.tx_tail(tx, False), codec.tx_tail(tx, True))
    pack = U64.pack
    targets: set[int] = set()
    keys = [(codec.instant_key(at, tx), b"")]
    add = keys.append
    last_e, e8 = -1, b""
    valids: dict[int, bytes] = {}  # a transaction's datoms share a few valid times
    for e, a, v, added, valid in datoms:
        info = infos[a]
        if e != last_e:
            last_e, e8 = e, pack(e)
        if a == xid_attr:  # asserted at creation (again when its start moves back)
            batch.put(codec.XIDS + v, e8)
        tail = tails[added]
        when = valids.get(valid)
        if when is None:
            when = valids[valid] = codec.valid_bytes(valid)
        add((b"".join((codec.EAVT, e8, info.a4, v, tail)), when))
        add((b"".join((info.aevt, e8, v, tail)), when))
        if info.avet is not None:
            add((b"".join((info.avet, v, e8, tail)), when))
        if info.is_ref:
            target8 = v[1:]
            add((b"".join((codec.VAET, target8, info.a4, e8, tail)), when))
            targets.add(int.from_bytes(target8, "big"))
    keys.sort()
    put = batch.put
    for key, when in keys:
        put(key, when)
    return targets
