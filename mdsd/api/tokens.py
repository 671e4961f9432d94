"""Bearer tokens for the TCP listener: made and revoked by ``mdsd token``, checked by the daemon.

A token is ``mds_`` and 43 url-safe characters (256 random bits), shown once when made. Only
its HMAC-SHA256 under a secret key is stored: a copy of the token file alone lets nobody in,
and with 256 bits behind it a fast keyed hash is as safe as a slow password hash while
costing a microsecond per request. Both files live in ``{data_dir}/auth/`` (0700), each
0600; a file another user could read or write is refused, not used. ``mdsd token`` changes
the file whether or not the daemon runs (whole-file replaces under a lock), and the daemon
looks at the file's identity on every request, so a new or revoked token counts at once.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mds.wire.moments import iso_epoch

log = logging.getLogger(__name__)

AUTH_DIR = "auth"
TOKENS_FILE = "tokens.json"
KEY_FILE = "key"
#: when each token was last used, as the daemon saw it (the daemon writes it, nobody else)
USED_FILE = "used.json"
LOCK_FILE = "lock"
PREFIX = "mds_"
#: a token's name: what ``list`` and ``revoke`` call it, and the logs
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: the daemon writes the last uses at most this often: an exact time is not worth a write
#: per request
USED_FLUSH_SECONDS = 60.0


class Scope(enum.IntEnum):
    """What a token may do; each scope also allows everything below it."""

    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Scope:
        try:
            return cls[label.upper()]
        except KeyError:
            raise TokenError(f"scope must be read, write or admin, not {label!r}") from None


class TokenError(ValueError):
    """A token command that cannot be done, or a token file that cannot be trusted."""


@dataclass(frozen=True, slots=True)
class Token:
    """One stored token: never the token itself, only its keyed hash."""

    name: str
    scope: Scope
    digest: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scope": self.scope.label,
            "hash": self.digest,
            "created_at": self.created_at,
        }


def _private(path: Path) -> None:
    """Refuse ``path`` unless it is this user's and nobody else may read or write it."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        raise TokenError(f"{path} is not a regular file of this user: refusing to use it")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise TokenError(
            f"{path} is open to other users (mode {mode:04o}): refusing to use it; check it, "
            f"then `chmod 600 {path}`"
        )


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` whole with ``data``, 0600 whatever the umask, never half-written."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)


def _read_key(folder: Path) -> bytes:
    path = folder / KEY_FILE
    _private(path)
    key = path.read_bytes()
    if len(key) < 32:
        raise TokenError(f"{path} is not a key mdsd made (too short): revoke and remake tokens")
    return key


def digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def _load(folder: Path) -> list[Token]:
    path = folder / TOKENS_FILE
    _private(path)
    try:
        raw = json.loads(path.read_bytes())
        return [
            Token(t["name"], Scope.named(t["scope"]), t["hash"], t["created_at"])
            for t in raw["tokens"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError(f"{path} is not a token file mdsd wrote: {exc}") from None


class TokenFolder:
    """``{data_dir}/auth``: what ``mdsd token create|list|revoke`` change and read."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / AUTH_DIR

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One ``mdsd token`` command at a time changes the file (the daemon only reads)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _key(self) -> bytes:
        """The secret key, made on first use (0600, never replaced: it would void every
        token)."""
        path = self.path / KEY_FILE
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, secrets.token_bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
        return _read_key(self.path)

    def tokens(self) -> list[Token]:
        return _load(self.path) if (self.path / TOKENS_FILE).exists() else []

    def create(self, name: str, scope: Scope) -> str:
        """A new token called ``name``; the token itself, which is kept nowhere."""
        if not NAME.fullmatch(name):
            raise TokenError(
                f"token name {name!r}: letters, digits, '.', '_' and '-', at most 64, "
                "starting with a letter or digit"
            )
        with self._locked():
            key = self._key()
            tokens = self.tokens()
            if any(t.name == name for t in tokens):
                raise TokenError(
                    f"a token named {name!r} exists: revoke it first, or pick another name"
                )
            token = PREFIX + secrets.token_urlsafe(32)
            tokens.append(Token(name, scope, digest(key, token), iso_epoch(time.time()) or ""))
            self._save(tokens)
        return token

    def revoke(self, name: str) -> bool:
        """Remove the token called ``name``; False when there is none."""
        with self._locked():
            tokens = self.tokens()
            kept = [t for t in tokens if t.name != name]
            if len(kept) == len(tokens):
                return False
            self._save(kept)
        return True

    def last_used(self) -> dict[str, str]:
        """Name -> when the daemon last let it in (to the minute), for ``mdsd token list``."""
        path = self.path / USED_FILE
        if not path.exists():
            return {}
        try:
            used = json.loads(path.read_bytes())
        except ValueError:
            return {}
        return used if isinstance(used, dict) else {}

    def _save(self, tokens: list[Token]) -> None:
        body = json.dumps({"tokens": [t.to_json() for t in tokens]}, indent=1)
        _write_private(self.path / TOKENS_FILE, body.encode())


class TokenChecker:
    """The daemon's view of the token file, read again whenever the file is replaced.

    A file that cannot be trusted (another user's, open to others, garbled) lets nobody in:
    it is logged once per change, and ``problem`` says why in ``mds status``."""

    def __init__(self, data_dir: Path, clock: Any = time.time) -> None:
        self.folder = TokenFolder(data_dir)
        self.clock = clock
        self._seen: tuple[int, int, int, int] | None = None
        self._key = b""
        self._tokens: list[Token] = []
        self.problem: str | None = None
        self._used: dict[str, str] = {}
        self._used_flushed = 0.0

    def current(self) -> list[Token]:
        """The tokens as the file holds them now (a ``stat`` per call, a read per change)."""
        path = self.folder.path / TOKENS_FILE
        try:
            info = path.stat()
        except FileNotFoundError:
            self._seen, self._tokens, self.problem = None, [], None
            return []
        seen = (info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode)
        if seen != self._seen:
            self._seen = seen
            try:
                self._tokens = _load(self.folder.path)
                self._key = _read_key(self.folder.path) if self._tokens else b""
                self.problem = None
            except (TokenError, OSError) as exc:
                self._tokens, self._key = [], b""
                self.problem = str(exc)
                log.error("no token is accepted: %s", exc)
        return self._tokens

    def check(self, presented: str) -> Token | None:
        """The stored token ``presented`` is, compared in constant time with every one."""
        tokens = self.current()
        if not tokens or not presented.startswith(PREFIX):
            return None
        wanted = digest(self._key, presented)
        found = None
        for token in tokens:  # no early exit: the time taken says nothing of which matched
            if hmac.compare_digest(token.digest, wanted):
                found = token
        if found is not None:
            self._note_use(found.name)
        return found

    def _note_use(self, name: str) -> None:
        now = self.clock()
        self._used[name] = iso_epoch(now - now % 60) or ""
        if now - self._used_flushed >= USED_FLUSH_SECONDS:
            self._used_flushed = now
            try:
                merged = {**self.folder.last_used(), **self._used}
                _write_private(self.folder.path / USED_FILE, json.dumps(merged).encode())
            except OSError as exc:  # a last-used time is not worth failing a request for
                log.warning("could not record when tokens were last used: %s", exc)
