"""Docs against the code: every endpoint the daemon serves and every event type it takes
is in docs/api.md (and nothing more), every mds-tui option in tui/README.md, and every
entity and search filter the examples name is in every generated world (``mdsd demo``'s)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Route

from mdsd.api.access import ROUTE_SCOPES
from mdsd.api.rest import create_app
from mdsd.connectors import EVENT_ROUTES
from simulator.world import World
from tests.doc_examples import documented_filters, documented_ids
from tests.e2e.truth import expected_graph

ROOT = Path(__file__).resolve().parents[1]
API_MD = (ROOT / "docs" / "api.md").read_text()


def test_every_endpoint_is_documented_and_every_documented_one_served() -> None:
    app = create_app(lambda: None)  # routes only: nothing is asked of the daemon
    served = {
        f"{method} {route.path}"
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = set(re.findall(r"^\| `((?:GET|POST) /(?:api/)?v1/[\w/-]+)`", API_MD, re.M))
    assert sorted(served - documented) == [], "endpoints missing from docs/api.md"
    assert sorted(documented - served) == [], "docs/api.md documents endpoints not served"


def test_the_scopes_table_says_what_each_scope_may_change() -> None:
    """Each write and admin route is in docs/api.md's row of the scope it needs."""
    rows = dict(re.findall(r"^\| `(read|write|admin)` \| (.+) \|$", API_MD, re.M))
    assert set(rows) == {"read", "write", "admin"}
    for path, methods in ROUTE_SCOPES.items():
        for method, scope in methods.items():
            if method != "GET":
                assert f"`{method} {path}`" in rows[scope.label], (method, path, scope)


def test_every_event_type_is_documented_with_its_id_fields_entity_and_source() -> None:
    rows: dict[str, tuple[str, ...]] = {}
    for types, fields, entity, source in re.findall(
        r"^\| ((?:`\w+`(?:, )?)+) \| ((?:`\w+`(?:, )?)+) \| (\w+) \| `(\w+)` \|$", API_MD, re.M
    ):
        for event_type in re.findall(r"`(\w+)`", types):
            rows[event_type] = (*re.findall(r"`(\w+)`", fields), entity, source)
    code = {
        event_type: (*spec.id_fields, str(spec.entity_type), source)
        for event_type, (source, spec) in EVENT_ROUTES.items()
    }
    assert rows == code


def test_tui_readme_shows_every_mds_tui_option_as_its_help_does() -> None:
    from tui.__main__ import build_parser

    readme = (ROOT / "tui" / "README.md").read_text()
    for action in build_parser()._actions:
        if action.dest == "help":
            continue
        shown = " ".join([action.option_strings[-1], *([action.metavar] if action.metavar else [])])
        assert f"[{shown}]" in readme, f"tui/README.md does not show {shown}"


@pytest.mark.parametrize(
    ("size", "seed"),
    [(1, 0), (1, 9), (3000, 1), (3000, 4)],  # the smallest worlds, and mdsd demo's size
)
def test_every_id_and_filter_the_examples_name_is_in_every_generated_world(
    size: int, seed: int
) -> None:
    """A newcomer copies the examples into a terminal beside ``mdsd demo``: each id they
    name is in its world, and each ``owner:``/``tag:`` filter matches something there."""
    graph, _ = expected_graph(World.generate(size, seed).truth())
    assert sorted(documented_ids() - graph.keys()) == []
    owner_keys = {
        key
        for owner in {o for entity in graph.values() for o in entity.owners}
        for key in (owner.rsplit("/", 1)[-1], *graph[owner].name.lower().split())
    }
    tags = {f"{k}={v}" for entity in graph.values() for k, v in entity.tags}
    for key, value in sorted(documented_filters()):
        assert value in (owner_keys if key == "owner" else tags), f"{key}:{value} finds nothing"
