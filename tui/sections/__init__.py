"""Per-kind sections of the entity page: the few facts that matter for each kind of entity,
as its source describes it.

The page itself is generic (header, attributes, relationships); a kind adds small sections,
each built from the ``entity`` answer plus at most a couple of extra calls. A source whose
entities mean other things (an MLflow version has no deployment nor A/B test) has sections
of its own for a kind (``BY_SOURCE``), one module per source. A kind with none still gets
the generic page.
"""

from __future__ import annotations

import asyncio

from rich.text import Text

from mds.client import Client
from mds.wire import JSON
from tui.asof import Moments, said_moments
from tui.errors import describe_failure
from tui.sections import mlflow
from tui.sections.kinds import (
    ab_test,
    dataset,
    dataset_fields,
    feature,
    feature_view,
    model,
    model_instance,
    model_suggestions,
    owner,
    pipeline,
    pipeline_run,
)
from tui.sections.parts import LAID_OUT, Link, Loader, Section

#: kind -> its sections
SECTIONS: dict[str, tuple[Loader, ...]] = {
    "ModelInstance": (model_instance,),
    "Model": (model, model_suggestions),
    "Dataset": (dataset_fields, dataset),
    "Pipeline": (pipeline,),
    "PipelineRun": (pipeline_run,),
    "Feature": (feature,),
    "FeatureView": (feature_view,),
    "AbTest": (ab_test,),
    "User": (owner,),
    "Team": (owner,),
}


#: (kind, source) -> its sections, where the source's entities of that kind mean other things
BY_SOURCE: dict[tuple[str, str], tuple[Loader, ...]] = {
    ("ModelInstance", "mlflow"): (mlflow.version,),
    ("Model", "mlflow"): (mlflow.registered_model,),
    ("PipelineRun", "mlflow"): (mlflow.run,),
}


async def load_sections(client: Client, entity: JSON, moments: Moments) -> list[Section]:
    """Every section of the entity's kind (as its source describes it); one that fails says
    so instead of hiding the rest."""
    kind, source = str(entity.get("entity_type")), str(entity.get("source"))
    loaders = BY_SOURCE.get((kind, source)) or SECTIONS.get(kind, ())

    async def run(loader: Loader) -> Section | None:
        try:
            return await loader(client, entity, moments)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = describe_failure(exc, said_moments(**moments))
            title = loader.__name__.replace("_", " ")
            return Section(title, Text(failure.message, style="red"))

    found = await asyncio.gather(*(run(loader) for loader in loaders))
    return [s for s in found if s is not None]


__all__ = ["LAID_OUT", "Link", "Section", "load_sections"]
