"""Answers the seed leaves as open challenges: similar models, feature suggestions, and a
metadata-quality report. Each reads one view (``Db``), so ``as_of`` works for all of them.

Similarity is Jaccard over the features models train on (through their instances): the
graph already holds it, and "shares 8 of 10 features" is an explanation a person can check.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mds.wire import JSON
from mds.wire.model import EntityType, Rel
from mds.wire.moments import iso, iso_epoch
from mdsd import facts as F
from mdsd.reads.queries import BadQuery, entity_id
from mdsd.reads.views import describe
from store import Db, SchemaError

#: neighbours whose features vote in ``suggestions``
SUGGESTION_NEIGHBOURS = 20
#: longest list a quality report returns; ``summary`` always has the full counts
MAX_ITEMS = 5000

OWNED_TYPES = frozenset(
    {
        EntityType.MODEL,
        EntityType.MODEL_INSTANCE,
        EntityType.PIPELINE,
        EntityType.FEATURE,
        EntityType.FEATURE_VIEW,
        EntityType.FEATURE_SERVICE,
        EntityType.DATASET,
        EntityType.AB_TEST,
    }
)
DESCRIBED_TYPES = frozenset(
    {
        EntityType.MODEL,
        EntityType.PIPELINE,
        EntityType.FEATURE,
        EntityType.FEATURE_VIEW,
        EntityType.FEATURE_SERVICE,
        EntityType.DATASET,
        EntityType.AB_TEST,
    }
)
#: ref attributes that are bookkeeping or inferred, not declared references
_NOT_REFERENCES = frozenset({F.PARENT, F.MENTIONS, F.rel_attr(Rel.TESTED_IN)})


def _item(db: Db, e: int, **extra: Any) -> JSON:
    entity = db.entity(e)
    return {
        "id": entity.get("db/xid") or db.xid(e),
        "entity_type": entity.get(F.TYPE),
        "name": entity.get(F.NAME),
        **extra,
    }


def _alive(db: Db, e: int) -> bool:
    return db.get(e, F.STATUS) != F.STATUS_DELETED


# -- similarity -----------------------------------------------------------------------------


class _Features:
    """Feature sets of models and instances in one view, memoized."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self._of: dict[int, frozenset[int]] = {}

    def instances(self, model: int) -> list[int]:
        db = self.db
        return [i for _, i in db.refs_in(model, [F.rel_attr(Rel.INSTANCE_OF)]) if _alive(db, i)]

    def model_of(self, instance: int) -> int | None:
        models = self.db.refs_out(instance, [F.rel_attr(Rel.INSTANCE_OF)])
        return models[0][1] if models else None

    def of(self, e: int, kind: str) -> frozenset[int]:
        if e not in self._of:
            db = self.db
            owners = self.instances(e) if kind == EntityType.MODEL else [e]
            self._of[e] = frozenset(
                f
                for i in owners
                for _, f in db.refs_out(i, [F.rel_attr(Rel.USES_FEATURE)])
                if _alive(db, f)
            )
        return self._of[e]

    def users(self, feature: int, kind: str) -> set[int]:
        """Models (or instances) that use ``feature``."""
        db = self.db
        instances = [
            i for _, i in db.refs_in(feature, [F.rel_attr(Rel.USES_FEATURE)]) if _alive(db, i)
        ]
        if kind == EntityType.MODEL_INSTANCE:
            return set(instances)
        return {m for m in map(self.model_of, instances) if m is not None and _alive(db, m)}


def _kind(db: Db, e: int, xid: str) -> str:
    kind = db.get(e, F.TYPE)
    if kind not in (EntityType.MODEL, EntityType.MODEL_INSTANCE):
        raise BadQuery(f"similarity compares models or model instances; {xid} is a {kind}")
    return str(kind)


def _ranked_neighbours(db: Db, e: int, kind: str, features: _Features) -> list[tuple[float, int]]:
    """(Jaccard score, entity) of everything sharing a feature with ``e``, best first."""
    own = features.of(e, kind)
    if not own:
        return []
    same_model = features.model_of(e) if kind == EntityType.MODEL_INSTANCE else None
    candidates: set[int] = set()
    for f in own:
        candidates |= features.users(f, kind)
    candidates.discard(e)
    if same_model is not None:  # an instance's siblings are trivially alike
        candidates = {c for c in candidates if features.model_of(c) != same_model}
    scored = []
    for c in candidates:
        theirs = features.of(c, kind)
        union = len(own | theirs)
        if union:
            scored.append((len(own & theirs) / union, c))
    scored.sort(key=lambda sc: (-sc[0], db.xid(sc[1]) or ""))
    return scored


