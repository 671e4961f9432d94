"""Running a real ``mdsd`` process for end-to-end tests and benchmarks.

A ``DaemonProcess`` writes a config, starts ``python -m mdsd --config`` on a private socket
and data dir, waits until it answers, and can be killed (SIGKILL included) and restarted on
the same data: exactly what a user's machine does to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from mds.client import Client

SOURCES = ("registry", "orchestrator", "featurestore", "experiments", "datasets", "identity")


@dataclass(frozen=True)
class CliResult:
    """One ``mds`` run: its exit status, stdout and stderr; ``json`` decodes stdout."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def config_toml(
    data_dir: Path,
    socket: Path,
    base_url: str,
    *,
    enrichment_interval: float = 1.0,
    retry_seconds: float = 0.5,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    default_limits: bool = False,
) -> str:
    """A daemon config with every source at ``base_url`` and test-friendly timings.

    Sources are unthrottled (a local simulator needs no protecting): 5,000 reads/s and 32 in
    flight each, against the defaults' 200/s and 8. With ``default_limits`` each source
    table holds only its ``base_url``, as in a user's minimal config: the default rate,
    burst, concurrency and backoff apply."""
    lines = [
        "[daemon]",
        f'data_dir = "{data_dir}"',
        f'socket = "{socket}"',
        'log_level = "info"',
        *_keys((extra or {}).get("daemon", {})),
        "",
        "[enrichment]",
        f"interval_seconds = {enrichment_interval}",
        f"retry_seconds = {retry_seconds}",
        "",
    ]
    for key in SOURCES:
        lines += [f"[sources.{key}]", f'base_url = "{base_url}"']
        if not default_limits:
            lines += [
                "rate_per_second = 5000.0",
                "burst = 500",
                "concurrency = 32",
                "backoff_base_seconds = 0.05",
                "backoff_max_seconds = 1.0",
                "breaker_reset_seconds = 1.0",
            ]
        lines.append("")
    for table, values in (extra or {}).items():
        if table != "daemon":  # its keys joined the [daemon] table above
            lines += [f"[{table}]", *_keys(values), ""]
    return "\n".join(lines)


def _keys(values: Mapping[str, Any]) -> list[str]:
    """``key = value`` lines of a TOML table (strings, numbers and booleans)."""
    return [f"{k} = {json.dumps(v)}" for k, v in values.items()]


class DaemonProcess:
    """``mdsd`` as a child process. Use as a context manager or call start/stop."""

    def __init__(self, workdir: Path, base_url: str, **config: Any) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.socket = workdir / "run" / "mdsd.sock"
        self.config_path = workdir / "mdsd.toml"
        self.log_path = workdir / "mdsd.log"
        self.config_path.write_text(config_toml(self.data_dir, self.socket, base_url, **config))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> DaemonProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mdsd", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mdsd exited with {self.process.returncode}:\n{self.log()}")
            if self._answers():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"mdsd did not become ready in {timeout}s:\n{self.log()}")

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            transport = httpx.HTTPTransport(uds=str(self.socket))
            with httpx.Client(transport=transport, base_url="http://mds", timeout=2) as http:
                return http.get("/v1/status").status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` and wait for the process to end; its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        return self.kill(signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> Client:
        return Client(self.socket)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run one ``Client`` method to completion from synchronous test code."""

        async def run() -> Any:
            async with self.client() as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(run())

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
