"""Named daemons to talk to: ``$XDG_CONFIG_HOME/mds/contexts.toml``, as ``docker context``
and kubectl's contexts keep theirs.

A context is a server URL, the file its token is in and, for a private CA, the CA file; the
file holds paths, never a token, and is written 0600 all the same (it says where the
tokens are). ``current`` names the context ``mds`` and ``mds-tui`` use when no flag or
environment variable names a target. ``default`` is not stored: it is the local socket.

Read with ``tomllib``; written with ``tomli_w`` (pyserde's TOML writer), whole, through a
temporary file renamed over the old one, so a crash never leaves half a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the name ``mds context use`` takes to go back to the local socket; never stored
DEFAULT = "default"


class ContextError(Exception):
    """The contexts file cannot be read, or a context is malformed."""


class UnknownContext(ContextError):
    """No context has that name."""


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    server: str
    token_file: Path | None = None
    cacert: Path | None = None

    def as_toml(self) -> dict[str, str]:
        table = {"server": self.server}
        if self.token_file is not None:
            table["token_file"] = str(self.token_file)
        if self.cacert is not None:
            table["cacert"] = str(self.cacert)
        return table


@dataclass(frozen=True, slots=True)
class Contexts:
    """The whole file: the contexts by name, and the one in use (None: the local socket)."""

    contexts: dict[str, Context]
    current: str | None = None

    def get(self, name: str) -> Context:
        try:
            return self.contexts[name]
        except KeyError:
            known = ", ".join([DEFAULT, *sorted(self.contexts)])
            raise UnknownContext(f"no context {name!r} (known: {known})") from None


def contexts_path() -> Path:
    """``$XDG_CONFIG_HOME/mds/contexts.toml``, else ``~/.config/mds/contexts.toml``."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "mds" / "contexts.toml"


def _path(value: Any, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ContextError(f"{where} must be a path")
    return Path(value)


def load(path: Path | None = None) -> Contexts:
    """The contexts in ``path`` (default ``contexts_path()``); none when it does not exist."""
    path = path or contexts_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Contexts({})
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextError(f"cannot read {path}: {exc}") from None
    import tomllib  # ~5 ms (it compiles its patterns): only when there is a file to read

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContextError(f"cannot read {path}: {exc}") from None
    tables = doc.get("contexts", {})
    if not isinstance(tables, dict):
        raise ContextError(f"{path}: [contexts] must be a table of tables")
    contexts = {}
    for name, table in tables.items():
        where = f"{path}: [contexts.{name}]"
        if not isinstance(table, dict) or not isinstance(table.get("server"), str):
            raise ContextError(f"{where} needs server = URL")
        contexts[name] = Context(
            name,
            table["server"],
            _path(table.get("token_file"), f"{where} token_file"),
            _path(table.get("cacert"), f"{where} cacert"),
        )
    current = doc.get("current")
    if current is not None and current not in contexts:
        raise ContextError(f"{path}: current = {current!r} names no context")
    return Contexts(contexts, current)


def save(contexts: Contexts, path: Path | None = None) -> Path:
    """Write ``contexts`` to ``path`` (default ``contexts_path()``), mode 0600."""
    # only `mds context` writes: every other command reads, and would pay ~5 ms for these
    import tempfile

    import tomli_w

    path = path or contexts_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc: dict[str, Any] = {}
    if contexts.current is not None:
        doc["current"] = contexts.current
    doc["contexts"] = {name: c.as_toml() for name, c in sorted(contexts.contexts.items())}
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".contexts-", suffix=".toml")
    try:  # mkstemp makes it 0600: the mode holds before a byte is written
        with os.fdopen(fd, "wb") as file:
            tomli_w.dump(doc, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