def similar(db: Db, xid: str, limit: int = 10) -> JSON:
    """Models (or instances) most alike ``xid`` by the features they train on."""
    e = entity_id(db, xid)
    kind = _kind(db, e, xid)
    features = _Features(db)
    own = features.of(e, kind)
    rows = []
    for score, other in _ranked_neighbours(db, e, kind, features)[:limit]:
        shared = sorted(x for x in (db.xid(f) for f in own & features.of(other, kind)) if x)
        rows.append(_item(db, other, score=round(score, 4), shared_features=shared))
    return {
        "id": xid,
        "entity_type": kind,
        "features": sorted(x for x in (db.xid(f) for f in own) if x),
        "similar": rows,
        "as_of": describe(db),
    }


def suggestions(db: Db, xid: str, limit: int = 10) -> JSON:
    """Features ``xid`` does not use that its nearest neighbours do, weighted by similarity.

    A feature's score is the share of the neighbours' total similarity that votes for it,
    so 1.0 means every similar model uses it.
    """
    e = entity_id(db, xid)
    kind = _kind(db, e, xid)
    features = _Features(db)
    own = features.of(e, kind)
    neighbours = [(s, n) for s, n in _ranked_neighbours(db, e, kind, features) if s > 0]
    neighbours = neighbours[:SUGGESTION_NEIGHBOURS]
    total = sum(s for s, _ in neighbours)
    votes: dict[int, float] = defaultdict(float)
    because: dict[int, list[int]] = defaultdict(list)
    for score, other in neighbours:
        for f in features.of(other, kind) - own:
            votes[f] += score
            because[f].append(other)
    ranked = sorted(votes, key=lambda f: (-votes[f], db.xid(f) or ""))[:limit]
    return {
        "id": xid,
        "entity_type": kind,
        "suggestions": [
            {
                "feature": {"id": db.xid(f), "name": db.get(f, F.NAME)},
                "score": round(votes[f] / total, 4) if total else 0.0,
                "because": [db.xid(m) for m in because[f]],
            }
            for f in ranked
        ],
        "as_of": describe(db),
    }


# -- metadata quality -------------------------------------------------------------------------


@dataclass(slots=True)
class QualityContext:
    """What the fact store does not know: the journal's unit times and hydration failures,
    enrichment's retries, and how entities map to hydration units."""

    stale_days: int
    #: unit -> (last hydrated, last enriched), epoch seconds
    unit_times: Mapping[str, tuple[float | None, float | None]]
    #: unit -> last hydration error, for units currently failing
    failing: Mapping[str, str] = field(default_factory=dict)
    #: unit -> times enrichment asked for it while it stayed unresolved
    asked: Mapping[str, int] = field(default_factory=dict)
    #: when the last completed enrichment pass started (epoch seconds)
    last_pass_started_at: float | None = None
    #: aip id -> its hydration unit, None when its source is not configured
    unit_of: Callable[[str], str | None] = lambda xid: xid
    now: float = field(default_factory=lambda: datetime.now(UTC).timestamp())


