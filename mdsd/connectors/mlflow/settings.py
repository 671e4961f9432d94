"""The ``[mlflow]`` config table: the catch-up poll and the webhook receiver.

It lives beside the connector that reads it; ``mdsd.config`` assembles the whole file
from it, and the MLflow services are handed this table alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from serde import disabled, serde


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class MlflowConfig:
    """MLflow-only settings; the connection itself is the ``[sources.mlflow]`` table."""

    #: poll MLflow's search APIs this often for changes whose webhook delivery was lost
    #: (MLflow gives up after 3 retries); 0 disables
    catch_up_interval_seconds: float = 60.0
    #: each poll lists the runs started this recently (all of them on the first poll);
    #: an older run's later edits are found by reconciliation
    catch_up_run_window_days: float = 7.0
    #: serve the webhook receiver on webhook_host:webhook_port; 0 disables it
    webhook_port: int = 0
    webhook_host: str = "127.0.0.1"
    #: the secret MLflow signs deliveries with; ``$VAR`` is read from the environment
    webhook_secret: str = ""
    #: deliveries stamped further than this from now are refused (replay protection)
    webhook_max_age_seconds: float = 300.0

    def __post_init__(self) -> None:
        if (
            self.catch_up_interval_seconds < 0
            or self.webhook_max_age_seconds <= 0
            or self.catch_up_run_window_days <= 0
        ):
            raise ValueError(
                "mlflow.catch_up_interval_seconds must be >= 0 (0 disables), and "
                "mlflow.webhook_max_age_seconds and mlflow.catch_up_run_window_days > 0"
            )
        if not 0 <= self.webhook_port <= 65535:
            raise ValueError(f"mlflow.webhook_port must be 0..65535, got {self.webhook_port}")
        if self.webhook_port and not self.secret:
            raise ValueError(
                "mlflow.webhook_secret is required with webhook_port (unsigned deliveries "
                f"are refused); {self.webhook_secret!r} is empty or an unset variable"
            )

    @property
    def secret(self) -> str:
        expanded = os.path.expandvars(self.webhook_secret)
        return "" if expanded.startswith("$") else expanded
