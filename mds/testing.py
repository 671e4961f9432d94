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
from collections.abc import Mapping, Sequence
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
    flight each, against the defaults' 200/s and 8, and reconciliation runs only when asked.
    With ``default_limits`` each source table holds only its ``base_url``, as in a user's
    minimal config: the default rate, burst, concurrency, backoff and reconciliation
    interval apply."""
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
    # a test's daemon reconciles when the test asks (``mds reconcile``), not every 4 minutes
    # in the middle of it; a user's minimal config keeps the default
    quiet = {} if default_limits else {"interval_seconds": 3600.0}
    reconcile = {**quiet, **(extra or {}).get("reconcile", {})}
    if reconcile:
        lines += ["[reconcile]", *_keys(reconcile), ""]
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
    # the simulator's warehouse namespace (its OpenLineage landing jobs) is the datasets
    # source's, as ``mdsd demo`` maps it
    namespaces = {"warehouse": "datasets", **(extra or {}).get("openlineage.namespaces", {})}
    lines += ["[openlineage.namespaces]", *_keys(namespaces), ""]
    for table, values in (extra or {}).items():
        if table not in ("daemon", "reconcile", "openlineage.namespaces"):  # joined above
            lines += [f"[{table}]", *_keys(values), ""]
    return "\n".join(lines)


def _keys(values: Mapping[str, Any]) -> list[str]:
    """``key = value`` lines of a TOML table (strings, numbers and booleans)."""
    return [f"{k} = {json.dumps(v)}" for k, v in values.items()]


class DaemonProcess:
    """``mdsd`` as a child process. Use as a context manager or call start/stop."""

    def __init__(
        self,
        workdir: Path,
        base_url: str,
        *,
        tls: bool = False,
        command: Sequence[str] = (),
        **config: Any,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        #: the ``mdsd`` command line after the config: ``("replica",)`` for a replica
        self.command = list(command)
        self.data_dir = workdir / "data"
        self.socket = workdir / "run" / "mdsd.sock"
        self.config_path = workdir / "mdsd.toml"
        self.log_path = workdir / "mdsd.log"
        #: the CA that signed the TCP listener's certificate (with ``tls``), for ``--cacert``
        self.cacert = workdir / "tls" / "ca.pem"
        if tls:
            extra = dict(config.pop("extra", None) or {})
            extra["api"] = {**extra.get("api", {}), **self._make_certificates()}
            config["extra"] = extra
        self.config_path.write_text(config_toml(self.data_dir, self.socket, base_url, **config))
        self.process: subprocess.Popen[bytes] | None = None

    def _make_certificates(self) -> dict[str, str]:
        """A CA, and a certificate it signed for 127.0.0.1 and localhost: the ``[api]``
        keys of a TLS listener on a free loopback port."""
        import trustme  # only tests of the TCP listener need it (the test extras have it)

        folder = self.cacert.parent
        folder.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.cacert))
        issued = ca.issue_cert("127.0.0.1", "localhost")
        issued.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
        for pem in issued.cert_chain_pems[1:]:
            pem.write_to_path(str(folder / "server.pem"), append=True)
        issued.private_key_pem.write_to_path(str(folder / "server.key"))
        os.chmod(folder / "server.key", 0o600)
        return {
            "listen": "127.0.0.1:0",
            "tls_cert": str(folder / "server.pem"),
            "tls_key": str(folder / "server.key"),
        }

    def start(self, timeout: float = 60.0) -> DaemonProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mdsd", "--config", str(self.config_path), *self.command],
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

    @property
    def server_url(self) -> str:
        """``https://HOST:PORT`` of the TCP listener, as the running daemon bound it."""
        status = self._status()
        remote = status.get("remote") or {}
        if not remote.get("listen"):
            raise RuntimeError("this mdsd has no TCP listener: DaemonProcess(..., tls=True)")
        scheme = "https" if remote["tls"] else "http"
        return f"{scheme}://{remote['listen']}"

    def _status(self) -> dict[str, Any]:
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, base_url="http://mds", timeout=10) as http:
            answer: dict[str, Any] = http.get("/v1/status").raise_for_status().json()
            return answer

    def token(self, name: str, scope: str) -> str:
        """A new token ``name`` of ``scope``, made by ``mdsd token create`` (whether or not
        the daemon runs, as a user would)."""
        done = subprocess.run(
            [sys.executable, "-m", "mdsd", "token", "create", name, "--scope", scope,
             "--config", str(self.config_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"mdsd token create failed ({done.returncode}): {done.stderr}")
        return done.stdout.strip()

    def revoke(self, name: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "mdsd", "token", "revoke", name, "--config", str(self.config_path)],
            capture_output=True, timeout=60, check=True,
        )  # fmt: skip

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
