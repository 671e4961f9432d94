"""Where the daemon keeps things by default (contract 2.1)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "~/.local/share/mds"
#: without ``XDG_RUNTIME_DIR`` the socket falls back to ``{data_dir}/run/mdsd.sock``
DEFAULT_SOCKET = "$XDG_RUNTIME_DIR/mds/mdsd.sock"


def default_data_dir() -> Path:
    return Path(DEFAULT_DATA_DIR).expanduser()


def default_socket_path(data_dir: Path | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/mds/mdsd.sock``, else ``{data_dir}/run/mdsd.sock``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "mds" / "mdsd.sock"
    return (data_dir or default_data_dir()) / "run" / "mdsd.sock"
