"""Virtualenvs of third-party tools for end-to-end tests, installed once and reused.

A real tool the suite drives (MLflow's server, dbt with ``dbt-ol``) is often hundreds of MB
with dependencies that would clash with ours, so each lives in its own virtualenv under
``$MDS_TEST_CACHE`` (default ``~/.cache/mds-test``): the fast suite never pays for it and
local runs install it once. The install is guarded by a file lock and finished by a marker
file, so an interrupted install is redone rather than half-used.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest

INSTALL_TIMEOUT_SECONDS = 900.0
READY_MARKER = ".mds-ready"


class VenvUnavailable(Exception):
    """The tool cannot be installed here for a reason outside the code under test (no index)."""


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


def ensure_venv(name: str, requirements: Sequence[str], check: str) -> tuple[Path, float]:
    """The virtualenv ``name`` holding ``requirements``, and the seconds spent installing it
    now (0.0 when it was cached). ``check`` is Python the new venv must run without error
    before it counts as installed. Raises ``VenvUnavailable`` when the index is unreachable.
    """
    venv = cache_root() / name
    marker = venv / READY_MARKER
    if marker.exists():
        return venv, 0.0
    with _locked(cache_root() / f"{name}.lock"):
        if marker.exists():  # another process installed it while we waited
            return venv, 0.0
        if not package_index_reachable():
            raise VenvUnavailable("the Python package index is not reachable from here")
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(venv)], 120)
        python = str(venv / "bin" / "python")
        uv = shutil.which("uv")
        install = (
            [uv, "pip", "install", "--python", python]
            if uv
            else [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        )
        run([*install, *requirements], INSTALL_TIMEOUT_SECONDS)
        run([python, "-c", check], 120)
        marker.write_text("\n".join(requirements))
        return venv, time.monotonic() - started


def venv_or_skip(name: str, requirements: Sequence[str], check: str) -> tuple[Path, float]:
    """``ensure_venv`` for a test: one that cannot install its tool here is skipped."""
    try:
        return ensure_venv(name, requirements, check)
    except VenvUnavailable as exc:
        pytest.skip(f"{', '.join(requirements)} cannot be installed here: {exc}")


def run(command: list[str], timeout: float) -> None:
    """Run ``command``; a failure raises with the end of its stderr."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-4000:]}"
        )
