"""``mds-tui --demo``: bring up ``mdsd demo`` when nobody answers, and take it down after.

Only a daemon this module started is ever stopped; one that was already running is left
alone, so ``--demo`` is safe to use against a daemon someone else runs. On Linux the demo is
also told to stop when the explorer dies without its ``finally`` (a closed terminal's
SIGHUP, SIGKILL): it never outlives the explorer that started it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path


class DemoError(Exception):
    """The demo daemon could not be started; the message includes the end of its log."""


def socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def mdsd_command() -> list[str]:
    """``mdsd`` from the same environment as this interpreter."""
    script = Path(sys.executable).with_name("mdsd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mdsd"]


#: prctl(2) option: the signal a process gets when the thread that started it ends
_PR_SET_PDEATHSIG = 1


def _stop_with(parent: int) -> None:
    """In the demo's process, before exec: SIGTERM it when ``parent`` dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above: nobody will signal
        os.kill(os.getpid(), signal.SIGTERM)


class DemoDaemon:
    def __init__(
        self, socket_path: Path, *, timeout: float = 60.0, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        #: more ``mdsd demo`` arguments (``--size 200``), for tests
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def ensure(self) -> bool:
        """Start ``mdsd demo`` unless a daemon answers; True when this call started one."""
        if socket_answers(self.socket_path):
            return False
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        fd, log_name = tempfile.mkstemp(prefix="mds-tui-demo-", suffix=".log")
        self.log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                [*mdsd_command(), "demo", "--socket", str(self.socket_path), *self.extra_args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=partial(_stop_with, os.getpid()) if sys.platform == "linux" else None,
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(
                    f"`mdsd demo` exited with {self.process.returncode}:\n{self._log_tail()}"
                )
            if socket_answers(self.socket_path):
                return True
            time.sleep(0.1)
        self.stop()
        raise DemoError(
            f"`mdsd demo` did not open {self.socket_path} within {self.timeout:.0f}s:\n{self._log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the demo's process group (a clean daemon shutdown), SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def _log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text) + f"\n(full log: {self.log_path})"
