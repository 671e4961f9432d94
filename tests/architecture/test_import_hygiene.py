"""What importing an entry point loads, measured in a fresh interpreter.

The import contracts read the source; this is the other half: a deferred import only keeps
its promise (``mds --help`` without the daemon's stack, ``mdsd`` without the simulator) if
nothing on the way imports the module early, and only a run shows that.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

DUMP = "import json, sys; print(json.dumps(sorted(sys.modules)))"
MDS_HELP = (
    "import contextlib, io, mds.cli\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    assert mds.cli.main(['--help']) == 0\n"
)
MDS_VERSION = (
    "import contextlib, io, mds.cli\n"
    "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
    "    assert mds.cli.main(['--version']) == 0\n"
    "assert out.getvalue().startswith('mds '), out.getvalue()\n"
)

PRIMARY = (
    "import tempfile, mdsd.__main__ as m\n"
    "from mdsd.config import parse_config\n"
    "data = tempfile.mkdtemp()\n"
    "m.node(parse_config(f'[daemon]\\ndata_dir = \"{data}\"'), replica=False)\n"
)


def _loaded(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{DUMP}"], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


#: what the client side never loads: the daemon, its store and what only they need
DAEMON_SIDE = ("mdsd", "store", "simulator", "rocksdict", "tantivy")
#: what the daemon never loads: the clients and the screens
CLIENT_SIDE = ("mds.client", "mds.cli", "mds.testing", "tui", "textual")
#: what a command that starts like a native tool does without: each costs tens of ms to
#: import (httpx 56-68, asyncio 31-43, the package metadata 13-16); tests/cli's
#: test_cli_socket holds ``mds show``, ``search`` and ``status`` on a socket to the same
SLOW_START = ("httpx", "httpcore", "anyio", "asyncio", "importlib.metadata")

#: entry point -> (code that loads it, packages it must not load)
ENTRY_POINTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "store": (
        "import store",
        ("mdsd", "mds", "tui", "simulator", "textual", "starlette", "uvicorn"),
    ),
    "mds.wire": (
        "import mds.wire.model, mds.wire.paths, mds.wire.moments",
        (*DAEMON_SIDE, *CLIENT_SIDE),
    ),
    "mds.client": ("import mds.client", (*DAEMON_SIDE, "tui", "textual")),
    "mds --help": (MDS_HELP, (*DAEMON_SIDE, "tui", "textual", *SLOW_START)),
    "mds --version": (MDS_VERSION, (*DAEMON_SIDE, "tui", "textual", *SLOW_START, "mds.cli.app")),
    "mds.cli": ("import mds.cli", (*DAEMON_SIDE, "tui", "textual", *SLOW_START)),
    # grandalf (and numpy under it) when a graph is first laid out, not before the first paint
    "tui.app": (
        "import tui.app, tui.__main__",
        (*DAEMON_SIDE, "starlette", "uvicorn", "grandalf", "numpy"),
    ),
    "mdsd.daemon": ("import mdsd.daemon", (*CLIENT_SIDE, "simulator")),
    "mdsd.__main__": ("import mdsd.__main__", (*CLIENT_SIDE, "simulator")),
    # a primary without [replication] runs without the kafka extra (a plain `pip install`)
    "mdsd (the primary)": (PRIMARY, (*CLIENT_SIDE, "simulator", "aiokafka")),
}


@pytest.mark.parametrize(("code", "never"), ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_an_entry_point_loads_nothing_it_must_not(code: str, never: tuple[str, ...]) -> None:
    assert not sorted(m for m in _loaded(code) if _within(m, never))
