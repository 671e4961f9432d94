"""The ``mds`` commands: each is one daemon call (``docs/api.md``) plus how to show it.

The docstring of each function is its ``--help``; ``spec.command`` registers it. A
question asks any ``mds.calls.Api`` (the socket client answers it, the async client gives
an awaitable of the answer); ``ingest`` and ``watch`` need the async client.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mds.calls import Api, R
from mds.errors import DaemonUnavailable
from mds.wire import JSON
from mds.wire.model import KIND_OF, parse_aip_id

from . import drawings, options, render
from .exits import EXIT_REJECTED, EXIT_TIMEOUT
from .spec import Arg, UsageError, arg, command, listed

if TYPE_CHECKING:
    from mds.client import Client

ID = arg("id", metavar="ID", help="the entity's id, e.g. aip://model/registry/ranking-model")


def limit(default: int) -> Arg:
    """``--limit N``; ``default`` is the daemon's, said in the help."""
    return arg(
        "--limit",
        metavar="N",
        type=options.int_at_least(1),
        help=f"at most N results (daemon default {default})",
    )


def kind_filter(help: str) -> Arg:
    """``--type KIND``, in either spelling of a kind (``options.kind``)."""
    return arg("--type", metavar="KIND", type=options.kind, choices=options.KINDS, help=help)


EXAMPLE_MODEL = "aip://model/registry/ranking-model"
EXAMPLE_INSTANCE = "aip://model-instance/registry/ranking-model-v5-20250101"
EXAMPLE_DATASET = "aip://dataset/datasets/playback-events"


