"""The architecture, enforced: store knows no daemon or screen; the TUI reaches data only
through the socket client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def _top_levels(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_store_imports_no_daemon_tui_or_textual() -> None:
    loaded = _top_levels(_modules_after_import("store"))
    assert not loaded & {"mdsd", "tui", "textual", "starlette", "uvicorn"}


@pytest.mark.parametrize("module", ["mds.client", "mds.wire.model"])
def test_client_side_modules_import_no_store(module: str) -> None:
    loaded = _top_levels(_modules_after_import(module))
    assert "store" not in loaded
    assert "rocksdict" not in loaded
