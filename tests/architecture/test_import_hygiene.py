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


def _loaded(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{DUMP}"], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


@pytest.mark.parametrize(
    ("code", "never"),
    [
        pytest.param(
            "import store",
            ("mdsd", "mds", "tui", "simulator", "textual", "starlette", "uvicorn"),
            id="store",
        ),
        pytest.param(
            "import mds.wire.model, mds.wire.paths, mds.wire.moments",
            ("mdsd", "store", "tui", "simulator", "mds.client", "mds.cli", "rocksdict"),
            id="mds.wire",
        ),
        pytest.param(
            "import mds.client",
            ("mdsd", "store", "tui", "simulator", "textual", "rocksdict", "tantivy"),
            id="mds.client",
        ),
        pytest.param(
            MDS_HELP,
            ("mdsd", "store", "tui", "simulator", "textual", "rocksdict", "tantivy"),
            id="mds --help",
        ),
        pytest.param(
            "import tui.app, tui.__main__",
            ("mdsd", "store", "simulator", "rocksdict", "tantivy", "uvicorn", "starlette"),
            id="tui.app",
        ),
        pytest.param(
            "import mdsd.daemon",
            ("textual", "tui", "mds.client", "mds.cli", "mds.testing", "simulator"),
            id="mdsd.daemon",
        ),
        pytest.param(
            "import mdsd.__main__",
            ("simulator", "textual", "tui", "mds.client", "mds.cli"),
            id="mdsd.__main__",
        ),
    ],
)
def test_an_entry_point_loads_nothing_it_must_not(code: str, never: tuple[str, ...]) -> None:
    assert not sorted(m for m in _loaded(code) if _within(m, never))
