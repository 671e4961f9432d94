"""Inference rules as data: a path pattern over relationship types and the edges it implies.

A rule reads like the contract states it (1.4)::

    ModelInstance -produced_by-> PipelineRun -ran_for-> AbTestCell -cell_of-> AbTest
    => ModelInstance tested_in AbTest (and tested_in AbTestCell)

The first entity of the pattern is the rule's *anchor*; every implied edge leaves it. That
keeps ownership simple: an anchor's implied edges of one relationship are exactly what its
rule derives for it now, so re-evaluating one anchor is enough to add or retract them. The
evaluator lives in ``mdsd.enrichment.inference``; this module only declares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from mds.wire.model import EntityType, Orientation, Rel


@dataclass(frozen=True, slots=True)
class Step:
    """One hop: follow ``rel`` (``out``: as the edge points, ``in``: against it) to an
    entity of ``entity_type``."""

    rel: Rel
    orientation: Orientation
    entity_type: EntityType


@dataclass(frozen=True, slots=True)
class Implies:
    """The edge ``anchor -rel-> path[target]`` that a matched path supports."""

    rel: Rel
    target: int


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    anchor: EntityType
    steps: tuple[Step, ...]
    implies: tuple[Implies, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"rule {self.name}: a pattern needs at least one step")
        for implied in self.implies:
            if not 1 <= implied.target <= len(self.steps):
                raise ValueError(
                    f"rule {self.name}: implied target {implied.target} is not a path position "
                    f"1..{len(self.steps)}"
                )

    def type_at(self, position: int) -> EntityType:
        """The entity type at ``position`` of the path (0 is the anchor)."""
        return self.anchor if position == 0 else self.steps[position - 1].entity_type

    @property
    def implied_rels(self) -> frozenset[Rel]:
        return frozenset(i.rel for i in self.implies)

    def __str__(self) -> str:
        arrows = {"out": "-{}->", "in": "<-{}-"}
        path = str(self.anchor)
        for step in self.steps:
            path += f" {arrows[step.orientation].format(step.rel)} {step.entity_type}"
        heads = ", ".join(f"{i.rel} {self.type_at(i.target)}" for i in self.implies)
        return f"{self.name}: {path} => {self.anchor} {heads}"


TESTED_IN = Rule(
    name="tested_in",
    anchor=EntityType.MODEL_INSTANCE,
    steps=(
        Step(Rel.PRODUCED_BY, "out", EntityType.PIPELINE_RUN),
        Step(Rel.RAN_FOR, "out", EntityType.AB_TEST_CELL),
        Step(Rel.CELL_OF, "out", EntityType.AB_TEST),
    ),
    implies=(Implies(Rel.TESTED_IN, 3), Implies(Rel.TESTED_IN, 2)),
)

#: every rule enrichment evaluates
RULES: tuple[Rule, ...] = (TESTED_IN,)


def check_rules(rules: Sequence[Rule]) -> None:
    """Each implied relationship belongs to one rule, and no pattern walks an implied one.

    One owner per relationship lets an anchor's edges be replaced wholesale; no pattern over
    implied edges means one pass reaches a fixpoint (no rule feeds another).
    """
    owner: dict[Rel, str] = {}
    for rule in rules:
        for rel in rule.implied_rels:
            if rel in owner and owner[rel] != rule.name:
                raise ValueError(f"{rel} is implied by both {owner[rel]} and {rule.name}")
            owner[rel] = rule.name
    implied = set(owner)
    for rule in rules:
        walked = {step.rel for step in rule.steps} & implied
        if walked:
            raise ValueError(f"rule {rule.name} walks implied relationship(s) {sorted(walked)}")


def fingerprint(rules: Sequence[Rule]) -> str:
    """Changes whenever a rule does, so stored inferences are re-derived from scratch."""
    return hashlib.sha256("\n".join(map(str, rules)).encode()).hexdigest()[:16]


check_rules(RULES)
