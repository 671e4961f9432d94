"""History: what changed in which transaction, as a diff; Enter travels to that moment.

With an entity: its transactions (when mds recorded them: system time) and their asserted
(+) and retracted (-) facts, each with its valid time (from when it holds). Without:
the latest transactions of the whole graph. Either way the row's transaction becomes the
as-of moment, which is the quickest way into time travel. Like every view it is cut at the
moments shown (``known_at``: the transactions recorded by then; ``as_of``: the changes
valid by then); the version on screen is marked ◀.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mds.graph.labels import display_name
from tui.format import TITLE_WIDTH, clip, counted, fmt_time, native_id
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row

#: cause keys shown bare (what happened), then as key=value (why); others are left out
CAUSE_WHAT = ("origin", "event_type", "kind")
CAUSE_WHY = ("rule", "source", "event_id", "reason")


def cause_text(cause: Any) -> str:
    if not isinstance(cause, dict):
        return "" if cause is None else clip(cause, 60)
    parts = [str(cause[k]) for k in CAUSE_WHAT if cause.get(k) not in (None, "")]
    parts += [f"{k}={cause[k]}" for k in CAUSE_WHY if cause.get(k) not in (None, "")]
    if not parts:
        parts = [f"{k}={v}" for k, v in cause.items() if v not in (None, "", [], {})]
    return clip(" · ".join(parts), 70)


def value_text(value: Any, names: dict[str, str], name: str | None = None) -> str:
    """A fact's value for people: names for ids (``name``, the daemon's, else one seen
    before), ``tag=value`` for tags."""
    if isinstance(value, str) and value.startswith("aip://"):
        return name or names.get(value) or native_id(value)
    if isinstance(value, dict) and "tag" in value:
        return f"{value['tag']}={value.get('value', '')}"
    return clip(value, 70)


#: where the store keeps a source's own attributes and mds's: a change says them by name
_NAMESPACES = ("attr/", "entity/")


def attribute_words(attribute: str) -> str:
    """``status`` for ``attr/status`` or ``entity/status``, ``tested_in →`` for
    ``rel/tested_in``, ``id`` for ``db/xid``: a change says what, not where mds keeps it."""
    if attribute == "db/xid":
        return "id"
    if attribute.startswith("rel/"):
        return f"{attribute[len('rel/') :]} →"
    for prefix in _NAMESPACES:
        if attribute.startswith(prefix):
            return attribute[len(prefix) :]
    return attribute


def change_text(change: dict[str, Any], names: dict[str, str], recorded: str = "") -> Text:
    """``+ status  staged``; with ``valid from`` only where the change holds from another
    moment than its transaction's ``recorded`` one (a late event, a source's own date):
    said on every row it was noise that pushed the rows past an 80-column screen."""
    asserted = change.get("op") != "retract"
    sign, style = ("+", "green") if asserted else ("-", "red")
    value = change.get("value")
    named = {"id": value, "name": change.get("target_name")} if change.get("target_name") else None
    shown = (display_name(named) if named else None) or value_text(value, names)
    valid = fmt_time(change["valid"]) if change.get("valid") else recorded
    return Text.assemble(
        (f"{sign} ", f"bold {style}"),
        (f"{attribute_words(str(change.get('attribute')))}  ", style),
        shown,
        (f"  valid from {valid}" if valid != recorded else "", "dim"),
    )


def shown_tx(numbers: list[int], current_tx: int | None) -> int | None:
    """The transaction whose state is on screen as of ``current_tx`` (marked with ◀)."""
    if current_tx is None:
        return None
    return max((n for n in numbers if n <= current_tx), default=None)


def entity_rows(
    transactions: list[dict[str, Any]], names: dict[str, str], current_tx: int | None
) -> list[Row]:
    rows: list[Row] = []
    ordered = sorted(transactions, key=lambda t: int(t.get("tx", 0)), reverse=True)
    marked = shown_tx([int(t.get("tx", 0)) for t in ordered], current_tx)
    for tx in ordered:
        number = int(tx.get("tx", 0))
        group = f"tx {number}" + (" ◀" if number == marked else "")
        later = current_tx is not None and number > current_tx  # after the as-of moment
        cause = Text(cause_text(tx.get("cause")), style="dim" if later else "bold")
        recorded = fmt_time(tx.get("at"))
        changes = sorted(
            tx.get("changes", []), key=lambda c: (str(c.get("attribute")), c.get("op") != "retract")
        )
        # most changes of a transaction hold from one moment (a source's date): said once
        usual = _usual_valid(changes, recorded)
        if usual != recorded:
            cause.append(f"  valid from {usual}", style="dim")
        rows.append(Row((recorded, cause), group=group, data=number))
        rows += [Row(("", change_text(c, names, usual)), group=group, data=number) for c in changes]
    return rows


def _usual_valid(changes: list[dict[str, Any]], recorded: str) -> str:
    """The valid time most of ``changes`` hold from, as shown (``recorded`` if none says)."""
    moments = Counter(fmt_time(c["valid"]) if c.get("valid") else recorded for c in changes)
    return moments.most_common(1)[0][0] if moments else recorded


def global_rows(
    transactions: list[dict[str, Any]], names: dict[str, str], current_tx: int | None
) -> list[Row]:
    rows = []
    for tx in sorted(transactions, key=lambda t: int(t.get("tx", 0)), reverse=True):
        number = int(tx.get("tx", 0))
        entities = tx.get("entities", [])
        said = {**names, **(tx.get("names") or {})}
        touched = ", ".join(said.get(e) or native_id(e) for e in entities[:3])
        if len(entities) > 3:
            touched += f" +{len(entities) - 3}"
        text = Text.assemble(
            (cause_text(tx.get("cause")), "bold"),
            "  ",
            (touched, "dim"),
            f"  {tx.get('datoms', '')} datoms" if tx.get("datoms") else "",
        )
        rows.append(
            Row(
                (fmt_time(tx.get("at")), text),
                group=f"tx {number}" + (" ◀" if number == current_tx else ""),
                data=number,
            )
        )
    return rows


class HistoryScreen(ListScreen):
    #: a transaction's row: when mds recorded it (system time); its changes' rows each say
    #: from when the change holds (valid time)
    COLUMNS: ClassVar[tuple[str, ...]] = ("recorded", "change")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        current = self.mds.as_of_tx
        if self.entity_id is None:
            answer = await self.client.history(limit=100, **self.moments)
            rows = global_rows(answer.get("transactions", []), self.mds.names, current)
            self.location.title = "all"
            head = "Latest transactions of the whole graph"
        else:
            answer = await self.client.history(self.entity_id, limit=100, **self.moments)
            rows = entity_rows(answer.get("transactions", []), self.mds.names, current)
            name = self.mds.names.get(self.entity_id) or native_id(self.entity_id)
            self.location.title = name
            count = len(answer.get("transactions", []))
            head = f"History of {clip(name, TITLE_WIDTH)}: {counted(count, 'transaction')}"
        self.show_rows(rows)
        summary = Text(head, style="bold")
        summary.append("   enter: the graph as of that moment", style="dim")
        self.query_one("#summary", Static).update(summary)

    def activate(self, row: Row) -> None:
        if isinstance(row.data, int):
            self.mds.travel_to(row.data, self.entity_id)
