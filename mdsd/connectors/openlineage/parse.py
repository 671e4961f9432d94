"""Judging an OpenLineage event with the project's own models (``openlineage-python``).

The spec is not copied here: an event is built into the package's generated classes
(``RunEvent``, ``DatasetEvent``, ``JobEvent`` and the facets mds reads), field by field
from their type annotations, so a missing or wrong-typed field and the models' own
validators (a run id is a UUID, ``eventTime`` a date-time) refuse it with the path of the
field. Facets mds does not read (a producer's own, or a newer one) are kept as they came,
never refused; extra fields are ignored, as the spec's additional properties allow. Events
of another major version than 2 are refused by their ``schemaURL``.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import attr
from openlineage.client.generated import base as ol
from openlineage.client.generated.column_lineage_dataset import ColumnLineageDatasetFacet
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.documentation_dataset import DocumentationDatasetFacet
from openlineage.client.generated.documentation_job import DocumentationJobFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.ownership_dataset import OwnershipDatasetFacet
from openlineage.client.generated.ownership_job import OwnershipJobFacet
from openlineage.client.generated.parent_run import ParentRunFacet
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet

from mdsd.connectors.payload import json_type, parse_timestamp

#: the facets mds reads, by their key in a facets map, as the models that judge them; a
#: facet under any other key is kept as it came
_DATASET_FACETS: dict[str, type] = {
    "schema": SchemaDatasetFacet,
    "documentation": DocumentationDatasetFacet,
    "ownership": OwnershipDatasetFacet,
    "datasetVersion": DatasetVersionDatasetFacet,
    "columnLineage": ColumnLineageDatasetFacet,
}
_FACETS: dict[type, dict[str, type]] = {
    ol.DatasetFacet: _DATASET_FACETS,
    ol.JobFacet: {"documentation": DocumentationJobFacet, "ownership": OwnershipJobFacet},
    ol.RunFacet: {"parent": ParentRunFacet, "errorMessage": ErrorMessageRunFacet},
}
#: ``https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent`` -> (2, 0, 2)
_SPEC_VERSION = re.compile(r"/spec/(\d+)-(\d+)-(\d+)/OpenLineage\.json")
SPEC_MAJOR = 2

LineageModel = ol.RunEvent | ol.DatasetEvent | ol.JobEvent


class InvalidLineage(ValueError):
    """Not an OpenLineage event mds can read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class LineageEvent:
    """A valid event: the model, and its ``eventTime`` as an instant."""

    model: LineageModel
    at: datetime


def looks_like_lineage(value: object) -> bool:
    """An OpenLineage event rather than a thin event, by its shape: ``eventTime`` and a
    ``run``, ``job`` or ``dataset``."""
    return (
        isinstance(value, dict)
        and "eventTime" in value
        and any(key in value for key in ("run", "job", "dataset"))
    )


def parse_lineage(value: object) -> LineageEvent:
    """``value`` (decoded JSON) as an OpenLineage event; ``InvalidLineage`` says why not."""
    if not isinstance(value, dict):
        raise InvalidLineage(f"an OpenLineage event must be a JSON object, got {json_type(value)}")
    if not looks_like_lineage(value):
        raise InvalidLineage(
            'not an OpenLineage event: it needs "eventTime" and one of "run", "job", "dataset"'
        )
    _check_spec(value.get("schemaURL"))
    cls: type[LineageModel] = (
        ol.RunEvent if "run" in value else ol.DatasetEvent if "dataset" in value else ol.JobEvent
    )
    model = _build(cls, value, "")
    at = parse_timestamp(model.eventTime)
    if at is None:
        raise InvalidLineage(
            f'"eventTime" must be an RFC 3339 time with a zone, got {model.eventTime!r}'
        )
    return LineageEvent(model, at)


def _check_spec(url: object) -> None:
    if not isinstance(url, str):
        return  # the models default it; the fields are what is judged
    found = _SPEC_VERSION.search(url)
    if found is not None and int(found[1]) != SPEC_MAJOR:
        raise InvalidLineage(
            f"OpenLineage spec {found[1]}-{found[2]}-{found[3]} is not read here; "
            f"mds reads spec {SPEC_MAJOR}-0-x"
        )


