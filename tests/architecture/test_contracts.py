"""The import contracts in pyproject.toml hold on the tree, and catch what they are for.

A contract that never fails proves nothing, so each kind of violation the run-time tests
missed is planted in a copy of the source tree and must break its contract there: a static
import of the screens from the daemon, and a deferred one (inside a function) from the store
into the daemon, which import-linter reads from the source as if it sat at the top.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.architecture.cycles import root_packages

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CYCLES = Path(__file__).with_name("cycles.py")


def _lint(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports as the before-stop hook runs it: at a root, with that root's pyproject."""
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *selected],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def _cycles(root: Path) -> list[list[str]]:
    out = subprocess.run(
        [sys.executable, str(CYCLES)], cwd=root, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and pyproject.toml, to plant violations in."""
    for package in root_packages(ROOT):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def _plant(tree: Path, module: str, code: str) -> None:
    with (tree / module).open("a") as source:
        source.write(f"\n\n{code}\n")


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-6000:]


def test_the_tree_has_no_import_cycle() -> None:
    cycles = _cycles(ROOT)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_a_planted_copy_is_linted_not_the_installed_tree(tree: Path) -> None:
    # Otherwise every planted test below would pass by reading the real tree.
    _plant(tree, "store/tx.py", "import mdsd.facts")
    assert "store.tx -> mdsd.facts" in _lint(tree, "store-alone").stdout


@pytest.mark.parametrize(
    ("module", "code", "contract", "caught"),
    [
        (
            "mdsd/reads/queries.py",
            "import tui.format",
            "daemon-no-client",
            "mdsd.reads.queries -> tui.format",
        ),
        (
            "store/db.py",
            "def _deferred() -> None:\n    from mdsd.reads import queries",
            "store-alone",
            "store.db -> mdsd.reads.queries",
        ),
        (
            "mdsd/index/search.py",
            "def _deferred() -> None:\n    from mdsd.enrichment import loop",
            "daemon-layers",
            "mdsd.index.search -> mdsd.enrichment.loop",
        ),
        (
            "mdsd/hydration/writer.py",
            "import simulator.world",
            "simulator-only-in-demo",
            "mdsd.hydration.writer -> simulator.world",
        ),
        (
            "mds/cli/render.py",
            "import textual.app",
            "client-no-textual",
            "mds.cli.render -> textual",
        ),
        (
            "mds/wire/model.py",
            "from mds import client",
            "client-layers",
            "mds.wire.model -> mds.client",
        ),
        (
            "mdsd/connectors/datasets.py",
            "from mdsd.connectors.registry import RegistryConnector",
            "connectors-plug-in",
            "mdsd.connectors.datasets -> mdsd.connectors.registry",
        ),
        (
            "mdsd/reads/views.py",
            "from mdsd.reads import insights",
            "no-cycles",
            "No cycles are allowed in mdsd.reads.",
        ),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tree: Path, module: str, code: str, contract: str, caught: str
) -> None:
    assert caught not in _lint(tree, contract).stdout
    _plant(tree, module, code)
    result = _lint(tree, contract)
    assert result.returncode != 0
    assert caught in result.stdout, result.stdout[-3000:]


def test_a_module_importing_its_own_package_is_a_cycle(tree: Path) -> None:
    # The cycle acyclic_siblings does not see, child and parent not being siblings.
    def through_ids(cycles: list[list[str]]) -> bool:
        return any({"mdsd.connectors", "mdsd.connectors.ids"} <= set(c) for c in cycles)

    assert not through_ids(_cycles(tree))
    _plant(tree, "mdsd/connectors/ids.py", "import mdsd.connectors")
    assert through_ids(_cycles(tree))
