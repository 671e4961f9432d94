"""Which daemon ``mds`` and ``mds-tui`` talk to, and with what credentials.

Precedence: flags (``--server``, ``--socket``, ``--context``) over the environment
(``MDS_SERVER``, ``MDS_SOCKET``) over the current context of ``mds context use`` over the
local socket. A token (``--token-file`` over ``MDS_TOKEN``) and a CA (``--cacert`` over
``MDS_CACERT``) go with any server; a context's own token file and CA only with the
context's server, so a token is never sent to a server it was not kept for.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mds.contexts import DEFAULT, ContextError, load
from mds.wire.paths import default_socket_path


class TargetError(Exception):
    """The target cannot be used as given (a bad URL, an unsafe token file): nothing sent."""


@dataclass(frozen=True, slots=True)
class Target:
    """A daemon to talk to: a Unix socket, or a server URL with its token and CA."""

    socket: Path | None = None
    server: str | None = None
    token: str | None = field(default=None, repr=False)
    cacert: Path | None = None
    #: the context it came from, if any (``mds-tui`` shows it)
    context: str | None = None

    def __str__(self) -> str:
        where = self.server or (str(self.socket) if self.socket else "the in-process app")
        return f"{where} (context {self.context})" if self.context else where


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # only a server URL asks: a command on the socket need not load it

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url(value: str) -> str:
    """``value`` as a base URL: ``https://`` when it names no scheme; ``http://`` only on a
    loopback host, where the daemon may serve plain HTTP and a token does not cross a
    network."""
    url = value.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetError(f"{value!r} is not a server URL; use https://HOST:PORT")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise TargetError(
            f"{value}: plain http is for a loopback address only (a token would cross the "
            "network in clear text); use https://"
        )
    return url


def read_token_file(path: Path) -> str:
    """The token in ``path``, refused (as ssh refuses a private key) when the file is
    another user's or group or others may read or write it."""
    try:
        info = path.stat()
        text = path.read_text()
    except OSError as exc:
        raise TargetError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    if info.st_uid not in (os.getuid(), 0):
        raise TargetError(f"token file {path} belongs to uid {info.st_uid}, not to you")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise TargetError(
            f"token file {path} is open to others (mode {mode:04o}); "
            f"make it yours alone: chmod 600 {path}"
        )
    token = text.strip()
    if not token:
        raise TargetError(f"token file {path} is empty")
    return token


def _cacert(path: Path) -> Path:
    if not path.is_file():
        raise TargetError(f"CA file {path} does not exist")
    return path


def _local_socket(env: Mapping[str, str]) -> Path:
    local = env.get("MDS_SOCKET")
    return Path(local).expanduser() if local else default_socket_path()


def resolve_socket(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--socket`` beats ``MDS_SOCKET`` beats the default socket path."""
    return Path(explicit).expanduser() if explicit else _local_socket(os.environ)


def resolve(
    *,
    server: str | None = None,
    socket: str | os.PathLike[str] | None = None,
    context: str | None = None,
    token_file: str | os.PathLike[str] | None = None,
    cacert: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """The target the flags given here, the environment and the contexts file name."""
    env = os.environ if environ is None else environ
    if sum(v is not None for v in (server, socket, context)) > 1:
        raise TargetError("name one target: --server, --socket or --context")
    token = read_token_file(Path(token_file).expanduser()) if token_file else env.get("MDS_TOKEN")
    ca = cacert or env.get("MDS_CACERT")
    ca_path = _cacert(Path(ca).expanduser()) if ca else None
    if server is not None:
        return Target(server=server_url(server), token=token, cacert=ca_path)
    if socket is not None:
        return Target(socket=Path(socket).expanduser())
    if context is None:
        if env.get("MDS_SERVER"):
            return Target(server=server_url(env["MDS_SERVER"]), token=token, cacert=ca_path)
        if env.get("MDS_SOCKET"):
            return Target(socket=_local_socket(env))
    try:
        contexts = load()
        name = context or contexts.current or DEFAULT
        if name == DEFAULT:
            return Target(socket=_local_socket(env))
        chosen = contexts.get(name)
    except ContextError as exc:
        raise TargetError(str(exc)) from None
    if token is None and chosen.token_file is not None:
        token = read_token_file(chosen.token_file)
    if ca_path is None and chosen.cacert is not None:
        ca_path = _cacert(chosen.cacert)
    return Target(server=server_url(chosen.server), token=token, cacert=ca_path, context=name)


def of_options(args: argparse.Namespace) -> Target:
    """The target of the options ``mds`` and ``mds-tui`` both take: ``--server``,
    ``--socket``, ``--context``, ``--token-file`` and ``--cacert``."""
    return resolve(
        server=args.server,
        socket=args.socket,
        context=args.context,
        token_file=args.token_file,
        cacert=args.cacert,
    )
