"""The page chrome: breadcrumbs, the as-of bar and the status line.

They live on every page but show app-wide state, so each watches the app's reactives
instead of being told by the screens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

from rich.text import Text
from textual.widgets import Static

from mds.wire import JSON
from tui.format import TITLE_WIDTH, clip, fmt_time
from tui.host import Host
from tui.textual_internals import unwatch


@dataclass(frozen=True)
class StatusInfo:
    """What the status line shows; replaced as a whole so watchers fire once per change."""

    state: str = "connecting"  # connecting | up | starting | down | refused
    message: str = ""
    entities: int | None = None
    stubs: int | None = None
    pending: int | None = None
    dead_letters: int | None = None
    last_tx: int | None = None
    last_tx_at: str | None = None
    stream: str = "off"  # on | off | unavailable
    retry_in: float | None = None
    #: while the daemon's disk fails (full, or I/O errors), what it says: writing is paused
    storage: str | None = None
    #: a replica (``mdsd replica``): its lag behind the primary, None on a primary
    replica_lag: ReplicaLag | None = None


@dataclass(frozen=True)
class ReplicaLag:
    """How far a replica is behind its primary, from its status."""

    #: 0 in step; None until the broker first said
    seconds: float | None
    messages: int | None
    error: str | None

    @classmethod
    def of(cls, lag: JSON) -> ReplicaLag:
        """From the ``replica`` part of a status."""
        return cls(lag.get("behind_seconds"), lag.get("behind_messages"), lag.get("last_error"))

    def describe(self) -> tuple[str, str]:
        """What the status line says of it, and in which style."""
        if self.error:
            return "replica: not following", "bold red"
        if self.seconds is None:
            return "replica: connecting", "yellow"
        if self.seconds == 0:
            return "replica, in step", "dim"
        return f"replica, {self.seconds:.1f}s behind", "yellow"


def replica_lag(status: JSON) -> ReplicaLag | None:
    """A replica's lag from its status; None from a primary's."""
    lag = status.get("replica")
    return ReplicaLag.of(lag) if isinstance(lag, dict) else None


class OneLine(Static):
    """A line of chrome: one line high whatever it says (``app.tcss``)."""

    _shown: Text | None = None

    def show(self, text: Text) -> None:
        """Draw ``text`` unless it is already shown. The size never changes, so this repaints
        the line and never lays the page out again: the breadcrumbs, key bar and status
        line were each redrawn several times per page opened, and every layout re-rendered
        the whole screen."""
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)


class _AppWatcher(OneLine):
    """Shows one of the app's reactives, ``WATCHES``, through ``_refresh``."""

    WATCHES: ClassVar[str]

    @property
    def mds(self) -> Host:
        return cast("Host", self.app)

    def on_mount(self) -> None:
        self.watch(self.app, self.WATCHES, self._refresh, init=True)

    def on_unmount(self) -> None:
        """Take our watcher off the app, or the app keeps this page alive (see ``unwatch``)."""
        unwatch(self.app, self.WATCHES, self)

    def _refresh(self, value: Any) -> None:
        raise NotImplementedError


class Breadcrumbs(_AppWatcher):
    """Where you are and how you got here; ``[``/``]`` move along it."""

    WATCHES = "nav_version"

    def on_resize(self) -> None:
        """Shortened for a narrow terminal, whole again once it is wide enough."""
        self._refresh()

    def _refresh(self, _version: int = 0) -> None:
        history = self.mds.history
        labels = [clip(location.label(), TITLE_WIDTH) for location in history.trail(5)]
        ahead = f"   ] {history.ahead} ahead" if history.ahead else ""
        # the oldest crumbs give way first: where you are is what must stay on the line
        skipped = 0
        while True:
            text = self._trail(labels[skipped:], skipped > 0, ahead)
            if text.cell_len <= self.app.size.width or skipped >= len(labels) - 1:
                break
            skipped += 1
        self.show(text)

    @staticmethod
    def _trail(labels: list[str], elided: bool, ahead: str) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" mds ", style="bold reverse")
        if elided:
            text.append(" › …", style="dim")  # noqa: RUF001
        for index, label in enumerate(labels):
            text.append(" › ", style="dim")  # noqa: RUF001
            text.append(label, style="bold" if index == len(labels) - 1 else "")
        text.append(ahead, style="dim")
        return text


