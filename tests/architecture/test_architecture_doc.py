"""ARCHITECTURE.md names real files: a module moved or renamed without it fails here."""

from __future__ import annotations

import re
from pathlib import Path

from tests.architecture.cycles import root_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_path_the_architecture_names_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    tops = "|".join(re.escape(top) for top in [*root_packages(ROOT), "tests"])
    named = set(re.findall(rf"`((?:{tops})/[\w/.]*)`", text))
    assert len(named) > 20  # the pattern still finds the paths
    assert sorted(path for path in named if not (ROOT / path).exists()) == []
