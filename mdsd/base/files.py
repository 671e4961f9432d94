"""Small files the daemon rewrites whole (stages' state, sidecars, manifests)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any, **dump: Any) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably: a crash leaves the
    old file or the new one, never half of either."""
    temporary = path.with_name(f"{path.name}.tmp")
    with temporary.open("w") as f:
        json.dump(data, f, **dump)
        f.flush()
        os.fsync(f.fileno())
    temporary.replace(path)
