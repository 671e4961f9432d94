"""Where the daemon keeps things by default (contract 2.1), after the XDG base directories.

``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME`` have defaults of their own in the XDG spec
(``~/.local/share``, ``~/.config``) used when they are unset or empty; ``XDG_RUNTIME_DIR``
has none, so a socket under it falls back to the data dir instead.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "$XDG_DATA_HOME/mds"
#: without ``XDG_RUNTIME_DIR`` the socket falls back to ``{data_dir}/run/mdsd.sock``
DEFAULT_SOCKET = "$XDG_RUNTIME_DIR/mds/mdsd.sock"
#: the XDG base directories that have a default when unset, as the spec gives them
XDG_DEFAULTS = {"XDG_DATA_HOME": "~/.local/share", "XDG_CONFIG_HOME": "~/.config"}


def xdg_home(variable: str) -> Path:
    """``$XDG_DATA_HOME`` or ``$XDG_CONFIG_HOME``, else the spec's default for it."""
    return Path(os.environ.get(variable) or XDG_DEFAULTS[variable]).expanduser()


def default_data_dir() -> Path:
    return xdg_home("XDG_DATA_HOME") / "mds"


def default_config_path() -> Path:
    """Where ``mdsd`` looks for its config when given none (and ``MDS_CONFIG`` is unset)."""
    return xdg_home("XDG_CONFIG_HOME") / "mds" / "config.toml"


def default_socket_path(data_dir: Path | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/mds/mdsd.sock``, else ``{data_dir}/run/mdsd.sock``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "mds" / "mdsd.sock"
    return (data_dir or default_data_dir()) / "run" / "mdsd.sock"
