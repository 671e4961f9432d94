"""Owners resolved through identity, and runs named so a person can tell them apart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from mds.wire.model import Rel
from mdsd import facts as F
from mdsd.connectors import Observed, SourceUnavailable
from mdsd.connectors.openlineage import Lineage
from mdsd.connectors.openlineage.mapping import run_name
from mdsd.hydration.writer import Writer
from store import FactStore
from tests.openlineage.events import PARENT, RUN, facet, run_event

KNOWN = {"alice@example.com": "aip://user/identity/alice"}
JOB = "aip://pipeline/openlineage/airflow/etl.orders"
STRANGER = "aip://user/identity/alice@other.org"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    with FactStore(tmp_path / "facts") as opened:
        opened.install(F.SCHEMA)
        yield opened


async def identity(emails: Sequence[str]) -> Mapping[str, str]:
    return {email: KNOWN[email] for email in emails if email in KNOWN}


def read(lineage: Lineage, *raws: str) -> list[Observed]:
    """What a unit's queued events say, owners resolved, as the hydrator reads them."""
    return asyncio.run(lineage.owned(lineage.read([(raw, None) for raw in raws])))


def owned_event() -> str:
    event = run_event("START", "2025-03-01T10:00:00Z")
    owners = [{"name": "user:alice@example.com"}, {"name": "Alice@Other.org", "type": "MAINTAINER"}]
    event["job"]["facets"]["ownership"] = facet(owners=owners)
    return json.dumps(event)


def test_an_owner_is_the_identity_user_of_their_email_else_a_user_keyed_by_it(
    store: FactStore,
) -> None:
    observed = read(Lineage({}, identity), owned_event())
    Writer(store).observe(observed, {"origin": "test"})
    db = store.db()
    job = db.entid(JOB)
    assert job is not None
    owners = sorted(db.xid(o) for o in db.get(job, F.rel_attr(Rel.OWNED_BY)))
    assert owners == sorted([KNOWN["alice@example.com"], STRANGER])
    # the whole email names them, as every source's unknown owners: a stub identity may
    # describe, never the local part's alice
    stranger = db.entity(db.entid(STRANGER))
    assert stranger[F.STATUS] == F.STATUS_STUB


def test_identity_down_leaves_the_owners_to_a_retry() -> None:
    async def down(emails: Sequence[str]) -> Mapping[str, str]:
        raise SourceUnavailable("identity: connection refused")

    with pytest.raises(SourceUnavailable):
        read(Lineage({}, down), owned_event())


def test_a_run_is_named_by_its_job_and_the_end_of_its_id(store: FactStore) -> None:
    parent = facet(run={"runId": PARENT}, job={"namespace": "airflow", "name": "orders_dag"})
    event = run_event("START", "2025-03-01T10:00:00Z", run_facets={"parent": parent})
    observed = read(Lineage({}, identity), json.dumps(event))
    Writer(store).observe(observed, {"origin": "test"})
    db = store.db()
    run = db.entity(db.entid(f"aip://pipeline-run/openlineage/{RUN}"))
    assert run[F.NAME] == f"etl.orders {RUN.replace('-', '')[-8:]}"
    assert run[F.NATIVE_ID] == RUN
    up = db.entity(db.entid(f"aip://pipeline-run/openlineage/{PARENT}"))
    assert up[F.NAME] == f"orders_dag {PARENT[-8:]}"


def test_runs_a_minute_apart_of_uuid7_get_different_names() -> None:
    first, second = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", "0190a1b2-ffff-7000-9b1c-2d3e4f5a6b7c"
    assert run_name("train", first) != run_name("train", second)
