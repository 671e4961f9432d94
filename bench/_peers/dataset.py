"""The benchmark's graphs: a layered ML lineage graph with ~10 attributes per entity.

Every contender regenerates it from the same seed (deterministic, a couple of seconds),
so no data crosses process boundaries and each one loads exactly the same facts.

Entities flow raw datasets -> derived datasets -> features -> pipelines -> models ->
instances -> A/B tests; each points at ~5 parents in the layer before it through the
cardinality-many ref ``bench/upstream``. Parents are drawn from a window of the previous
layer around the child's relative position, plus an occasional long-range parent: real
lineage graphs are clustered by team and domain, and a uniform random graph would make a
6-hop walk reach the whole graph from any start.

Beside it, ``generate_random_dag`` makes an independent graph of the same attributes by
another rule (preferential attachment, no layers), so no result rests on one shape alone.

Transactions: the initial load in batches of ``BATCH_ENTITIES`` entities (tx 1..T0), then
``churn_txs`` edit transactions that each swap one parent and rescore some entities (~5% of
the entities in all), so an as-of view at T0 sees edges the current view does not.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

LAYERS: tuple[tuple[str, float], ...] = (
    ("raw-dataset", 0.06),
    ("dataset", 0.14),
    ("feature", 0.30),
    ("pipeline", 0.10),
    ("model", 0.10),
    ("model-instance", 0.22),
    ("ab-test", 0.08),
)
BATCH_ENTITIES = 1000
OPEN = (1 << 64) - 1  # the end of an interval that is still open
PARENT_WINDOW = 25
LONG_RANGE_P = 0.05
OWNERS = [f"user-{i}" for i in range(500)]
TAGS = [f"tag-{i}" for i in range(50)]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Entity:
    xid: str
    layer: int
    name: str
    kind: str
    owner: str
    description: str
    created: datetime
    size: int
    score: float
    active: bool
    tags: list[str]
    config: dict[str, object]
    parents: list[int]


@dataclass(slots=True)
class Edit:
    """One churn step: ``entity`` swaps parent ``old`` for ``new`` and gets ``score``."""

    tx: int
    entity: int
    old: int
    new: int
    score: float


@dataclass(slots=True)
class Dataset:
    entities: list[Entity]
    #: tx of the initial load batch that created each entity
    created_tx: list[int]
    edits: list[Edit]
    #: last tx of the initial load: the as-of basis of the benchmark
    t0: int
    last_tx: int
    layer_bounds: list[tuple[int, int]] = field(default_factory=list)
    #: where the walks start (entity indexes ``lo <= i < hi``)
    start_range: tuple[int, int] = (0, 0)

    def edge_intervals(self) -> list[tuple[int, int, int, int]]:
        """(child, parent, start_tx, end_tx) for every upstream edge ever asserted."""
        open_edges: dict[tuple[int, int], int] = {}
        closed: list[tuple[int, int, int, int]] = []
        for i, entity in enumerate(self.entities):
            for p in entity.parents:
                open_edges[(i, p)] = self.created_tx[i]
        for edit in self.edits:
            start = open_edges.pop((edit.entity, edit.old))
            closed.append((edit.entity, edit.old, start, edit.tx))
            open_edges[(edit.entity, edit.new)] = edit.tx
        return closed + [(c, p, s, OPEN) for (c, p), s in open_edges.items()]

    def score_intervals(self) -> dict[int, list[tuple[float, int, int]]]:
        """entity -> [(score, start_tx, end_tx)] for every entity."""
        out = {i: [(e.score, self.created_tx[i], OPEN)] for i, e in enumerate(self.entities)}
        for edit in self.edits:
            versions = out[edit.entity]
            value, start, _ = versions[-1]
            versions[-1] = (value, start, edit.tx)
            versions.append((edit.score, edit.tx, OPEN))
        return out


def generate(n_entities: int, seed: int = 7, churn_txs: int = 100) -> Dataset:
    """The layered lineage graph and its transactions; churn re-parents ~5% of the entities."""
    rng = random.Random(seed)
    bounds: list[tuple[int, int]] = []
    start = 0
    for i, (_, share) in enumerate(LAYERS):
        size = n_entities - start if i == len(LAYERS) - 1 else max(1, int(n_entities * share))
        bounds.append((start, start + size))
        start += size
    entities: list[Entity] = []
    for layer, (lo, hi) in enumerate(bounds):
        for i in range(lo, hi):
            parents = _parents(rng, layer, i, bounds) if layer else []
            entities.append(_entity(rng, i, layer, LAYERS[layer][0], parents, seed))

    def new_parent(e: int) -> int:
        return _parents(rng, entities[e].layer, e, bounds)[0]

    data = _with_churn(rng, entities, churn_txs, new_parent)
    data.layer_bounds = bounds
    data.start_range = (0, bounds[1][1])  # datasets: impact asks about their downstream
    return data


#: The independent graph: each node draws 1-9 parents among the nodes before it, each
#: either by preferential attachment (an earlier node as likely as the edges it already
#: has) or uniformly from the ``RECENT_WINDOW`` nodes just before it.
RECENT_WINDOW = 2000
PREFERENTIAL_P = 0.5


def generate_random_dag(n_entities: int, seed: int = 3, churn_txs: int = 100) -> Dataset:
    """A graph made by another generator than ``generate``'s layers and windows (Price's
    preferential attachment mixed with recent-neighbour links), so that the store is not
    only measured on the shape it was tuned on: hubs with thousands of children, no layers,
    about 5 parents a node. Walks start in its later half (a hub's downstream is the whole
    graph, a leaf's nothing)."""
    rng = random.Random(seed)
    attach = [0]  # each node once, plus once per child it has: a uniform draw is preferential
    entities: list[Entity] = []
    for i in range(n_entities):
        chosen: set[int] = set()
        want = min(i, rng.randint(1, 9))
        while len(chosen) < want:
            if rng.random() < PREFERENTIAL_P:
                chosen.add(attach[rng.randrange(len(attach))])
            else:
                chosen.add(rng.randrange(max(0, i - RECENT_WINDOW), i))
        attach.extend(chosen)
        attach.append(i)
        entities.append(_entity(rng, i, 0, "node", sorted(chosen), seed))

    def new_parent(e: int) -> int:
        return rng.randrange(e)

    data = _with_churn(rng, entities, churn_txs, new_parent)
    data.layer_bounds = [(0, n_entities)]
    data.start_range = (n_entities // 2, n_entities)
    return data


#: graph name -> its generator
GRAPHS = {"lineage": generate, "random": generate_random_dag}


def _entity(
    rng: random.Random, i: int, layer: int, kind: str, parents: list[int], seed: int
) -> Entity:
    return Entity(
        xid=f"aip://{kind}/bench/{i}",
        layer=layer,
        name=f"{kind}-{i}",
        kind=kind,
        owner=rng.choice(OWNERS),
        description=f"{kind} {i}: generated for the store benchmark, seed {seed}",
        created=EPOCH + timedelta(seconds=i),
        size=rng.randrange(1, 1 << 40),
        score=round(rng.random(), 6),
        active=rng.random() < 0.8,
        tags=sorted(rng.sample(TAGS, 2)),
        config={"owner_team": rng.randrange(40), "retries": rng.randrange(5)},
        parents=parents,
    )


def _with_churn(
    rng: random.Random, entities: list[Entity], churn_txs: int, new_parent: Callable[[int], int]
) -> Dataset:
    """The initial load's transactions, then ``churn_txs`` that each swap one parent of
    some entities (``new_parent`` draws the replacement) and rescore them."""
    churn_per_tx = max(1, len(entities) // 2000)
    created_tx = [i // BATCH_ENTITIES + 1 for i in range(len(entities))]
    t0 = created_tx[-1]
    edits: list[Edit] = []
    current = {i: list(e.parents) for i, e in enumerate(entities) if e.parents}
    candidates = list(current)
    tx = t0
    for _ in range(churn_txs):
        tx += 1
        for e in rng.sample(candidates, min(churn_per_tx, len(candidates))):
            old = rng.choice(current[e])
            new = new_parent(e)
            if new in current[e]:
                continue
            current[e][current[e].index(old)] = new
            edits.append(Edit(tx, e, old, new, round(rng.random(), 6)))
        if not edits or edits[-1].tx != tx:
            tx -= 1  # nothing changed: the store writes no transaction either
    return Dataset(entities, created_tx, edits, t0, tx)


def _parents(rng: random.Random, layer: int, i: int, bounds: list[tuple[int, int]]) -> list[int]:
    lo, hi = bounds[layer]
    plo, phi = bounds[layer - 1]
    size = phi - plo
    centre = plo + (i - lo) * size // (hi - lo)
    want = min(rng.randint(3, 7), size)
    chosen: set[int] = set()
    while len(chosen) < want:
        if rng.random() < LONG_RANGE_P:
            chosen.add(rng.randrange(plo, phi))
        else:
            offset = rng.randint(-PARENT_WINDOW, PARENT_WINDOW)
            chosen.add(plo + (centre - plo + offset) % size)
    return sorted(chosen)


@dataclass(slots=True)
class Queries:
    """What every contender is asked, as dataset indexes (the same in every process)."""

    #: traversal starts: datasets (layers 0-1), whose downstream is what impact asks about
    starts: list[int]
    #: entities to pull and to ask for reverse references, from every layer
    entities: list[int]


def queries(data: Dataset, n_starts: int, n_entities: int, seed: int = 11) -> Queries:
    rng = random.Random(seed)
    lo, hi = data.start_range
    return Queries(
        starts=[rng.randrange(lo, hi) for _ in range(n_starts)],
        entities=[rng.randrange(len(data.entities)) for _ in range(n_entities)],
    )
