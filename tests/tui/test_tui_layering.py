"""The explorer reaches data only through the socket client: no store, no daemon internals."""

from __future__ import annotations

import json
import subprocess
import sys


def test_tui_imports_only_the_client_side_of_mdsd() -> None:
    code = "import json, sys, tui.app, tui.__main__; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(json.loads(out.stdout))
    assert not {m.split(".")[0] for m in loaded} & {"store", "rocksdict", "tantivy", "uvicorn"}
    assert {m for m in loaded if m.startswith("mdsd.")} <= {
        "mds.client",
        "mds.wire.model",
        "mds.wire.paths",
    }
