"""The entity page: who and what it is, its per-type sections and every relationship.

One generic page serves every entity type; :mod:`tui.sections` adds the type-specific
parts. Relationships are one list grouped by direction and type, so Enter follows any of
them and ``p`` explains an inferred one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from mds.wire import JSON
from tui.format import (
    ago,
    badge,
    clip,
    fmt_time,
    name_of,
    names,
    native_id,
    parse_time,
    staleness_style,
    status_text,
    tags_text,
)
from tui.nav import Location
from tui.screens.info import InfoScreen
from tui.screens.listing import ListScreen
from tui.sections import LAID_OUT, Link, Section, load_sections
from tui.widgets.lists import NavTable, Row


def header_text(entity: JSON, past: bool = False, width: int | None = None) -> Text:
    """Name, type and record status (always: "resolved" is what tells a hydrated entity
    from a stub), id, description, owners, tags and times.

    In a ``past`` view, ages count to the moment shown, not to now: "enriched 5m ago"
    beside a page of last Tuesday would be about today. Within ``width`` columns, when it
    was enriched goes on a line of its own rather than wrap mid-phrase."""
    view = entity.get("as_of") or {}
    then = parse_time(view.get("valid_time") or view.get("at")) if past else None
    text = Text.assemble(badge(entity.get("entity_type")), " ", (name_of(entity), "bold"))
    text.append("  ")
    text.append_text(status_text(entity.get("status") or "resolved"))
    text.append(f"  {entity.get('entity_type', '')}", style="dim")
    text.append(f"\n{entity.get('id', '')}", style="dim")
    if entity.get("status") == "deleted":
        text.append("\nDeleted: its source no longer has it, so it has no relationships now. ")
        text.append("{", style="bold")
        text.append(" shows it as it was before, ")
        text.append("h", style="bold")
        text.append(" when it changed.")
    description = entity.get("description")
    # in the past, an absent field is one no source had dated by then: unknown, not empty
    missing = "not known then" if then else None
    text.append("\n")
    text.append(
        str(description)
        if description
        else f"description {missing}"
        if missing
        else "no description",
        style="" if description else "dim italic",
    )
    owners = entity.get("owners_resolved") or [{"id": o} for o in entity.get("owners", [])]
    text.append("\nOwners   ", style="bold")
    text.append(
        names(owners, limit=6) if owners else f"— ({missing})" if missing else "none",
        style="green" if owners else "dim" if missing else "yellow",
    )
    if entity.get("tags"):
        text.append("\nTags     ", style="bold")
        text.append_text(tags_text(entity["tags"]))
    text.append("\nCreated  ", style="bold")
    text.append(fmt_time(entity.get("created_at")))
    text.append("   Updated ", style="bold")
    updated = entity.get("updated_at")
    text.append(f"{fmt_time(updated)} ({ago(updated, then)}{' then' if then else ''})")
    enriched = entity.get("last_enriched_at")
    stale = bool(entity.get("stale"))
    enriched_at = parse_time(enriched)
    if then and enriched_at and enriched_at > then:
        # enrichment is mds's own work, on its own clock: after the moment shown
        said, style = f"{fmt_time(enriched)} (after this moment)", "dim"
    else:
        said = ago(enriched, then) + (" then" if then and enriched else "")
        said += "  STALE" if stale else ""
        style = staleness_style(enriched, stale, then)
    line = text.plain.rsplit("\n", 1)[-1]
    fits = width is None or len(line) + len("   Enriched ") + len(said) <= width
    text.append("   Enriched " if fits else "\nEnriched ", style="bold")
    text.append(said, style=style)
    return text


def attributes_text(entity: JSON, shown: frozenset[str] = frozenset()) -> Text:
    """The attributes in one line, but those a section lays out (``shown``, and the
    structured ones of ``LAID_OUT``)."""
    text = Text()
    for key, value in sorted((entity.get("attributes") or {}).items()):
        if value in (None, "") or key in LAID_OUT or key in shown:
            continue
        if text:
            text.append("   ")
        text.append(f"{key} ", style="dim")
        text.append(clip(value, 40))
    return text


def relationship_rows(entity: JSON) -> list[Row]:
    """Relationships grouped by direction and type, outgoing first; inferred ones marked.
    Where names repeat (every test's "control" cell), the native id tells them apart."""
    relationships = sorted(
        entity.get("relationships", []),
        key=lambda r: (
            r.get("direction") != "out",
            str(r.get("type")),
            bool(r.get("inferred")),
            name_of(r).lower(),
        ),
    )
    targets = {r.get("target"): name_of(r) for r in relationships}
    repeated = Counter(targets.values())  # names of different entities, not one in two roles
    rows = []
    for rel in relationships:
        arrow = "→" if rel.get("direction") == "out" else "←"
        target_type = rel.get("target_type")
        note = Text("inferred · p", style="italic magenta") if rel.get("inferred") else Text("")
        name = Text.assemble(badge(target_type), " ", name_of(rel))
        if repeated[name_of(rel)] > 1 and rel.get("target"):
            name.append(f"  {native_id(rel['target'])}", style="dim")
        rows.append(
            Row(
                cells=(
                    name,
                    Text(str(target_type or ""), style="dim"),
                    note,
                ),
                group=f"{arrow} {rel.get('type')}",
                target=rel.get("target"),
                data=rel,
            )
        )
    return rows


#: the fewest cells a related entity's badge and name are cut to, however narrow the page
MIN_NAME = 16
#: the fewest cells a row's note (a field's description) is cut to before the name is
MIN_NOTE = 6


def fit_names(rows: list[Row], width: int, table: NavTable) -> list[Row]:
    """``rows`` cut with an ellipsis so each fits ``width`` columns: a section's note (a
    field's description) gives way first, then the badge and name; the relationship, the
    type and a relationship's "inferred · p" are what a row means and stay whole. The
    vertical scrollbar's room is kept whether or not it shows."""
    if not rows:
        return rows
    group = max(len(row.group) for row in rows)
    types = max(cell_width(row.cells[1]) for row in rows)
    padding = 2 * table.cell_padding
    room = width - group - types - 4 * padding - table.styles.scrollbar_size_vertical
    names = max(cell_width(row.cells[0]) for row in rows)
    notes = max(cell_width(row.cells[2]) for row in rows)
    if names + notes <= room:
        return rows
    kept = max((cell_width(r.cells[2]) for r in rows if isinstance(r.data, dict)), default=0)
    note_room = max(MIN_NOTE, kept, room - names)
    name_room = max(MIN_NAME, room - min(notes, note_room))
    return [cut(row, name_room, note_room) for row in rows]


def cut(row: Row, name_room: int, note_room: int) -> Row:
    """``row`` with its name and its note cut to their room (the filter still matches
    what they said whole)."""
    cells = list(row.cells)
    for index, room in ((0, name_room), (2, note_room)):
        cell = cells[index]
        if isinstance(cell, Text) and cell.cell_len > room:
            cell = cell.copy()
            cell.truncate(room, overflow="ellipsis")
            cells[index] = cell
    return replace(row, cells=tuple(cells), search=row.haystack())


def cell_width(cell: object) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


def link_rows(links: list[Link]) -> list[Row]:
    return [
        Row(
            cells=(
                Text.assemble(badge(link.entity_type), " ", link.name),
                Text(link.entity_type or "", style="dim"),
                Text(link.note, style="dim"),
            ),
            group=link.group,
            target=link.id or None,
            data=link.opens,
        )
        for link in links
    ]


def provenance_text(rel: JSON, names: dict[str, str]) -> Text:
    provenance = rel.get("provenance") or {}
    text = Text.assemble(
        ("Rule  ", "bold"), str(provenance.get("rule", "?")), "\n\n", ("Path", "bold")
    )
    for step, entity_id in enumerate(provenance.get("path", [])):
        kind = entity_id.split("/")[2] if entity_id.startswith("aip://") else ""
        text.append(f"\n{'  ' * step}{'└ ' if step else ''}")
        text.append(names.get(entity_id) or native_id(entity_id), style="bold")
        text.append(f"  {kind}", style="dim")
    return text


def _seen(task: asyncio.Task[JSON]) -> None:
    """Take a task's failure, so an answer nobody awaited is not reported as lost."""
    if not task.cancelled():
        task.exception()


class EntityScreen(ListScreen):
    """Any entity; the per-type sections load after the page so it appears at once."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("related", "type", "")
    #: an entity page left for good is given the next entity to show (:mod:`tui.kept_pages`)
    REUSABLE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "provenance", "Provenance", id="provenance"),
    ]

    def __init__(self, location: Any) -> None:
        super().__init__(location)
        self.entity: JSON | None = None
        self._relationship_rows: list[Row] = []
        #: rows the sections add; a reload shows the last ones until the sections load again,
        #: so the cursor stays on the row it was on
        self._link_rows: list[Row] = []
        #: the first answer, asked for while the page's widgets mount (~20 ms) rather than
        #: after: the daemon's time hides under the mounting
        self._first: asyncio.Task[JSON] | None = None
        #: set when the sections of the last load are drawn (or will not be)
        self._sections_drawn = asyncio.Event()

    def compose_top(self) -> ComposeResult:
        self._ask_first()
        with VerticalScroll(id="summary"):
            yield Static(id="header")
            yield Static(id="attributes")
            # every section in one widget: mounting one per section laid the page out and
            # painted it twice more on each Enter
            sections = Static(id="sections", classes="section")
            sections.display = False  # until there are some: no blank line meanwhile
            yield sections

    def _ask_first(self) -> None:
        assert self.entity_id is not None
        self._first = asyncio.create_task(self.client.entity(self.entity_id, **self.moments))
        self._first.add_done_callback(_seen)  # a page replaced before it loads never asks

    def forget(self) -> None:
        """The last entity's header, sections and relationships go; the next one is asked
        for at once, as a page being built asks while it mounts."""
        super().forget()
        self.workers.cancel_group(self, "sections")
        self.entity = None
        self._relationship_rows = []
        self._link_rows = []
        self.query_one("#header", Static).update("")
        for part in ("#attributes", "#sections"):
            self.query_one(part, Static).update("")
            self.query_one(part, Static).display = False
        self.query_one("#summary", VerticalScroll).scroll_home(animate=False)
        self._ask_first()

    async def load(self) -> None:
        assert self.entity_id is not None
        first, self._first = self._first, None
        entity = await (first or self.client.entity(self.entity_id, **self.moments))
        self.note_as_of(entity)
        self.entity = entity
        self.location.title = name_of(entity)
        names = self.mds.names
        names[entity["id"]] = name_of(entity)
        names.update(
            (r["target"], r["target_name"])
            for r in entity.get("relationships", [])
            if r.get("target_name")
        )
        names.update(
            (o["id"], o["name"]) for o in entity.get("owners_resolved", []) if o.get("name")
        )
        self._draw_header()
        attributes = attributes_text(entity)
        self.query_one("#attributes", Static).update(attributes)
        self.query_one("#attributes", Static).display = bool(attributes)
        self._relationship_rows = relationship_rows(entity)
        self._show_all_rows()
        self._sections_drawn = asyncio.Event()
        self._load_sections(entity, self._sections_drawn)

    def _draw_header(self) -> None:
        if self.entity is not None:
            width = (self.size.width or self.app.size.width) - 3  # the summary's padding
            header = header_text(self.entity, past=self.mds.travelling, width=width)
            self.query_one("#header", Static).update(header)

    def on_resize(self) -> None:
        """The header's lines and the rows' names are fitted to the width: fitted again
        (the rows after the layout: a table's rows replaced during it keep the old widths)."""
        self._draw_header()
        if self.entity is not None:
            self.call_after_refresh(self._show_all_rows)

    def _show_all_rows(self) -> None:
        shown = {row.target for row in self._relationship_rows}
        rows = self._relationship_rows + [r for r in self._link_rows if r.target not in shown]
        self.show_rows(fit_names(rows, (self.size.width or self.app.size.width), self.table))

    async def content_ready(self) -> None:
        """Loaded, and its sections drawn: with them in the first paint, the page is laid
        out once rather than again when they arrive (they change the summary's height)."""
        await super().content_ready()
        if self.entity is not None:
            await self._sections_drawn.wait()

    @work(exclusive=True, group="sections", exit_on_error=False)
    async def _load_sections(self, entity: JSON, drawn: asyncio.Event) -> None:
        try:
            sections = await load_sections(self.client, entity, self.moments)  # never raises
            if not self.is_attached:
                return
            self._draw_sections(sections)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not take the page down with it
            self.log.error("drawing sections failed", exc)
            self.notify(f"Could not draw the sections: {exc}", severity="error")
        finally:
            drawn.set()

    def _draw_sections(self, sections: list[Section]) -> None:
        if self.entity is not None:  # what the sections lay out leaves the attribute line
            shown = frozenset().union(*(section.shows for section in sections))
            attributes = attributes_text(self.entity, shown)
            line = self.query_one("#attributes", Static)
            line.update(attributes)
            line.display = bool(attributes)
        bodies = Text("\n\n").join(
            Text.assemble((section.title, "bold underline"), "\n", section.body)
            for section in sections
        )
        drawn = self.query_one("#sections", Static)
        drawn.update(bodies)
        drawn.display = bool(sections)
        links = link_rows([link for section in sections for link in section.links])
        if links or self._link_rows:
            self._link_rows = links
            self._show_all_rows()

    def activate(self, row: Row) -> None:
        """Enter on a row: the page a section's row names (a field's lineage), else the
        entity at its other end."""
        if isinstance(row.data, Location):
            self.mds.go(row.data)
        else:
            super().activate(row)

    def action_provenance(self) -> None:
        row = self.table.current
        rel = row.data if row is not None else None
        if not isinstance(rel, dict):
            self.notify("Highlight a relationship first.", severity="warning")
            return
        if rel.get("inferred"):
            title = f"{name_of(self.entity or {})} {rel.get('type')} {name_of(rel)} (inferred)"
            self.app.push_screen(InfoScreen(title, provenance_text(rel, self.mds.names)))
        else:
            declared_by = (
                name_of(self.entity or {}) if rel.get("direction") == "out" else name_of(rel)
            )
            self.notify(f"Declared: from the source payload of {declared_by}.", title="Provenance")
