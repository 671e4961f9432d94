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
from tui.nav import Location
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


#: the fewest characters a name in a row is cut to before the rest of the row gives way
MIN_NAME = 12
#: the recorded column's width: ``fmt_time``'s ``2025-01-10 09:00``
RECORDED_WIDTH = 16

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


def change_text(
    change: dict[str, Any], names: dict[str, str], recorded: str = "", room: int | None = None
) -> Text:
    """``+ status  staged``; with ``valid from`` only where the change holds from another
    moment than its transaction's ``recorded`` one (a late event, a source's own date):
    said on every row it was noise that pushed the rows past an 80-column screen. Within
    ``room`` characters the value gives way, cut with an ellipsis: what changed and when
    are the meaning, a long name or a schema's JSON is not."""
    asserted = change.get("op") != "retract"
    sign, style = ("+", "green") if asserted else ("-", "red")
    value = change.get("value")
    named = {"id": value, "name": change.get("target_name")} if change.get("target_name") else None
    shown = (display_name(named) if named else None) or value_text(value, names)
    valid = fmt_time(change["valid"]) if change.get("valid") else recorded
    what = f"{attribute_words(str(change.get('attribute')))}  "
    when = f"  valid from {valid}" if valid != recorded else ""
    if room is not None:
        shown = clip(shown, max(MIN_NAME, room - len(sign) - 1 - len(what) - len(when)))
    return fitted(
        Text.assemble((f"{sign} ", f"bold {style}"), (what, style), shown, (when, "dim")), room
    )


def fitted(text: Text, room: int | None) -> Text:
    """``text`` cut to ``room`` cells with an ellipsis, the last resort when even the
    shortened name leaves the row too long (a narrow terminal)."""
    if room is not None and text.cell_len > room:
        text.truncate(room, overflow="ellipsis")
    return text


def shown_tx(numbers: list[int], current_tx: int | None) -> int | None:
    """The transaction whose state is on screen as of ``current_tx`` (marked with ◀)."""
    if current_tx is None:
        return None
    return max((n for n in numbers if n <= current_tx), default=None)


def entity_rows(
    transactions: list[dict[str, Any]],
    names: dict[str, str],
    current_tx: int | None,
    room: int | None = None,
) -> list[Row]:
    """A row per transaction (when recorded, why) and one per change below it, each at
    most ``room`` characters in the change column."""
    rows: list[Row] = []
    ordered = sorted(transactions, key=lambda t: int(t.get("tx", 0)), reverse=True)
    marked = shown_tx([int(t.get("tx", 0)) for t in ordered], current_tx)
    for tx in ordered:
        number = int(tx.get("tx", 0))
        group = f"tx {number}" + (" ◀" if number == marked else "")
        later = current_tx is not None and number > current_tx  # after the as-of moment
        recorded = fmt_time(tx.get("at"))
        changes = sorted(
            tx.get("changes", []), key=lambda c: (str(c.get("attribute")), c.get("op") != "retract")
        )
        # most changes of a transaction hold from one moment (a source's date): said once
        usual = _usual_valid(changes, recorded)
        when = f"  valid from {usual}" if usual != recorded else ""
        said = cause_text(tx.get("cause"))
        if room is not None:
            said = clip(said, max(MIN_NAME, room - len(when)))
        cause = Text(said, style="dim" if later else "bold")
        cause.append(when, style="dim")
        rows.append(Row((recorded, fitted(cause, room)), group=group, data=number))
        rows += [
            Row(("", change_text(c, names, usual, room)), group=group, data=number) for c in changes
        ]
    return rows


def _usual_valid(changes: list[dict[str, Any]], recorded: str) -> str:
    """The valid time most of ``changes`` hold from, as shown (``recorded`` if none says)."""
    moments = Counter(fmt_time(c["valid"]) if c.get("valid") else recorded for c in changes)
    return moments.most_common(1)[0][0] if moments else recorded