class _Scan:
    """One pass over the attribute indexes, so every check reads in bulk, not per entity."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.type: dict[int, str] = dict(db.entities_with(F.TYPE))
        self.status: dict[int, str] = dict(db.entities_with(F.STATUS))
        self.resolved = [e for e, s in self.status.items() if s == F.STATUS_RESOLVED]
        self.described = {e for e, _ in db.entities_with(F.DESCRIPTION)}
        self.parts = {e for e, _ in db.entities_with(F.PARENT)}
        self.owned = {e for e, _ in self.pairs(Rel.OWNED_BY)}
        self.emails: dict[int, list[str]] = defaultdict(list)
        for e, email in db.entities_with(F.OWNER_EMAILS):
            self.emails[e].append(email)

    def pairs(self, rel: Rel) -> Iterable[tuple[int, int]]:
        return self.db.entities_with(F.rel_attr(rel))

    def live(self, e: int) -> bool:
        return self.status.get(e) not in (None, F.STATUS_DELETED)

    def attribute(self, name: str) -> dict[int, Any]:
        try:
            return dict(self.db.entities_with(F.attr_key(name)))
        except SchemaError:  # no source has stated the field yet
            return {}


def _missing_owners(scan: _Scan) -> list[JSON]:
    out = []
    for e in scan.resolved:
        if scan.type.get(e) in OWNED_TYPES and e not in scan.owned:
            emails = scan.emails.get(e)
            reason = f"owner emails not resolved: {', '.join(emails)}" if emails else "no owners"
            out.append(_item(scan.db, e, reason=reason))
    return out


def _missing_descriptions(scan: _Scan) -> list[JSON]:
    return [
        _item(scan.db, e)
        for e in scan.resolved
        if scan.type.get(e) in DESCRIBED_TYPES and e not in scan.described
    ]


def _stale(scan: _Scan, ctx: QualityContext) -> list[JSON]:
    cutoff = ctx.now - ctx.stale_days * 86_400
    out = []
    for e in scan.resolved:
        if e in scan.parts:
            continue  # refreshed with its unit
        xid = scan.db.xid(e)
        unit = ctx.unit_of(xid) if xid else None
        if unit is None:
            continue
        hydrated, _ = ctx.unit_times.get(unit, (None, None))
        if hydrated is None:
            out.append(_item(scan.db, e, reason="never hydrated by this daemon"))
        elif hydrated < cutoff:
            out.append(_item(scan.db, e, last_hydrated_at=iso_epoch(hydrated), reason="stale"))
    return out


def _unresolved_stubs(scan: _Scan, ctx: QualityContext) -> list[JSON]:
    db = scan.db
    status_a = db.store.attr_id(F.STATUS)
    out = []
    for e, status in scan.status.items():
        if status != F.STATUS_STUB:
            continue
        xid = db.xid(e) or ""
        unit = ctx.unit_of(xid)
        since = next((f.start for f in db.facts(e) if f.a == status_a), None)
        created = db.store.instant_of(since) if since else None
        if unit is None:
            reason = "its source is not configured"
        elif unit in ctx.failing:
            reason = f"hydration failing: {ctx.failing[unit]}"
        elif ctx.asked.get(unit):
            reason = f"still a stub after {ctx.asked[unit]} hydration(s) of {unit}"
        elif (
            ctx.last_pass_started_at is not None
            and created is not None
            and created.timestamp() < ctx.last_pass_started_at
        ):
            reason = "not hydrated yet"
        else:
            continue  # new since the last pass: not yet had its chance
        out.append(_item(db, e, stub_since=iso(created), reason=reason))
    return out


def _dangling(scan: _Scan) -> list[JSON]:
    db = scan.db
    pointing: dict[int, list[JSON]] = defaultdict(list)
    for d, status in scan.status.items():
        if status != F.STATUS_DELETED:
            continue
        for attr, source in db.refs_in(d):
            if attr in _NOT_REFERENCES or not attr.startswith(F.REL_PREFIX):
                continue
            if scan.status.get(source) == F.STATUS_RESOLVED:
                pointing[source].append({"type": attr[len(F.REL_PREFIX) :], "target": db.xid(d)})
    return [
        _item(
            db,
            e,
            references=refs,
            reason=f"references {len(refs)} deleted entit{'y' if len(refs) == 1 else 'ies'}",
        )
        for e, refs in pointing.items()
    ]


def _unused(scan: _Scan) -> list[JSON]:
    """Datasets, features and models nothing live consumes: deprecation candidates."""
    used: set[int] = set()
    for src, feature in scan.pairs(Rel.USES_FEATURE):
        if scan.live(src):
            used.add(feature)
    for src, dataset in scan.pairs(Rel.DERIVED_FROM):
        if scan.live(src):
            used.add(dataset)
    dataset_of = dict(scan.pairs(Rel.VERSION_OF))
    for run, version in scan.pairs(Rel.READS):
        if scan.live(run) and version in dataset_of:
            used.add(dataset_of[version])
    instance_status = scan.attribute("status")
    tested = {i for i, _ in scan.pairs(Rel.TESTED_IN)}
    for instance, model in scan.pairs(Rel.INSTANCE_OF):
        if scan.live(instance) and (
            instance_status.get(instance) == "production" or instance in tested
        ):
            used.add(model)
    reasons = {
        EntityType.DATASET: "no feature, dataset or pipeline run reads it",
        EntityType.FEATURE: "no live model instance uses it",
        EntityType.MODEL: "no instance in production or under test",
    }
    return [
        _item(scan.db, e, reason=reasons[EntityType(scan.type[e])])
        for e in scan.resolved
        if scan.type.get(e) in reasons and e not in used
    ]


def quality(db: Db, ctx: QualityContext) -> JSON:
    """Where the graph's metadata is incomplete, stale or inconsistent, entity by entity."""
    scan = _Scan(db)
    report: JSON = {
        "missing_owners": _missing_owners(scan),
        "missing_descriptions": _missing_descriptions(scan),
        "stale": _stale(scan, ctx),
        "unresolved_stubs": _unresolved_stubs(scan, ctx),
        "dangling_references": _dangling(scan),
        "unused": _unused(scan),
    }
    counts = Counter(scan.status.values())
    owned = [e for e in scan.resolved if scan.type.get(e) in OWNED_TYPES]
    described = [e for e in scan.resolved if scan.type.get(e) in DESCRIBED_TYPES]
    summary: JSON = {
        "entities": counts[F.STATUS_RESOLVED] + counts[F.STATUS_STUB],
        "resolved": counts[F.STATUS_RESOLVED],
        "stubs": counts[F.STATUS_STUB],
        "deleted": counts[F.STATUS_DELETED],
        "stale_days": ctx.stale_days,
        **{key: len(items) for key, items in report.items()},
        "owner_coverage": _share(len(owned) - len(report["missing_owners"]), len(owned)),
        "description_coverage": _share(
            len(described) - len(report["missing_descriptions"]), len(described)
        ),
    }
    truncated = [key for key, items in report.items() if len(items) > MAX_ITEMS]
    for key in truncated:
        report[key] = report[key][:MAX_ITEMS]
    return {"summary": summary, **report, "truncated": truncated, "as_of": describe(db)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
