"""The real ``mdsd`` against the conformance platform, asked through the real ``mds``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mds.testing import CliResult, DaemonProcess
from tests.conformance.platform import Organisation, PlatformApp, PlatformServer

IDLE_TIMEOUT_S = 90


@dataclass
class Harness:
    platform: PlatformApp
    daemon: DaemonProcess

    @property
    def org(self) -> Organisation:
        return self.platform.org

    def mds(self, *args: str, stdin: str | None = None) -> CliResult:
        """``mds ARGS --json --socket PATH`` as a subprocess, as acceptance runs it."""
        command = [sys.executable, "-m", "mds", *args, "--json"]
        command += ["--socket", str(self.daemon.socket)]
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str | None = None) -> Any:
        """The JSON of an ``mds`` command that must succeed."""
        answer = self.mds(*args, stdin=stdin)
        assert answer.code == 0, f"mds {' '.join(args)} exited {answer.code}: {answer.err}"
        return answer.json

    def ingest(self, events: list[dict[str, Any]] | list[str]) -> Any:
        lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
        return self.ok("ingest", "--allow-rejects", "-", stdin="\n".join(lines) + "\n")

    def wait_idle(self) -> None:
        answer = self.mds("wait", "--idle", "--timeout", str(IDLE_TIMEOUT_S))
        assert answer.code == 0, f"not idle: {answer.out} {answer.err}\n{self.daemon.log()[-4000:]}"

    def show(self, xid: str, *extra: str) -> Any:
        return self.ok("show", xid, *extra)


@contextmanager
def running(workdir: Path, org: Organisation, **config: Any) -> Iterator[Harness]:
    """The platform serving ``org`` and a daemon reading it, both stopped on exit."""
    platform = PlatformApp(org)
    with PlatformServer(platform) as server:
        daemon = DaemonProcess(workdir, server.base_url, **config)
        with daemon:
            yield Harness(platform, daemon)
