"""The ``:`` command line: what it understands, parsed into a small value the app executes.

One table (:data:`COMMANDS`) feeds the parser, the completion of the command line, the
command palette and the help screen, so they cannot drift apart.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from mds.wire.model import KIND_OF, EntityType
from tui.asof import normalize_as_of, parse_moments
from tui.format import USAGE_KINDS, kind_of
from tui.host import Host
from tui.nav import Location

#: plural and short names people type for a kind listing (``:models``)
KIND_WORDS: dict[str, str] = {
    "models": EntityType.MODEL,
    "instances": EntityType.MODEL_INSTANCE,
    "pipelines": EntityType.PIPELINE,
    "runs": EntityType.PIPELINE_RUN,
    "features": EntityType.FEATURE,
    "views": EntityType.FEATURE_VIEW,
    "services": EntityType.FEATURE_SERVICE,
    "datasets": EntityType.DATASET,
    "versions": EntityType.DATASET_VERSION,
    "tests": EntityType.AB_TEST,
    "abtests": EntityType.AB_TEST,
    "cells": EntityType.AB_TEST_CELL,
    "users": EntityType.USER,
    "teams": EntityType.TEAM,
}
KIND_WORDS.update({kind: et for et, kind in KIND_OF.items()})


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    help: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("open", ":open ID", "open an entity by its aip:// id"),
    CommandSpec("search", ":search QUERY", "search (filters: type:model owner:alice tag:k=v)"),
    CommandSpec("owners", ":owners [QUERY]", "search people and teams"),
    CommandSpec("models", ":models  :datasets  :features  :tests …", "list entities of a kind"),
    CommandSpec(
        "asof",
        ":asof WHEN [known WHEN]",
        "time travel: WHEN is valid time (1h, 3d, 2025-01-01), `known WHEN` as mds knew it "
        "then, tx:N both; `:asof now` to go live",
    ),
    CommandSpec("lineage", ":lineage [up|down]", "lineage tree of the current entity"),
    CommandSpec("impact", ":impact", "downstream impact and owners to notify"),
    CommandSpec("usage", ":usage", "A/B tests of a model or instance, models of a test"),
    CommandSpec("history", ":history", "changes of the current entity (or of everything)"),
    CommandSpec(
        "diff",
        ":diff WHEN",
        "what changed about the current entity since WHEN (3d, 2025-01-01): facts, lineage",
    ),
    CommandSpec("path", ":path ID [ID]", "how the current entity (or the first ID) reaches ID"),
    CommandSpec("quality", ":quality", "the daemon's data quality report"),
    CommandSpec("bookmarks", ":bookmarks", "the entities marked with b"),
    CommandSpec("mine", ":mine", "the entities you own (mds-tui --me OWNER)"),
    CommandSpec("status", ":status", "the daemon, its sources and dead letters (redrive them)"),
    CommandSpec("reload", ":reload", "fetch the current page again"),
    CommandSpec("theme", ":theme [NAME]", "colour theme: the list without NAME (or --theme)"),
    CommandSpec("help", ":help", "keys and commands"),
    CommandSpec("q", ":q", "back; quit at the first page (`:q!` quits)"),
)

_ALIASES = {
    "o": "open",
    "e": "open",
    "s": "search",
    "find": "search",
    "as-of": "asof",
    "at": "asof",
    "now": "asof",
    "live": "asof",
    "quit": "q!",
    "exit": "q!",
    "qa": "q!",
    "r": "reload",
    "dead": "status",
    "bm": "bookmarks",
    "marks": "bookmarks",
    "deadletters": "status",
}


class CommandError(ValueError):
    """The command line cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    @property
    def arg(self) -> str:
        return " ".join(self.args)


def parse_command(text: str) -> Command:
    """``":asof 2025-01-01"`` -> ``Command("asof", ("2025-01-01",))``."""
    line = text.strip().removeprefix(":").strip()
    if not line:
        raise CommandError("empty command; try :help")
    if line.startswith("aip://"):
        return Command("open", (line,))
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    head, args = words[0].lower(), tuple(words[1:])
    if head in ("now", "live"):
        return Command("asof", ("now",))
    head = _ALIASES.get(head, head)
    if head in KIND_WORDS:
        return Command("kind", (KIND_WORDS[head], *args))
    if head == "q!" or head in {spec.name for spec in COMMANDS}:
        return Command(head, args)
    raise CommandError(f"unknown command :{words[0]}; try :help")


def owner_filter(owner: str) -> str:
    """``owner`` as the value of search's ``owner:`` filter, quoted if it has a space."""
    return f'"{owner}"' if " " in owner else owner


def completions() -> list[str]:
    """Words offered while typing a command (``SuggestFromList`` on the command line)."""
    words = [spec.name for spec in COMMANDS if spec.name != "models"]
    words += [w for w in KIND_WORDS if w.endswith("s")]
    return sorted(set(words), key=lambda w: (len(w), w))


def execute(app: Host, command: Command) -> None:
    """Carry out ``command`` in ``app``; ``CommandError`` says what was wrong with it."""
    page = app.page
    entity = page.entity_id if page is not None else None
    name, args = command.name, command.args
    if name == "q":
        app.action_back_or_quit()
    elif name == "q!":
        app.exit()
    elif name == "open":
        if not args:
            raise CommandError("usage: :open ID")
        if command.arg.startswith("aip://"):
            app.open_entity(command.arg)
        else:
            app.open_best(command.arg)
    elif name in ("search", "owners"):
        prefix = "@" if name == "owners" else ""
        app.go(Location("search", params={"query": prefix + command.arg}))
    elif name == "kind":
        kind = KIND_OF.get(args[0], args[0])  # type: ignore[call-overload]  # StrEnum keys
        app.go(Location("search", params={"query": " ".join([f"type:{kind}", *args[1:]])}))
    elif name == "asof":
        try:
            app.set_moments(*parse_moments(command.arg))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    elif name in ("lineage", "impact", "usage"):
        if entity is None:
            raise CommandError(f":{name} needs an entity: open one first, or :open ID")
        if name == "usage" and kind_of(entity) not in USAGE_KINDS:
            raise CommandError(":usage is for models, instances, A/B tests and cells")
        location = Location(name, entity)
        if name == "lineage" and args:
            location.state["direction"] = "downstream" if args[0].startswith("down") else "upstream"
        app.go(location)
    elif name == "history":
        app.go(Location("history", args[0] if args else entity))
    elif name == "diff":
        if entity is None or not args:
            raise CommandError("usage: :diff WHEN (on an entity's page), e.g. :diff 7d")
        try:
            since = normalize_as_of(command.arg)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if since is None:
            raise CommandError(":diff needs a moment in the past, e.g. :diff 7d")
        app.go(Location("diff", entity, {"since": since}))
    elif name == "path":
        if len(args) == 1 and entity:
            app.go(Location("path", entity, {"to": args[0]}))
        elif len(args) == 2:
            app.go(Location("path", args[0], {"to": args[1]}))
        else:
            raise CommandError("usage: :path ID (from the current entity) or :path FROM TO")
    elif name == "mine":
        if not app.me:
            raise CommandError(":mine needs to know who you are: mds-tui --me OWNER (or MDS_ME)")
        app.go(Location("search", params={"query": f"owner:{owner_filter(app.me)}"}))
    elif name in ("quality", "status", "bookmarks"):
        app.go(Location(name))
    elif name == "reload":
        app.action_reload()
    elif name == "theme":
        app.use_theme(args[0] if args else "")
    elif name == "help":
        app.action_help()