def global_rows(
    transactions: list[dict[str, Any]],
    names: dict[str, str],
    current_tx: int | None,
    room: int | None = None,
) -> list[Row]:
    """A row per transaction: why, the entities it touched (their names give way first
    within ``room``: the cause and the size are what the row means) and its size."""
    rows = []
    for tx in sorted(transactions, key=lambda t: int(t.get("tx", 0)), reverse=True):
        number = int(tx.get("tx", 0))
        entities = tx.get("entities", [])
        said = {**names, **(tx.get("names") or {})}
        touched = ", ".join(said.get(e) or native_id(e) for e in entities[:3])
        more = f" +{len(entities) - 3}" if len(entities) > 3 else ""
        cause = cause_text(tx.get("cause"))
        size = f"  {tx.get('datoms', '')} datoms" if tx.get("datoms") else ""
        if room is not None:
            cause = clip(cause, max(MIN_NAME, room - 2 - MIN_NAME - len(more) - len(size)))
            touched = clip(touched, max(MIN_NAME, room - len(cause) - 2 - len(more) - len(size)))
        text = Text.assemble((cause, "bold"), "  ", (touched + more, "dim"), size)
        rows.append(
            Row(
                (fmt_time(tx.get("at")), fitted(text, room)),
                group=f"tx {number}" + (" ◀" if number == current_tx else ""),
                data=number,
            )
        )
    return rows


class HistoryScreen(ListScreen):
    #: a transaction's row: when mds recorded it (system time); its changes' rows each say
    #: from when the change holds (valid time)
    COLUMNS: ClassVar[tuple[str, ...]] = ("recorded", "change")

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        #: the last answer, drawn again to fit when the terminal is resized
        self._answer: dict[str, Any] | None = None

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        if self.entity_id is None:
            self._answer = await self.client.history(limit=100, **self.moments)
            self.location.title = "all"
        else:
            self._answer = await self.client.history(self.entity_id, limit=100, **self.moments)
            self.location.title = self.mds.names.get(self.entity_id) or native_id(self.entity_id)
        self._draw()

    def on_resize(self) -> None:
        """Rows are cut to the width: a wider terminal shows more of each name again.
        Drawn after the layout: a table's rows replaced during it keep the old widths."""
        if self._answer is not None:
            self.call_after_refresh(self._draw)

    def _draw(self) -> None:
        assert self._answer is not None
        transactions = self._answer.get("transactions", [])
        current = self.mds.as_of_tx
        room = self._change_room(transactions, marked=current is not None)
        if self.entity_id is None:
            rows = global_rows(transactions, self.mds.names, current, room)
            self._summary("Latest transactions of the whole graph", "")
        else:
            rows = entity_rows(transactions, self.mds.names, current, room)
            self._summary(
                "History of ", self.location.title, f": {counted(len(transactions), 'transaction')}"
            )
        self.show_rows(rows)

    def _change_room(self, transactions: list[dict[str, Any]], marked: bool) -> int:
        """How many characters the change column has, so every row fits the screen: the
        width less the other columns (``tx N``, `` ◀`` when a row is ``marked`` as the
        one on screen, the recorded time), each cell's padding and the vertical
        scrollbar's room, taken whether or not it shows."""
        table = self.table
        padding = 2 * table.cell_padding
        numbers = (len(f"tx {t.get('tx', 0)}") for t in transactions)
        tx_label = max(numbers, default=0) + (2 if marked else 0)
        taken = (tx_label + padding) + (RECORDED_WIDTH + padding) + padding
        width = self.size.width or self.app.size.width  # the table spans the page
        return max(MIN_NAME, width - taken - table.styles.scrollbar_size_vertical)

    def _summary(self, head: str, name: str, tail: str = "") -> None:
        """The headline on one line: the name gives way, the count and the hint stay."""
        hint = "   enter: the graph as of that moment"
        summary = self.query_one("#summary", Static)
        width = (self.size.width or self.app.size.width) - 3  # its padding, and a cell spare
        if name:
            room = width - len(head) - len(tail) - len(hint)
            name = clip(name, max(MIN_NAME, min(TITLE_WIDTH, room)))
        text = Text(head + name + tail, style="bold", no_wrap=True, overflow="ellipsis")
        text.append(hint, style="dim")
        summary.update(text)

    def activate(self, row: Row) -> None:
        if isinstance(row.data, int):
            self.mds.travel_to(row.data, self.entity_id)
