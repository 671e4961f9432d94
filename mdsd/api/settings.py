"""The ``[api]`` config table: what one request may cost, and where the API listens on TCP.

``mdsd.config`` assembles the whole file from the rooms' tables; the API is handed this one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from serde import disabled, serde

from mdsd.base.bounds import check_minimums
from mdsd.reads.cost import ReadLimits

#: a host that is loopback by name: it resolves to 127.0.0.1 or ::1 on any sane system
LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """``[api] listen`` parsed: the host to bind (brackets of an IPv6 address removed)."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether what is sent to it stays on this machine, so plain HTTP may serve it."""
        if self.host.lower() in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: where it points is not ours to trust
            return False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``HOST:PORT`` (``[::1]:8443`` for IPv6); ``ValueError`` saying what is accepted."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(
            f'api.listen must be "HOST:PORT" (e.g. "0.0.0.0:8443", "127.0.0.1:8443", '
            f'"[::1]:8443"; port 0 picks a free one), got {text!r}'
        )
    return ListenAddress(host, int(port))


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ApiConfig:
    #: records one read may visit, repeats counted (a REST query, or a whole GraphQL request)
    read_visits: int = 500_000
    #: seconds one read may run before it is stopped with an error
    read_timeout_seconds: float = 10.0
    #: worker processes that answer the reads (REST queries and GraphQL), so that no read
    #: shares the interpreter lock with intake; 0 reads on threads of the daemon's process
    read_processes: int = 2
    #: also serve the API on TCP at "HOST:PORT", every request with a bearer token; "" is off
    listen: str = ""
    #: the certificate chain and private key (PEM) of the TCP listener; required unless
    #: ``listen`` is a loopback address, where plain HTTP does not leave the machine
    tls_cert: str = ""
    tls_key: str = ""

    def __post_init__(self) -> None:
        check_minimums(
            self,
            {"read_visits": 1, "read_timeout_seconds": 0, "read_processes": 0},
            strict={"read_timeout_seconds"},
            table="api.",
        )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("api.tls_cert and api.tls_key go together: set both, or neither")
        if not self.listen:
            if self.tls_cert:
                raise ValueError('api.tls_cert is set but api.listen is "" (TCP is off)')
            return
        address = parse_listen(self.listen)
        if not address.loopback and not self.tls_cert:
            raise ValueError(
                f"api.listen {self.listen!r} is not a loopback address, so it needs TLS: set "
                "api.tls_cert and api.tls_key (plain HTTP is allowed only on 127.0.0.0/8, ::1 "
                "or localhost, where it does not leave the machine)"
            )

    def read_limits(self) -> ReadLimits:
        return ReadLimits(visits=self.read_visits, seconds=self.read_timeout_seconds)

    @property
    def listen_address(self) -> ListenAddress | None:
        """Where the TCP listener binds, or None when TCP is off."""
        return parse_listen(self.listen) if self.listen else None

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    @property
    def tls_files(self) -> tuple[str, str] | None:
        """(certificate, key) with ``~`` expanded, or None for plain HTTP."""
        if not self.tls_cert:
            return None
        return str(Path(self.tls_cert).expanduser()), str(Path(self.tls_key).expanduser())
