"""``impact`` notifies an owner's teams as either side of identity states them (contract
1.2: a user's ``team_ids`` and a team's ``member_ids`` are both optional)."""

from __future__ import annotations

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors import Gone, Hydrated
from mdsd.connectors.identity import team, user
from mdsd.connectors.payload import Payload
from mdsd.hydration.writer import Writer
from mdsd.reads import queries

DATASET = "aip://dataset/datasets/d"


def write(writer: Writer, entity: NormalizedEntity, owners: list[str] | None = None) -> None:
    writer.write(Hydrated([entity]), {entity.id: owners or []}, {"origin": "test"})


def notified_teams(writer: Writer) -> set[str]:
    doc = queries.impact(writer.store.db(), DATASET)
    return {t["id"] for t in doc["notify"]["teams"]}


def test_teams_come_from_team_ids_and_from_member_ids(writer: Writer) -> None:
    dataset = NormalizedEntity(DATASET, EntityType.DATASET, "datasets", "d", "d")
    write(writer, dataset, ["aip://user/identity/ann", "aip://user/identity/bob"])
    for payload in (
        {"id": "ann"},  # no team_ids: only the search team's member list says
        {"id": "bob", "team_ids": ["ml"]},
    ):
        [entity] = user(Payload(payload, "test"))
        write(writer, entity)
    for payload in ({"id": "search", "member_ids": ["ann"]}, {"id": "ml", "member_ids": []}):
        [entity] = team(Payload(payload, "test"))
        write(writer, entity)
    assert notified_teams(writer) == {"aip://team/identity/search", "aip://team/identity/ml"}

    writer.write(Gone("aip://team/identity/search"), {}, {"origin": "test"})
    assert notified_teams(writer) == {"aip://team/identity/ml"}, "a deleted team is not told"


def test_impact_is_the_whole_downstream_closure(writer: Writer) -> None:
    """A derivation chain longer than any fixed default depth is impacted end to end."""
    chain = [f"aip://dataset/datasets/d{i}" for i in range(30)]
    for i, xid in enumerate(chain):
        upstream = {Rel.DERIVED_FROM: [chain[i - 1]]} if i else {}
        write(
            writer,
            NormalizedEntity(
                xid, EntityType.DATASET, "datasets", f"d{i}", f"d{i}", relationships=upstream
            ),
        )
    doc = queries.impact(writer.store.db(), chain[0])
    impacted = {e["id"] for g in doc["groups"] for e in g["entities"]}
    assert impacted == set(chain[1:])


def test_owners_no_identity_source_described_are_set_apart(writer: Writer) -> None:
    """An owner known only as a stub (an email no identity source resolved) may be
    nobody's address: it is listed as unresolved, never among the people to notify."""
    ann, stranger = "aip://user/identity/ann", "aip://user/identity/alice@other.org"
    write(
        writer, NormalizedEntity(DATASET, EntityType.DATASET, "datasets", "d", "d"), [ann, stranger]
    )
    [entity] = user(Payload({"id": "ann"}, "test"))
    write(writer, entity)
    notify = queries.impact(writer.store.db(), DATASET)["notify"]
    assert [o["id"] for o in notify["owners"]] == [ann]
    assert [(o["id"], o["name"]) for o in notify["unresolved"]] == [(stranger, "alice@other.org")]
