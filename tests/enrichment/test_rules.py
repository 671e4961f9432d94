"""Rules are data: checked when declared, printable, and fingerprinted."""

from __future__ import annotations

import dataclasses

import pytest

from mds.wire.model import EntityType, Rel
from mdsd.enrichment.rules import RULES, TESTED_IN, Implies, Rule, Step, check_rules, fingerprint


def test_the_contract_rule_reads_as_the_contract_states_it() -> None:
    assert str(TESTED_IN) == (
        "tested_in: ModelInstance -produced_by-> PipelineRun -ran_for-> AbTestCell "
        "-cell_of-> AbTest => ModelInstance tested_in AbTest, tested_in AbTestCell"
    )
    assert TESTED_IN in RULES


def test_an_implied_target_must_be_on_the_path() -> None:
    with pytest.raises(ValueError, match="not a path position"):
        dataclasses.replace(TESTED_IN, implies=(Implies(Rel.TESTED_IN, 4),))


def test_one_relationship_has_one_rule() -> None:
    twin = dataclasses.replace(TESTED_IN, name="twin")
    with pytest.raises(ValueError, match="implied by both"):
        check_rules([TESTED_IN, twin])


def test_no_rule_walks_an_implied_relationship() -> None:
    chained = Rule(
        name="model_tested_in",
        anchor=EntityType.MODEL,
        steps=(
            Step(Rel.INSTANCE_OF, "in", EntityType.MODEL_INSTANCE),
            Step(Rel.TESTED_IN, "out", EntityType.AB_TEST),
        ),
        implies=(Implies(Rel.CURRENT_INSTANCE, 1),),
    )
    with pytest.raises(ValueError, match="walks implied"):
        check_rules([TESTED_IN, chained])


def test_the_fingerprint_follows_the_rules() -> None:
    assert fingerprint(RULES) == fingerprint(list(RULES))
    other = dataclasses.replace(TESTED_IN, implies=(Implies(Rel.TESTED_IN, 3),))
    assert fingerprint([other]) != fingerprint(RULES)