class AsOfBar(_AppWatcher):
    """A loud bar while time travelling, so nobody mistakes the past for the present; it
    says which axis each moment is on (valid time, or as mds knew it)."""

    WATCHES = "as_of_label"

    def _refresh(self, label: str) -> None:
        self.display = bool(label)
        self.show(
            Text(f" ⏱  {label}   ", style="bold")
            + Text("{ } step · @ change (known WHEN: as mds knew it) · :asof now", style="italic")
        )


class StatusLine(_AppWatcher):
    """Which daemon (its context, or its URL when remote), the connection, pending events
    and the last transaction, polled from ``/v1/status``; under time travel it says the
    page is of the past, never "live"."""

    WATCHES = "status_info"
    _info: StatusInfo = StatusInfo()

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "as_of_label", lambda _: self._refresh(self._info))

    def on_unmount(self) -> None:
        super().on_unmount()
        unwatch(self.app, "as_of_label", self)

    def on_resize(self) -> None:
        self._refresh(self._info)

    def _refresh(self, info: StatusInfo) -> None:
        """The line, with its least needed parts left out until it fits: the time of the
        last transaction first, then its number, the stub count and an empty queue; the
        connection, the counts that need action and whether it is live always stay."""
        self._info = info
        room = (self.size.width or self.app.size.width - 2) - 1
        for dropped in range(len(_SPARED) + 1):
            text = self._line(info, frozenset(_SPARED[:dropped]))
            if text.cell_len <= room:
                break
        self.show(text)

    def _line(self, info: StatusInfo, left_out: frozenset[str]) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        target = self.mds.client.target
        remote = target.context or target.server  # the local socket goes without saying
        if remote:
            text.append(f"[{remote}] ", style="bold cyan")
        if info.state == "up":
            text.append("● connected", style="bold green")
        elif info.state == "starting":
            text.append("◌ daemon starting", style="bold yellow")
        elif info.state == "refused":
            text.append(f"✗ refused: {info.message}", style="bold red")
        elif info.state == "down":
            text.append("✗ daemon unavailable", style="bold red")
            if info.retry_in is not None:
                text.append(f" — retrying in {info.retry_in:.0f}s", style="red")
        else:
            text.append("◌ connecting…", style="yellow")
        if info.state in ("up", "starting"):
            if info.entities is not None:
                text.append(f"  {info.entities:,} entities", style="dim")
            if info.stubs and "stubs" not in left_out:
                text.append(f" · {info.stubs:,} stubs", style="dim")
            if info.replica_lag is not None:
                said, style = info.replica_lag.describe()
                text.append(f"  {said}", style=style)
            elif info.pending is not None and (info.pending or "pending" not in left_out):
                style = "yellow" if info.pending else "dim"
                text.append(f"  pending {info.pending:,}", style=style)
            if info.dead_letters:
                text.append(f"  dead letters {info.dead_letters:,} (:status)", style="red")
            if info.storage:
                text.append(f"  ⚠ {info.storage}: paused", style="bold red")
            if info.last_tx is not None and "last tx" not in left_out:
                text.append(f"  last tx {info.last_tx}", style="dim")
                if info.last_tx_at and "last tx at" not in left_out:
                    text.append(f" ({fmt_time(info.last_tx_at)})", style="dim")
            if self.mds.travelling:
                # the page is of the past: changes arriving do not redraw it
                text.append("  ⏱ past view", style="bold yellow")
            else:
                text.append("  live ", style="dim")
                text.append(
                    {"on": "on", "off": "connecting", "unavailable": "off"}.get(
                        info.stream, info.stream
                    ),
                    style="green" if info.stream == "on" else "dim",
                )
        elif info.message:
            text.append(f"  {info.message}", style="dim")
        return text


#: the parts of the status line left out, in this order, while it does not fit
_SPARED = ("last tx at", "last tx", "stubs", "pending")
