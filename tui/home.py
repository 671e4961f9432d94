"""What the first screen says before anything is typed: what the graph holds, by kind,
what needs a look (dead letters, a source down), and what changed last, so the explorer
opens on something to do, as k9s and lazygit open on their lists."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from mds.graph.labels import kind_label
from mds.wire import JSON
from mds.wire.model import TYPE_OF_KIND
from tui.format import ago, counted, kind_of

#: states of a source (its circuit breaker's) that need a look
TROUBLED = frozenset({"open", "half_open"})


def overview(status: JSON) -> Text:
    """``2,941 entities: 45 MODEL · 300 INST …`` and, when there are, the dead letters and
    the sources in trouble."""
    text = Text.assemble((f"{status.get('entities', 0):,}", "bold"), " entities")
    kinds = sorted((status.get("kinds") or {}).items(), key=lambda kv: -kv[1])
    if kinds:
        text.append(": ")
        text.append(" · ".join(f"{n:,} {kind_label(kind)}" for kind, n in kinds), style="dim")
    letters = int(status.get("dead_letters") or 0)
    troubled = sorted(
        name
        for name, source in (status.get("sources") or {}).items()
        if str(source.get("state")) in TROUBLED
    )
    if letters or troubled:
        text.append("\n")
    if letters:
        text.append(f"{counted(letters, 'dead letter')} (:status)", style="bold red")
    if troubled:
        text.append(("  ·  " if letters else "") + f"sources in trouble: {', '.join(troubled)}")
        text.stylize("yellow", len(text) - len(", ".join(troubled)))
    return text


def yours(count: int, most: int) -> Text:
    """``  ·  yours: 12 (:mine)``: how many entities the user owns."""
    shown = f"{most}+" if count >= most else f"{count:,}"
    return Text.assemble("  ·  yours: ", (shown, "bold"), (" (:mine)", "dim"))


def changed(history: JSON) -> list[dict[str, Any]]:
    """The entities the latest transactions touched, newest first, each once, as search
    results (so Enter opens one); an inferred edge's internal id is left out."""
    found: dict[str, dict[str, Any]] = {}
    for tx in history.get("transactions", []):
        names = tx.get("names") or {}
        for xid in tx.get("entities", []):
            if not xid.startswith("aip://") or xid in found:
                continue
            found[xid] = {
                "id": xid,
                "name": names.get(xid) or xid.rsplit("/", 1)[-1],
                "entity_type": str(TYPE_OF_KIND.get(kind_of(xid), "")) or None,
                "changed_at": tx.get("at"),
            }
    return list(found.values())


def last_change(history: JSON) -> str:
    transactions = history.get("transactions") or []
    return f"last change {ago(transactions[0].get('at'))}" if transactions else "no change yet"
