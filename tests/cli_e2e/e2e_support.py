"""Running the real programs: ``mdsd --config`` and ``mds`` as subprocesses, and looking at
a process from the outside (its listening sockets, what another user gets from its socket).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from api_world import Truth

from mds.testing import CliResult as Result
from mds.testing import config_toml
from simulator import SimulatorThread

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _program(name: str, module: str) -> list[str]:
    """The installed console script beside this interpreter, else ``python -m module``."""
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


MDSD = _program("mdsd", "mdsd")
MDS = _program("mds", "mds")


@dataclass
class Mdsd:
    """A running ``mdsd --config`` process and where it lives."""

    process: subprocess.Popen[bytes]
    socket: Path
    data_dir: Path
    log: Path

    @classmethod
    def start(cls, home: Path, base_url: str) -> Mdsd:
        """Write a config under ``home``, start the daemon and wait until it answers."""
        home.mkdir(parents=True, exist_ok=True)
        config = home / "mdsd.toml"
        sock, data = home / "run" / "mdsd.sock", home / "data"
        config.write_text(
            config_toml(data, sock, base_url, enrichment_interval=5.0, retry_seconds=2.0)
        )
        log = home / "mdsd.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*MDSD, "--config", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        daemon = cls(process, sock, data, log)
        daemon.wait_ready()
        return daemon

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mdsd exited with {self.process.returncode}:\n{self.output}")
            if self.socket.exists():
                try:
                    with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket))) as http:
                        if http.get("http://mds/v1/status").status_code == 200:
                            return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"mdsd did not answer within {START_TIMEOUT_S}s:\n{self.output}")

    def terminate(self) -> int:
        """SIGTERM, and the exit status once it has shut down."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def mds(self, *args: str, stdin: bytes | None = None) -> Result:
        return mds(*args, "--socket", str(self.socket), stdin=stdin)


def mds(*args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None) -> Result:
    """Run the ``mds`` CLI; its exit status, stdout and stderr."""
    done = subprocess.run(
        [*MDS, *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert "Traceback" not in err, err
    return Result(done.returncode, out, err)


# -- a process seen from outside -----------------------------------------------------------------


def tcp_listeners(pid: int) -> set[int]:
    """Inodes of the TCP sockets in LISTEN state that process ``pid`` holds open.

    ``/proc/PID/net/tcp*`` lists every socket of the process's network namespace, so the
    listening ones are matched with the process's own descriptors (``socket:[INODE]``).
    """
    listening: set[int] = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if path.exists():
            for row in path.read_text().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    listening.add(int(fields[9]))
    held: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            held.add(int(target[len("socket:[") : -1]))
    return listening & held


REQUEST = b"GET /v1/status HTTP/1.1\r\nHost: mds\r\nConnection: close\r\n\r\n"


def _ask(path: Path) -> str:
    """What one request on the socket gets: ``denied``, ``closed`` or ``answered: ...``."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(10)
    try:
        client.connect(str(path))
    except PermissionError:
        return "denied"
    try:
        client.sendall(REQUEST)
        data = client.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    finally:
        client.close()
    return f"answered: {data[:40]!r}" if data else "closed"


def ask_as(uid: int, path: Path) -> str:
    """``_ask`` from a forked child that switched to ``uid`` (and its group) first.

    The child only makes system calls and leaves with ``os._exit``, so forking a process
    that runs threads (the simulator's) is safe here. ``setuid failed: ...`` means this
    process may not switch users.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        except OSError as exc:
            outcome = f"setuid failed: {exc}"
        else:
            try:
                outcome = _ask(path)
            except BaseException as exc:
                outcome = f"error: {exc!r}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


def can_switch_users() -> str | None:
    """None if this process may take another uid, else why not."""
    if not hasattr(os, "fork") or not hasattr(os, "setuid"):
        return "no fork/setuid on this platform"
    if os.geteuid() != 0:
        return f"running as uid {os.geteuid()}, not root: cannot switch to another user"
    return None


@dataclass
class Platform:
    """A simulated platform and the daemon that has ingested all of it."""

    simulator: SimulatorThread
    daemon: Mdsd
    #: the world as loaded
    truth: Truth