def read_input(name: str) -> bytes:
    """The bytes of FILE, or of standard input for ``-``."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None


def read_text(name: str) -> str:
    try:
        return read_input(name).decode()
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name} is not UTF-8 text: {exc}") from None


# -- what -o jsonl and -o ids take from an answer ----------------------------------------


def members(doc: JSON) -> list[Any]:
    """The entities of an answer grouped by type (``impact``, ``deps``)."""
    return [m for group in doc.get("groups") or [] for m in group.get("entities") or []]


def uses(doc: JSON) -> list[Any]:
    """A model's A/B tests and instances, or a test's models (``usage``)."""
    return [u for key in ("ab_tests", "instances", "models") for u in doc.get(key) or []]


def touched(doc: JSON) -> list[Any]:
    """The entity of an entity's history, else those the graph's transactions touched."""
    if "id" in doc:
        return [doc["id"]]
    found = (e for t in doc.get("transactions") or [] for e in t.get("entities") or [])
    return list(dict.fromkeys(found))


def suggested(doc: JSON) -> list[Any]:
    return [(s.get("feature") or {}).get("id") for s in doc.get("suggestions") or []]


QUALITY_LISTS = (
    "missing_owners",
    "missing_descriptions",
    "stale",
    "unresolved_stubs",
    "dangling_references",
    "unused",
)


def findings(doc: JSON) -> list[Any]:
    """Every finding of a quality report, each saying which ``problem`` it is."""
    return [{"problem": key, **f} for key in QUALITY_LISTS for f in doc.get(key) or []]


# -- reading the graph ------------------------------------------------------------------


@command(
    "search",
    args=(
        arg(
            "query",
            metavar="QUERY",
            nargs="+",
            help="words, and filters such as type:model owner:alice tag:team=personalization; "
            "'*' lists everything (with --type, every entity of that kind)",
        ),
        kind_filter("only this kind (model, model-instance, dataset, ...; or ModelInstance)"),
        limit(20),
    ),
    reads_graph=True,
    records=listed("results"),
    render=render.search,
    examples=(
        "mds search ranking --type model",
        "mds search watch time owner:alice --limit 5 --json | jq -r '.results[].id'",
    ),
)
def search(client: Api[R], args: argparse.Namespace) -> R:
    """Full-text search over names, descriptions, owners and tags; best match first."""
    query = " ".join(args.query)
    limit = args.limit if args.limit is not None else 20
    return client.search(
        query, type=args.type, limit=limit, as_of=args.as_of, known_at=args.known_at
    )


@command(
    "show",
    args=(ID,),
    reads_graph=True,
    ids=lambda doc: [doc["id"]],
    render=render.entity,
    examples=(
        f"mds show {EXAMPLE_MODEL}",
        f"mds show {EXAMPLE_MODEL} --as-of 2025-01-01",
        f"mds show {EXAMPLE_MODEL} --known-at 1m",
    ),
)
def show(client: Api[R], args: argparse.Namespace) -> R:
    """Show one entity: owners, tags, status and relationships by type and direction.

    Inferred relationships are marked with the rule (and path) that derived them.
    """
    return client.entity(args.id, as_of=args.as_of, known_at=args.known_at)


@command(
    "neighbors",
    args=(ID,),
    reads_graph=True,
    records=listed("neighbors"),
    render=render.neighbors,
    examples=(f"mds neighbors {EXAMPLE_INSTANCE}",),
)
def neighbors(client: Api[R], args: argparse.Namespace) -> R:
    """List the entities one edge away, grouped by relationship type and direction."""
    return client.neighbors(args.id, as_of=args.as_of, known_at=args.known_at)


@command(
    "lineage",
    args=(
        ID,
        arg(
            "--direction",
            choices=("upstream", "downstream"),
            default="upstream",
            help="follow data flow towards sources (upstream, the default) or consumers",
        ),
        arg(
            "--depth",
            metavar="N",
            type=options.int_at_least(0),
            help="stop N hops from ID; 0 is ID alone (default: the whole closure, up to 50)",
        ),
        arg(
            "--types",
            metavar="TYPES",
            type=options.relationship_types,
            help="only these relationship types, comma-separated (reads,derived_from)",
        ),
        arg(
            "--field",
            metavar="NAME",
            help="the lineage of the dataset's field NAME: the fields it is computed from "
            "(upstream) or feeds (downstream), from OpenLineage column lineage",
        ),
    ),
    reads_graph=True,
    records=listed("nodes"),
    render=render.lineage,
    drawings=drawings.DRAWINGS,
    examples=(
        f"mds lineage {EXAMPLE_INSTANCE}",
        f"mds lineage {EXAMPLE_INSTANCE} -o graph",
        f"mds lineage {EXAMPLE_DATASET} --direction downstream --depth 3 -o mermaid",
        "mds lineage DATASET --field customer_id --direction downstream",
    ),
)
def lineage(client: Api[R], args: argparse.Namespace) -> R:
    """Walk lineage from ID and print it as a tree (or draw it: -o graph, dot, mermaid).

    Upstream of a model instance: its run and pipeline, the datasets and features it was
    built from, transitively. Downstream is the reverse. Owners are context, not lineage.
    With --field, the same for one field of a dataset, as its column lineage says.
    """
    return client.lineage(
        args.id,
        direction=args.direction,
        depth=args.depth,
        types=args.types,
        field=args.field,
        as_of=args.as_of,
        known_at=args.known_at,
    )


@command(
    "impact",
    args=(ID,),
    reads_graph=True,
    records=members,
    render=render.impact,
    examples=(f"mds impact {EXAMPLE_DATASET}",),
)
def impact(client: Api[R], args: argparse.Namespace) -> R:
    """What a change to ID affects: its downstream closure by type, and whom to notify."""
    return client.impact(args.id, as_of=args.as_of, known_at=args.known_at)


@command(
    "deps",
    args=(ID,),
    reads_graph=True,
    records=members,
    render=render.dependencies,
    examples=(f"mds deps {EXAMPLE_INSTANCE}",),
)
def deps(client: Api[R], args: argparse.Namespace) -> R:
    """Map what ID depends on: its upstream closure grouped by entity type."""
    return client.dependencies(args.id, as_of=args.as_of, known_at=args.known_at)


@command(
    "usage",
    args=(ID,),
    reads_graph=True,
    records=uses,
    render=render.usage,
    examples=(f"mds usage {EXAMPLE_MODEL}", "mds usage aip://ab-test/experiments/12345"),
)
def usage(client: Api[R], args: argparse.Namespace) -> R:
    """Where a model is tested: its A/B tests and cells (or, for a test, its models)."""
    return client.usage(args.id, as_of=args.as_of, known_at=args.known_at)


@command(
    "path",
    args=(
        arg("source", metavar="FROM", help="the id to start from"),
        arg("target", metavar="TO", help="the id to reach"),
        arg(
            "--max-depth",
            metavar="N",
            type=options.int_at_least(1),
            help="give up beyond N hops (daemon default 8)",
        ),
    ),
    reads_graph=True,
    records=listed("path"),
    render=render.path,
    examples=(f"mds path {EXAMPLE_DATASET} {EXAMPLE_MODEL}",),
)
def path(client: Api[R], args: argparse.Namespace) -> R:
    """Find how two entities are connected: the shortest path, hop by hop.

    Through lineage and structure when they are so connected; through owners and teams only
    when nothing else connects them (the output then says so). Exits 1 when they are not
    connected (within --max-depth).
    """
    return client.path(
        args.source, args.target, max_depth=args.max_depth, as_of=args.as_of, known_at=args.known_at
    )


@command(
    "history",
    args=(
        arg("id", metavar="ID", nargs="?", help="one entity's history (default: all transactions)"),
        limit(50),
        arg(
            "--before-tx",
            metavar="TX",
            type=options.int_at_least(1),
            help="whole-graph history: only transactions before TX (to page back)",
        ),
    ),
    reads_graph=True,
    records=listed("transactions"),
    ids=touched,
    render=render.history,
    examples=(
        f"mds history {EXAMPLE_INSTANCE}",
        f"mds history {EXAMPLE_INSTANCE} --as-of 2025-01-01",
        "mds history --limit 10 --before-tx 500",
    ),
)
def history(client: Api[R], args: argparse.Namespace) -> R:
    """Show transactions with what each asserted (+) and retracted (-), with both times.

    Each transaction has its system time (when mds recorded it); each change its valid time
    (from when it holds in the source, or for a retraction since when it no longer does).
    Without ID: the whole graph's transactions, newest first (page back with --before-tx),
    each with the span of valid times it stated. With --known-at: only the transactions up
    to then; with --as-of: only the changes valid by then.
    """
    return client.history(
        args.id,
        limit=args.limit,
        before_tx=args.before_tx,
        as_of=args.as_of,
        known_at=args.known_at,
    )


@command(
    "similar",
    args=(ID, limit(10)),
    reads_graph=True,
    records=listed("similar"),
    render=render.similar,
    examples=(f"mds similar {EXAMPLE_MODEL}",),
)
def similar(client: Api[R], args: argparse.Namespace) -> R:
    """List models similar to ID by the features they share."""
    return client.similar(args.id, limit=args.limit, as_of=args.as_of, known_at=args.known_at)


@command(
    "suggest",
    args=(ID, limit(10)),
    reads_graph=True,
    records=listed("suggestions"),
    ids=suggested,
    render=render.suggestions,
    examples=(f"mds suggest {EXAMPLE_MODEL}",),
)
def suggest(client: Api[R], args: argparse.Namespace) -> R:
    """Suggest features for ID that similar models use and it does not."""
    return client.suggestions(args.id, limit=args.limit, as_of=args.as_of, known_at=args.known_at)


@command(
    "quality",
    args=(
        arg(
            "--stale-days",
            metavar="N",
            type=options.int_at_least(0),
            help="call entities not updated for N days stale (daemon default 7)",
        ),
    ),
    reads_graph=True,
    records=findings,
    render=render.quality,
    examples=("mds quality", "mds quality --json | jq '.missing_owners | length'"),
)
def quality(client: Api[R], args: argparse.Namespace) -> R:
    """Report metadata gaps: missing owners or descriptions, stale entities, stubs, orphans."""
    return client.quality(stale_days=args.stale_days, as_of=args.as_of, known_at=args.known_at)


def _graphql_verdict(doc: JSON, args: argparse.Namespace) -> tuple[int, str | None]:
    """1 when every error is an id that does not exist (as of then), as for the other
    reads (docs/cli.md, exit status); 2 for any other error."""
    errors = doc.get("errors") or []
    if not errors:
        return 0, None
    messages = "; ".join(
        str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
    )
    codes = {
        (e.get("extensions") or {}).get("code") if isinstance(e, dict) else None for e in errors
    }
    return (1 if codes == {"NOT_FOUND"} else 2), f"graphql: {messages}"


def _variables(text: str | None) -> JSON | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--variables is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("--variables must be a JSON object")
    return value


@command(
    "graphql",
    args=(
        arg(
            "query",
            metavar="QUERY",
            help="the query text, @FILE to read it from FILE, or - for stdin",
        ),
        arg(
            "--variables",
            metavar="JSON",
            help='variables as a JSON object: \'{"id": "aip://..."}\'',
        ),
    ),
    reads_graph=True,
    render=render.pretty_json,
    verdict=_graphql_verdict,
    examples=(
        """mds graphql '{ entity(id: "aip://model/registry/ranking-model") { name } }'""",
        f'mds graphql @impact.graphql --variables \'{{"id": "{EXAMPLE_DATASET}"}}\'',
    ),
)
def graphql(client: Api[R], args: argparse.Namespace) -> R:
    """Run a GraphQL query against the graph and print the result as JSON.

    Exits 1 when the only errors are ids that do not exist (as of then), 2 on any other
    error; the result is printed all the same, and the errors on stderr.
    """
    if args.query == "-" or args.query.startswith("@"):
        query = read_text(args.query.removeprefix("@"))
    else:
        query = args.query
    return client.graphql(
        query, _variables(args.variables), as_of=args.as_of, known_at=args.known_at
    )


# -- events and operations --------------------------------------------------------------


def _ingest_verdict(doc: JSON, args: argparse.Namespace) -> tuple[int, str | None]:
    refused = len(doc.get("rejected") or [])
    if not refused or args.allow_rejects:
        return 0, None
    total = refused + (doc.get("accepted") or 0) + (doc.get("duplicates") or 0)
    return EXIT_REJECTED, f"{refused} of {total} events refused (--allow-rejects exits 0)"


@command(
    "ingest",
    args=(
        arg("file", metavar="FILE", help="a .json event, a JSON array or JSON lines; - for stdin"),
        arg(
            "--allow-rejects",
            action="store_true",
            help="exit 0 even when the daemon refused some events",
        ),
    ),
    render=render.ingest,
    verdict=_ingest_verdict,
    examples=(
        "mds ingest events.jsonl",
        """echo '{"event_type": "model_updated", "model_id": "ranking-model"}' | mds ingest -""",
        "mds ingest --allow-rejects backlog.jsonl",
    ),
)
async def ingest(client: Client, args: argparse.Namespace) -> JSON:
    """Send change events to the daemon; they are durable once this returns.

    Input is one JSON event, a JSON array of events, or JSON lines. Events the daemon
    rejects (not JSON, unknown event_type, missing id, larger than [intake]
    max_event_bytes) are listed with their reason on stderr and kept in the dead letters;
    then the exit status is 5, unless --allow-rejects (the accepted ones are in either
    way). JSON lines of any size go in parts of about 4 MiB, each durable when the daemon
    answers it (if one fails, the error says which lines are in and where to resume); one
    document or array over [intake] max_request_bytes (16 MiB) is refused whole (exit 2):
    write it as JSON lines.
    """
    name = None if args.file == "-" else Path(args.file).name
    return await client.ingest(read_input(args.file), name=name)


@command(
    "status", render=render.mapping, examples=("mds status", "mds status --json | jq .pending")
)
def status(client: Api[R], args: argparse.Namespace) -> R:
    """Show the daemon's counters: entities, stubs, pending work, dead letters, sources.

    earliest_valid says how far back the graph reaches in valid time: --as-of before it
    finds nothing.
    """
    return client.status()


@command(
    "dead-letters",
    args=(limit(100),),
    records=listed("dead_letters"),
    render=render.dead_letters,
    examples=("mds dead-letters", "mds dead-letters --json | jq '.dead_letters[].reason'"),
)
def dead_letters(client: Api[R], args: argparse.Namespace) -> R:
    """List rejected events (with the reason and raw input) that wait for a redrive."""
    return client.dead_letters(limit=args.limit)


def _redrive_verdict(doc: JSON, args: argparse.Namespace) -> tuple[int, str | None]:
    missing = doc.get("missing") or []
    if not missing:
        return 0, None
    return 1, "no dead letter " + ", ".join(map(str, missing)) + " waits for a redrive"


@command(
    "redrive",
    one_of=(
        arg(
            "ids",
            metavar="ID",
            nargs="*",
            type=options.int_at_least(0),
            default=[],
            help="dead letter ids (see mds dead-letters)",
        ),
        arg("--all", action="store_true", help="redrive every dead letter"),
    ),
    render=render.redrive,
    verdict=_redrive_verdict,
    examples=("mds redrive 3 4", "mds redrive --all"),
)
def redrive(client: Api[R], args: argparse.Namespace) -> R:
    """Feed dead letters through intake again, e.g. after fixing a connector.

    Name the dead letters by id, or pass --all; those rejected again stay dead letters.
    Exits 1 when an id names no dead letter waiting for a redrive (the others are redriven).
    """
    return client.redrive(None if args.all else args.ids)


@command("reconcile", render=render.reconcile, examples=("mds reconcile",))
def reconcile(client: Api[R], args: argparse.Namespace) -> R:
    """Start a reconciliation pass now (re-list every source to catch missed events)."""
    return client.reconcile()


def _busy_with(doc: JSON) -> list[str]:
    """What kept the daemon from idle, from the status that comes with a timed-out wait."""
    enrichment = doc.get("enrichment") or {}
    search = doc.get("search") or {}
    counts = (
        ("pending", doc.get("pending")),
        ("inbox files", doc.get("inbox_files")),
        ("stubs due", enrichment.get("due")),
    )
    busy = [f"{n} {what}" for what, n in counts if n]
    if (enrichment.get("reconcile") or {}).get("running"):
        busy.append("a reconciliation pass running")
    if enrichment.get("settled") is False:
        busy.append("enrichment catching up")
    if search.get("indexed_tx") is not None and search["indexed_tx"] < doc.get("last_tx", 0):
        busy.append(f"search indexed to tx {search['indexed_tx']} of {doc['last_tx']}")
    return busy


def _idle_verdict(doc: JSON, args: argparse.Namespace) -> tuple[int, str | None]:
    if doc.get("idle"):
        return 0, None
    busy = ", ".join(_busy_with(doc)) or f"pending: {doc.get('pending', '?')}"
    return EXIT_TIMEOUT, f"still busy after {args.timeout:g}s ({busy})"


@command(
    "wait",
    one_of=(arg("--idle", action="store_true", help="wait until the daemon has nothing to do"),),
    args=(
        arg(
            "--timeout",
            metavar="S",
            type=options.seconds,
            default=60.0,
            help="give up after S seconds (2.5, or 30s, 2m) and exit 124 (default 60)",
        ),
    ),
    render=render.wait,
    verdict=_idle_verdict,
    examples=("mds ingest events.jsonl && mds wait --idle --timeout 120 && mds show ID",),
)
def wait(client: Api[R], args: argparse.Namespace) -> R:
    """Block until the daemon is idle: nothing pending, no stub due, enrichment caught up.

    Meant for scripts and tests that ingest and then query. Exits 124 on timeout, as
    timeout(1) does.
    """
    return client.wait_idle(timeout=args.timeout)


def _watched(notice: JSON, args: argparse.Namespace) -> JSON | None:
    """``notice`` as ``watch`` shows it: only the entities asked about (``ID``, or those of
    ``--type``); None when it touches none of them."""
    entities = notice.get("entities") or []
    if args.id is not None:
        entities = [e for e in entities if e == args.id]
    if args.type is not None:
        entities = [e for e in entities if _kind(e) == args.type]
    if not entities:
        return None
    return {**notice, "entities": entities}


def _kind(entity_id: str) -> str | None:
    try:
        return KIND_OF[parse_aip_id(entity_id).entity_type]
    except ValueError:
        return None


@command(
    "watch",
    args=(
        arg("id", metavar="ID", nargs="?", help="only the changes to this entity"),
        kind_filter("only the changes to entities of this kind"),
        arg(
            "--count",
            metavar="N",
            type=options.int_at_least(1),
            help="stop after N changes (default: follow until interrupted)",
        ),
    ),
    render=render.notice,
    records=lambda notice: [notice],
    ids=lambda notice: list(notice.get("entities") or []),
    examples=(
        "mds watch",
        f"mds watch {EXAMPLE_MODEL}",
        "mds watch --type model-instance -o jsonl | jq -r .entities[]",
        f"mds watch {EXAMPLE_INSTANCE} --count 1 && mds show {EXAMPLE_INSTANCE}",
    ),
)
async def watch(client: Client, args: argparse.Namespace) -> AsyncIterator[JSON]:
    """Follow the changes as mds commits them: one line per transaction, with what it touched.

    With ID or --type, only the transactions touching that entity or kind, naming only
    those entities. Runs until interrupted (ctrl-c), or --count changes; exits 3 when the
    daemon goes away. -o jsonl prints each change as a JSON line, -o ids the ids touched.
    """
    shown = 0
    async for notice in client.changes():
        watched = _watched(notice, args)
        if watched is None:
            continue
        yield watched
        shown += 1
        if args.count is not None and shown >= args.count:
            return
    raise DaemonUnavailable(f"mdsd at {client.target} closed the change stream")
