"""A real MLflow tracking server for end-to-end tests, installed once and reused.

MLflow (~850 MB with its dependencies) lives in its own cached virtualenv
(``tests/venvs.py``), so the fast suite never pays for it and local runs install it once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.venvs import venv_or_skip

MLFLOW_VERSION = "3.17.2"


def ensure_mlflow(version: str = MLFLOW_VERSION) -> tuple[Path, float]:
    """The virtualenv holding ``mlflow==version``, and the seconds spent installing it now
    (0.0 when it was cached); the test is skipped when the index is unreachable."""
    return venv_or_skip(f"mlflow-{version}", [f"mlflow=={version}"], "import mlflow.server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fernet_key() -> str:
    """What ``cryptography.fernet.Fernet.generate_key()`` returns, without the dependency."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class MlflowServer:
    """``mlflow server`` on a SQLite store (webhooks need a SQL backend) on loopback."""

    def __init__(self, venv: Path, workdir: Path, port: int | None = None) -> None:
        self.venv = venv
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "mlflow-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def start(self, timeout: float = 120.0) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": fernet_key(),
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_WEBHOOK_CACHE_TTL": "1",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        command = [
            self.python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.workdir / 'db.sqlite'}",
            "--default-artifact-root",
            str(self.workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            # its own session: the server forks workers, and stop() ends the whole group
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    self.started_in = time.monotonic() - started
                    return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"mlflow server not ready in {timeout}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client_script(self, code: str, env: Mapping[str, str] | None = None) -> Any:
        """Run ``code`` with MLflow's Python client against this server, in MLflow's venv.

        The script prints one JSON value on its last line of stdout; that value is returned.
        """
        done = subprocess.run(
            [self.python, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=self.workdir,
            env={
                **os.environ,
                **(env or {}),
                "MLFLOW_TRACKING_URI": self.url,
                "GIT_PYTHON_REFRESH": "quiet",
            },
        )
        if done.returncode != 0:
            raise RuntimeError(f"client script failed ({done.returncode}):\n{done.stderr[-4000:]}")
        lines = done.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
