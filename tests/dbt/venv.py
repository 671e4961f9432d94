"""dbt with ``dbt-ol`` in a cached virtualenv of its own (``tests/venvs.py``).

dbt-core 1.11+ downloads a parser while it builds and fails to install here, so the pins
stay below it; ``openlineage-dbt`` brings ``dbt-ol``, the wrapper that emits the run's events.
"""

from __future__ import annotations

from pathlib import Path

from tests.venvs import venv_or_skip

DBT_REQUIREMENTS = ("dbt-core<1.11", "dbt-duckdb<1.11", "openlineage-dbt")


def ensure_dbt() -> tuple[Path, float]:
    """The virtualenv holding dbt, dbt-duckdb and dbt-ol, and the seconds spent installing
    it now (0.0 when cached); the test is skipped when the index is unreachable."""
    return venv_or_skip(
        "dbt-ol-1.10", DBT_REQUIREMENTS, "import dbt.adapters.duckdb, openlineage.common"
    )
