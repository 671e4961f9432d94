"""A real MLflow tracking server for end-to-end tests, installed once and reused.

MLflow (~850 MB with its dependencies) lives in its own virtualenv under
``$MDS_TEST_CACHE`` (default ``~/.cache/mds-test``), so the fast suite never pays for it and
local runs install it once. The install is guarded by a file lock and finished by a marker
file, so an interrupted install is redone rather than half-used.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

MLFLOW_VERSION = "3.17.2"
INSTALL_TIMEOUT_SECONDS = 900.0
READY_MARKER = ".mds-ready"


class MlflowUnavailable(Exception):
    """MLflow cannot be installed here for a reason outside the code under test (no index)."""


def cache_root() -> Path:
    return Path(os.environ.get("MDS_TEST_CACHE") or Path.home() / ".cache" / "mds-test")


def package_index_reachable(timeout: float = 5.0) -> bool:
    """Can pip reach its package index (``PIP_INDEX_URL`` or PyPI) at all?"""
    url = urlsplit(os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple")
    host = url.hostname or "pypi.org"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_mlflow(version: str = MLFLOW_VERSION) -> tuple[Path, float]:
    """The virtualenv holding ``mlflow==version``, and the seconds spent installing it now
    (0.0 when it was cached). Raises ``MlflowUnavailable`` when the index is unreachable."""
    venv = cache_root() / f"mlflow-{version}"
    marker = venv / READY_MARKER
    if marker.exists():
        return venv, 0.0
    with _locked(cache_root() / f"mlflow-{version}.lock"):
        if marker.exists():  # another process installed it while we waited
            return venv, 0.0
        if not package_index_reachable():
            raise MlflowUnavailable("the Python package index is not reachable from here")
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)], 120)
        python = str(venv / "bin" / "python")
        uv = shutil.which("uv")
        install = (
            [uv, "pip", "install", "--python", python]
            if uv
            else [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        )
        _run([*install, f"mlflow=={version}"], INSTALL_TIMEOUT_SECONDS)
        _run([python, "-c", "import mlflow.server"], 120)
        marker.write_text(version)
        return venv, time.monotonic() - started


def _run(command: list[str], timeout: float) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-4000:]}"
        )


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
