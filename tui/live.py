"""The live link to the daemon: the status poll and the change stream.

Both loops run for the app's whole life and never raise: a daemon that is down, restarting
or too old to stream shows up in the status line, with reconnects backing off, and the
page on screen is refreshed when a transaction touches what it shows.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import Any, Protocol

from textual import Logger

from mds.client import AccessDenied, ApiError, DaemonUnavailable
from tui.host import Host
from tui.widgets.chrome import StatusInfo, replica_lag

MAX_BACKOFF = 15.0
#: a change stream that ends sooner than this after opening is reopened with backoff
STREAM_OPEN_AFTER = 1.0


#: what the status line says of a remote daemon's refusal, by HTTP status
REFUSALS = {
    401: "token unknown or revoked",
    403: "the token's scope is too low",
    429: "too many failed attempts from here: wait",
}


class LiveHost(Host, Protocol):
    """The app as the live link sees it: a host that runs workers and shows a status."""

    #: what the status line shows; the link replaces it as news arrives
    status_info: StatusInfo

    @property
    def status_interval(self) -> float:
        """Seconds between status polls."""

    @property
    def log(self) -> Logger:
        """Textual's log."""

    def run_worker(
        self, work: Coroutine[Any, Any, None], *, group: str, exit_on_error: bool
    ) -> object:
        """Run ``work`` for the app's life."""

    def notify(self, message: str, *, timeout: float | None = None) -> None:
        """A toast."""


class LiveLink:
    """Keeps the app's status line and the page on screen in step with the daemon."""

    def __init__(self, app: LiveHost) -> None:
        self.app = app

    def start(self) -> None:
        self.app.run_worker(self.poll_status(), group="status", exit_on_error=False)
        self.app.run_worker(self.follow_changes(), group="changes", exit_on_error=False)

    @property
    def info(self) -> StatusInfo:
        return self.app.status_info

    def _set(self, **changes: Any) -> None:
        self.app.status_info = dataclasses.replace(self.info, **changes)

    # -- status ---------------------------------------------------------------------------

    async def poll_status(self) -> None:
        """Poll ``/v1/status``; while the daemon is away, back off and say so."""
        delay = 1.0
        while True:
            was = self.info.state
            try:
                status = await self.app.client.status()
            except DaemonUnavailable as exc:
                message = str(exc).split(";")[0]
                self._set(state="down", message=message, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            except AccessDenied as exc:
                # the client asks no more after a 401 (nor before a 429's wait is out)
                self._set(state="refused", message=REFUSALS.get(exc.status, exc.code))
                if exc.status == 401:
                    self.app.notify(exc.message, timeout=30)
                    return
            except ApiError as exc:
                self._set(state="starting" if exc.status == 503 else "down", message=exc.message)
            except Exception as exc:
                self.app.log.error("status poll failed", exc)
                self._set(state="down", message=str(exc))
            else:
                self.status_received(status, was)
            delay = 1.0
            await asyncio.sleep(self.app.status_interval)

    def status_received(self, status: dict[str, Any], was: str) -> None:
        previous_tx = self.info.last_tx
        self.app.status_info = info = StatusInfo(
            "up",
            entities=status.get("entities"),
            stubs=status.get("stubs"),
            pending=status.get("pending"),
            dead_letters=status.get("dead_letters"),
            last_tx=status.get("last_tx"),
            last_tx_at=status.get("last_tx_at"),
            stream=self.info.stream,
            storage=storage_problem(status),
            replica_lag=replica_lag(status),
        )
        page = self.app.page
        if page is None:
            return
        page.status_changed(status)
        if was == "down":
            self.app.notify("Reconnected to the daemon.", timeout=3)
            if page.failure is not None and page.failure.kind == "down":
                page.reload()
        elif (
            info.stream != "on"
            and previous_tx is not None
            and (info.last_tx or 0) > previous_tx
            and not self.app.travelling
            and page.entity_id is not None
        ):
            page.refresh_live()  # no change stream: a new transaction is all we know

    # -- changes --------------------------------------------------------------------------

    async def follow_changes(self) -> None:
        """Follow ``/v1/changes``; reopen it whenever it ends, backing off on failures.

        The stream is "on" as soon as the daemon accepts it: an idle daemon sends no
        change for a long while. One that refuses it raises, and is retried with backoff.
        """
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            opened = loop.time()
            accepted = received = False

            def on_open() -> None:
                nonlocal accepted
                accepted = True
                self._stream("on")

            try:
                async for change in self.app.client.changes(on_open=on_open):
                    received, delay = True, 0.5
                    self.change_received(change)
                if received or (accepted and loop.time() - opened > STREAM_OPEN_AFTER):
                    # A clean end after a while (restart, proxy, long poll): reopen at once.
                    await asyncio.sleep(0.2)
                    continue
                self._stream("off")  # accepted, then ended at once: back off below
            except DaemonUnavailable:
                self._stream("off")
            except Exception as exc:
                self.app.log.error("change stream failed", exc)
                self._stream("off")
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _stream(self, state: str) -> None:
        if self.info.stream != state:
            self._set(stream=state)

    def change_received(self, change: dict[str, Any]) -> None:
        """A committed transaction: note it, and refresh the page if it shows what changed."""
        tx = change.get("tx")
        if isinstance(tx, int):
            self._set(last_tx=tx, last_tx_at=change.get("at"))
        page = self.app.page
        touched = set(change.get("entities", []))
        if not self.app.travelling and page is not None and page.touches(touched):
            page.refresh_live()


def storage_problem(status: dict[str, Any]) -> str | None:
    """What stops the daemon writing, in a few words; None while its storage is fine."""
    storage = status.get("storage") or {}
    if storage.get("state", "ok") == "ok":
        return None
    return "disk full" if storage.get("kind") == "no_space" else "storage fault"
