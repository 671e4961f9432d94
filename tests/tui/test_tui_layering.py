"""tui imports ``mds``, Textual and stdlib/third-party packages only: never the daemon, the
store or any other package of this project, so the explorer reaches data only through the
socket client and installs without the daemon's dependencies."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the packages of this project; of these, tui may import only itself and ``mds``
PROJECT = {init.parent.name for init in ROOT.glob("*/__init__.py")}
ALLOWED = {"tui", "mds"}


def _imported(source: Path) -> set[str]:
    """The top-level packages ``source`` imports anywhere, deferred imports included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_tui_imports_mds_textual_and_stdlib_or_third_party_only() -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "tui").rglob("*.py")
        for name in _imported(path) & (PROJECT - ALLOWED)
    }
    assert not wrong


def test_what_tui_imports_loads_no_other_package_of_the_project() -> None:
    """The same rule through ``mds``: what it loads in turn is not the daemon either."""
    code = "import json, sys, tui.app, tui.__main__; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = {name.partition(".")[0] for name in json.loads(out.stdout)}
    assert loaded & PROJECT <= ALLOWED
