"""One published transaction, as JSON (docs/replication.md; its JSON Schema is
docs/replication.schema.json).

Self-contained, so that a consumer needs nothing but the topic: the transaction's number
and instant (system time), its cause, each datom ``[entity, attribute, value, added,
valid]`` with its valid time, the definitions of the attributes it names (a replica learns
new ones from the log), and the external id of every entity it mentions. Times are ISO
8601 with microseconds, in UTC: lossless for the store, readable for anyone else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from store import Attribute, Datom, TxReport, ValueType

FORMAT = 1


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def encode(
    report: TxReport,
    attribute: Callable[[str], Attribute],
    xid_of: Callable[[int], str | None],
) -> bytes:
    """``report`` as a message; ``attribute`` and ``xid_of`` are the store's look-ups."""
    named = {d.a: attribute(d.a) for d in report.datoms}
    mentioned = {d.e for d in report.datoms}
    mentioned |= {d.v for d in report.datoms if named[d.a].value_type is ValueType.REF}
    body = {
        "format": FORMAT,
        "tx": report.tx,
        "at": _stamp(report.at),
        "meta": report.meta,
        "attributes": {name: a.to_json() for name, a in sorted(named.items())},
        "entities": {str(e): xid_of(e) for e in sorted(mentioned)},
        "datoms": [
            [d.e, d.a, _plain(named[d.a].value_type, d.v), d.added, _stamp(d.valid)]
            for d in report.datoms
        ],
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _plain(value_type: ValueType, value: Any) -> Any:
    return _stamp(value) if value_type is ValueType.INSTANT else value


def decode(raw: bytes) -> tuple[TxReport, list[Attribute]]:
    """A message back into the transaction it carries and the attributes it defines;
    ``ValueError`` for one this mds cannot read."""
    body = json.loads(raw)
    if body.get("format") != FORMAT:
        raise ValueError(f"replication message format {body.get('format')!r}, not {FORMAT}")
    attributes = {name: Attribute.from_json(a) for name, a in body["attributes"].items()}
    instants = {name for name, a in attributes.items() if a.value_type is ValueType.INSTANT}
    tx = int(body["tx"])
    moments: dict[str, datetime] = {}  # most datoms of a transaction share a valid time
    datoms = []
    for e, a, v, added, valid in body["datoms"]:
        moment = moments.get(valid)
        if moment is None:
            moment = moments[valid] = _moment(valid)
        value = _moment(v) if a in instants else v
        datoms.append(Datom(int(e), a, value, tx, bool(added), moment))
    return TxReport(tx, _moment(body["at"]), body["meta"], datoms, {}), list(attributes.values())
