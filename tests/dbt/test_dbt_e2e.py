"""A real dbt project run through ``dbt-ol`` on DuckDB, reported to a real ``mdsd`` the way
the README tells a dbt user to: ``OPENLINEAGE_URL`` at the TCP listener and
``OPENLINEAGE_API_KEY`` a ``write`` token (with the listener's private CA in
``REQUESTS_CA_BUNDLE``). Then ``mds``, as a user, shows the models as datasets, the runs and
jobs succeeded, and column lineage that matches the models' SQL (tests/dbt/project)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mds.testing import CliResult, DaemonProcess
from simulator import SimulatorThread, World
from tests.dbt.venv import ensure_dbt

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent / "project"
README = Path(__file__).resolve().parents[2] / "README.md"
DBT_TIMEOUT_SECONDS = 300


class Shop:
    """The project's run, as mds has it: its DuckDB file names its datasets' namespace."""

    def __init__(self, daemon: DaemonProcess, duckdb: Path) -> None:
        self.daemon = daemon
        self.namespace = f"duckdb://{duckdb}"

    def dataset(self, table: str) -> str:
        return f"aip://dataset/openlineage/{quote(self.namespace, safe='')}/shop.main.{table}"

    def field(self, table: str, name: str) -> str:
        return f"{self.dataset(table)}#{name}"

    def mds(self, *args: str) -> CliResult:
        done = subprocess.run(
            [sys.executable, "-m", "mds", "--socket", str(self.daemon.socket), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return CliResult(done.returncode, done.stdout, done.stderr)

    def json(self, *args: str) -> Any:
        answer = self.mds(*args, "-o", "json")
        assert answer.code == 0, answer.err
        return answer.json


def readme_dbt() -> tuple[list[str], list[str]]:
    """The README's dbt block: the variables it exports, and its ``dbt-ol`` command."""
    found = re.search(r"\*\*dbt\.\*\*.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert found, "README.md has no dbt paragraph with a sh block"
    names: list[str] = []
    command: list[str] = []
    for line in found[1].splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            names.append(words[1].partition("=")[0])
        elif words:
            command = words
    return names, command


def dbt_ol(venv: Path, workdir: Path, env: dict[str, str], *args: str) -> None:
    """``dbt-ol ARGS`` in the project, its venv's ``bin`` first on PATH (dbt-ol runs ``dbt``
    from there)."""
    done = subprocess.run(
        ["dbt-ol", *args, "--project-dir", str(workdir), "--profiles-dir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_SECONDS,
        cwd=workdir,
        env={**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"},
        check=False,
    )
    assert done.returncode == 0, f"dbt-ol {' '.join(args)}:\n{done.stdout[-4000:]}{done.stderr}"
    assert "Emitted" in done.stdout + done.stderr, done.stdout[-4000:]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    venv, install_seconds = ensure_dbt()
    print(f"\n[dbt] install {install_seconds:.1f}s")
    workdir = tmp_path_factory.mktemp("dbt")
    project = workdir / "shop"
    shutil.copytree(PROJECT, project)
    with (
        SimulatorThread(World.generate(size=20, seed=5)) as simulator,
        DaemonProcess(workdir / "mds", simulator.base_url, tls=True) as daemon,
    ):
        duckdb = project / "shop.duckdb"
        env = {key: value for key, value in os.environ.items() if not key.startswith("OPENLINEAGE")}
        # what the README has a dbt user set, and nothing else of OpenLineage's
        names, command = readme_dbt()
        assert sorted(names) == ["OPENLINEAGE_API_KEY", "OPENLINEAGE_URL"]
        assert command == ["dbt-ol", "run"]
        env |= {
            "OPENLINEAGE_URL": daemon.server_url,
            "OPENLINEAGE_API_KEY": daemon.token("dbt", "write"),
            "REQUESTS_CA_BUNDLE": str(daemon.cacert),  # the listener's private CA
            "SHOP_DUCKDB": str(duckdb),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        dbt_ol(venv, project, env, "seed")  # the project's tables, before its models
        dbt_ol(venv, project, env, *command[1:])
        running = Shop(daemon, duckdb)
        waited = running.mds("wait", "--idle", "--timeout", "60")
        assert waited.code == 0, waited.err
        yield running


def ids(answer: dict[str, Any]) -> set[str]:
    return {node["id"] for node in answer["nodes"]}


def test_the_models_are_datasets_written_by_succeeded_runs_of_their_jobs(shop: Shop) -> None:
    for model in ("stg_orders", "stg_customers", "customer_totals"):
        page = shop.json("show", shop.dataset(model))
        assert page["entity_type"] == "Dataset"
        assert page["name"] == f"shop.main.{model}"
        writers = [
            r["target"]
            for r in page["relationships"]
            if r["type"] == "writes" and r["direction"] == "in"
        ]
        assert len(writers) == 1, page["relationships"]
        run = shop.json("show", writers[0])
        assert run["entity_type"] == "PipelineRun"
        assert run["attributes"]["status"] == "succeeded"
        assert run["attributes"]["started_at"] <= run["attributes"]["ended_at"]
        out = {r["type"]: r["target"] for r in run["relationships"] if r["direction"] == "out"}
        assert out["run_of"] == f"aip://pipeline/openlineage/dbt/shop.main.shop.{model}"
        parent = shop.json("show", out["parent_run"])  # the whole `dbt run`
        assert parent["attributes"]["status"] == "succeeded"
        job = shop.json("show", out["run_of"])
        assert job["entity_type"] == "Pipeline"


def test_column_lineage_upstream_matches_the_sql(shop: Shop) -> None:
    def upstream(model: str, field: str) -> set[str]:
        answer = shop.json("lineage", shop.dataset(model), "--field", field)
        assert answer["root"] == shop.field(model, field)
        return ids(answer) - {answer["root"]}

    # sum(o.amount_usd) <- amount / 100.0
    assert upstream("customer_totals", "total_usd") == {
        shop.field("stg_orders", "amount_usd"),
        shop.field("raw_orders", "amount"),
    }
    # first_name || ' ' || last_name, passed on as is
    assert upstream("customer_totals", "full_name") == {
        shop.field("stg_customers", "full_name"),
        shop.field("raw_customers", "first_name"),
        shop.field("raw_customers", "last_name"),
    }
    # renamed twice: id -> customer_id
    assert upstream("customer_totals", "customer_id") == {
        shop.field("stg_customers", "customer_id"),
        shop.field("raw_customers", "id"),
    }
    assert upstream("stg_orders", "order_id") == {shop.field("raw_orders", "id")}


def test_column_lineage_downstream_and_as_a_person_reads_it(shop: Shop) -> None:
    answer = shop.json(
        "lineage", shop.dataset("raw_orders"), "--field", "amount", "--direction", "downstream"
    )
    assert ids(answer) == {
        shop.field("raw_orders", "amount"),
        shop.field("stg_orders", "amount_usd"),
        shop.field("customer_totals", "total_usd"),
    }
    shown = shop.mds("lineage", shop.dataset("customer_totals"), "--field", "total_usd")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == "upstream lineage, 2 node(s):"
    assert lines[1].startswith("[Field] shop.main.customer_totals.total_usd  ")
    assert "derived_from  [Field] shop.main.stg_orders.amount_usd  " in lines[2]
    assert "derived_from  [Field] shop.main.raw_orders.amount  " in lines[3]
    unknown = shop.mds("lineage", shop.dataset("customer_totals"), "--field", "amount")
    assert unknown.code == 1
    assert "its fields: customer_id, full_name, total_usd" in unknown.err