#: turns a JSON value found at ``where`` into what a model field holds, or refuses it
Convert = Callable[[object, str], Any]


def _build(cls: type, value: object, where: str) -> Any:
    """An instance of the attrs model ``cls`` from ``value``, judged by its annotations
    and validators."""
    return _builder(cls)(value, where)


@functools.cache
def _builder(cls: type) -> Convert:
    """The converter of the model ``cls``: its fields' converters, made once per model.
    Reading the annotations (strings) for every object was 2 ms of the 2.5 it took to
    judge an event; walking them for every value, half of what was left."""
    hints = typing.get_type_hints(cls)
    fields = [
        (field.name, field.alias, field.default is attr.NOTHING, _converter(hints[field.name]))
        for field in attr.fields(cls)
        if field.init
    ]

    def build(value: object, where: str) -> Any:
        if not isinstance(value, dict):
            raise InvalidLineage(f"{_at(where)} must be an object, got {json_type(value)}")
        given: dict[str, Any] = {}
        for name, alias, required, convert in fields:
            if name in value:
                given[alias] = convert(value[name], _join(where, name))
            elif required:
                raise InvalidLineage(f'missing required field "{_join(where, name)}"')
        try:
            return cls(**given)
        except (TypeError, ValueError) as exc:
            raise InvalidLineage(f"{_at(_refusing(cls, given, where))}: {exc}") from None

    return build


def _refusing(cls: type, given: dict[str, Any], where: str) -> str:
    """Where a model refused its fields: the field whose own validator fails (a run id
    that is no UUID is ``run.runId``, not ``run``), else the object itself."""
    for field in attr.fields(cls):
        if field.validator is None or field.alias not in given:
            continue
        try:  # validators judge the value; none of the models' reads the instance
            field.validator(None, field, given[field.alias])
        except (TypeError, ValueError):
            return _join(where, field.name)
    return where


def _converter(hint: Any) -> Convert:
    """The converter of a model field annotated ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        (kind,) = (a for a in args if a is not type(None))
        inner = _converter(kind)
        if type(None) not in args:
            return inner
        return lambda value, where: None if value is None else inner(value, where)
    if origin is list:
        item = _converter(args[0])

        def items(value: object, where: str) -> list[Any]:
            if not isinstance(value, list):
                raise InvalidLineage(f'"{where}" must be an array, got {json_type(value)}')
            return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

        return items
    if origin is dict:
        if isinstance(args[1], type) and issubclass(args[1], ol.BaseFacet):
            read = _FACETS.get(args[1], {})
            return lambda value, where: _facets(read, value, where)
        entry = _converter(args[1])

        def entries(value: object, where: str) -> dict[str, Any]:
            # a map inside a facet (``columnLineage.fields``: output field -> its inputs)
            if not isinstance(value, dict):
                raise InvalidLineage(f'"{where}" must be an object, got {json_type(value)}')
            return {key: entry(item, f"{where}.{key}") for key, item in value.items()}

        return entries
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum(hint)
    if attr.has(hint):
        return lambda value, where: _builder(hint)(value, where)
    return _plain(hint)


def _enum(kind: type[Enum]) -> Convert:
    def member(value: object, where: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(m.value for m in kind)
            raise InvalidLineage(f'"{where}" must be one of {known}, got {value!r}') from None

    return member


def _plain(hint: object) -> Convert:
    def plain(value: object, where: str) -> Any:
        if not _is(hint, value):
            raise InvalidLineage(f'"{where}" must be {_named(hint)}, got {json_type(value)}')
        return value

    return plain


def _facets(read: dict[str, type], value: object, where: str) -> dict[str, Any]:
    """A facets map: the facets mds reads (``read``: key -> model) as their models, the
    others as they came."""
    if not isinstance(value, dict):
        raise InvalidLineage(f'"{where}" must be an object, got {json_type(value)}')
    facets: dict[str, Any] = {}
    for key, facet in value.items():
        model = read.get(key)
        facets[key] = _builder(model)(facet, f"{where}.{key}") if model else facet
    return facets


def _is(hint: object, value: object) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # ``Any``: whatever JSON holds


def _named(hint: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        hint,  # type: ignore[call-overload]
        str(hint),
    )


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _at(where: str) -> str:
    return f'"{where}"' if where else "the event"
