"""One GraphQL type per entity kind: its own scalars and typed relationships.

(``User`` and ``Team`` are in ``mdsd.api.graphql.entity``: the interface's ``owners`` names
them.)

Each relationship is a set of paths over the fact schema (``out``: along a ref the
entity declares, ``into``: against one pointing at it); the ``Entity`` helpers follow them
through the request's batched loaders. Lists are for small sets (a test's cells, an
instance's tests); connections for sets that grow without bound (a model's instances,
a dataset's consumers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from mds.wire.model import EntityType, Rel
from mdsd.api.graphql.context import MENTIONED, Path, into, out, via
from mdsd.api.graphql.entity import After, Connection, Entity, First, paginate, register
from mdsd.api.graphql.limits import PAGE

# -- paths ------------------------------------------------------------------------------------
INSTANCES: tuple[Path, ...] = ((into(Rel.INSTANCE_OF),), (MENTIONED,))
TESTED_IN = out(Rel.TESTED_IN)
TESTED_CELLS = via(TESTED_IN)
TESTS_OF_INSTANCE: tuple[Path, ...] = ((TESTED_IN,), (TESTED_IN, out(Rel.CELL_OF)))
INSTANCES_IN_TEST: tuple[Path, ...] = (
    (into(Rel.TESTED_IN),),
    (into(Rel.CELL_OF), into(Rel.TESTED_IN)),
)
MODELS_IN_TEST = tuple((*p, out(Rel.INSTANCE_OF)) for p in INSTANCES_IN_TEST)
READERS_OF_DATASET = via(into(Rel.VERSION_OF), into(Rel.READS), out(Rel.RUN_OF))
SOURCES = via(out(Rel.DERIVED_FROM))


@register(EntityType.MODEL)
@strawberry.type(description="A model in the Model Registry.")
class Model(Entity):
    @strawberry.field(description="Its instances (versions), by name.")
    async def instances(
        self, first: First = PAGE, after: After = None
    ) -> Connection[ModelInstance]:
        return await self.page(INSTANCES, ModelInstance, first, after)

    @strawberry.field(description="The instance the registry marks current.")
    async def current_instance(self) -> ModelInstance | None:
        return await self.one(via(out(Rel.CURRENT_INSTANCE)), ModelInstance)


@register(EntityType.MODEL_INSTANCE)
@strawberry.type(description="One trained version of a model.")
class ModelInstance(Entity):
    @strawberry.field
    def version(self) -> str | None:
        return self.record.text("version")

    @strawberry.field(description="The registry's status: staged, production or retired.")
    def deployment_status(self) -> str | None:
        return self.record.text("status")

    @strawberry.field
    def deployed_at(self) -> datetime | None:
        return self.record.instant("deployed_at")

    @strawberry.field
    async def model(self) -> Model | None:
        return await self.one(via(out(Rel.INSTANCE_OF)), Model)

    @strawberry.field(description="The run that produced it.")
    async def pipeline_run(self) -> PipelineRun | None:
        return await self.one(via(out(Rel.PRODUCED_BY)), PipelineRun)

    @strawberry.field(description="The pipeline of the run that produced it.")
    async def pipeline(self) -> Pipeline | None:
        return await self.one(via(out(Rel.PRODUCED_BY), out(Rel.RUN_OF)), Pipeline)

    @strawberry.field(description="The features it uses.")
    async def features(self, first: First = PAGE, after: After = None) -> Connection[Feature]:
        return await self.page(via(out(Rel.USES_FEATURE)), Feature, first, after)

    @strawberry.field(description="The Feast feature services it names as its features.")
    async def feature_services(self) -> list[FeatureService]:
        return await self.related(via(out(Rel.USES_FEATURE)), FeatureService)

    @strawberry.field(
        description="The A/B tests it is tested in (inferred); their `cells` are the cells "
        "it is tested in."
    )
    async def associated_ab_tests(self) -> list[AbTest]:
        tests = await self.related(TESTS_OF_INSTANCE, AbTest)
        for test in tests:
            test.tested_instance = self.record.eid
        return tests

    @strawberry.field(description="The A/B test cells it is tested in (inferred).")
    async def cells(self) -> list[AbTestCell]:
        return await self.related(TESTED_CELLS, AbTestCell)


@register(EntityType.PIPELINE_RUN)
@strawberry.type(description="One run of a pipeline.")
class PipelineRun(Entity):
    @strawberry.field(description="The orchestrator's status: running, succeeded or failed.")
    def run_status(self) -> str | None:
        return self.record.text("status")

    @strawberry.field
    def started_at(self) -> datetime | None:
        return self.record.instant("started_at")

    @strawberry.field
    def ended_at(self) -> datetime | None:
        return self.record.instant("ended_at")

    @strawberry.field
    def attempts(self) -> int | None:
        return self.record.integer("attempts")

    @strawberry.field
    async def pipeline(self) -> Pipeline | None:
        return await self.one(via(out(Rel.RUN_OF)), Pipeline)

    @strawberry.field(description="The dataset versions it read.")
    async def inputs(self, first: First = PAGE, after: After = None) -> Connection[DatasetVersion]:
        return await self.page(via(out(Rel.READS)), DatasetVersion, first, after)

    @strawberry.field(description="The dataset versions it wrote.")
    async def outputs(self, first: First = PAGE, after: After = None) -> Connection[DatasetVersion]:
        return await self.page(via(out(Rel.WRITES)), DatasetVersion, first, after)

    @strawberry.field(description="The A/B test cells it ran for.")
    async def cells(self) -> list[AbTestCell]:
        return await self.related(via(out(Rel.RAN_FOR)), AbTestCell)

    @strawberry.field(description="The model instances it produced.")
    async def instances(
        self, first: First = PAGE, after: After = None
    ) -> Connection[ModelInstance]:
        return await self.page(via(into(Rel.PRODUCED_BY)), ModelInstance, first, after)


@register(EntityType.PIPELINE)
@strawberry.type(description="A pipeline of the orchestrator.")
class Pipeline(Entity):
    @strawberry.field
    def schedule(self) -> str | None:
        return self.record.text("schedule")

    @strawberry.field
    async def runs(self, first: First = PAGE, after: After = None) -> Connection[PipelineRun]:
        return await self.page(via(into(Rel.RUN_OF)), PipelineRun, first, after)

    @strawberry.field(description="The datasets it declares as outputs.")
    async def outputs(self, first: First = PAGE, after: After = None) -> Connection[Dataset]:
        return await self.page(via(out(Rel.OUTPUTS)), Dataset, first, after)


@register(EntityType.FEATURE)
@strawberry.type(description="A feature of the Feature Store.")
class Feature(Entity):
    @strawberry.field
    def latest_version(self) -> str | None:
        return self.record.text("latest_version")

    @strawberry.field(description="The datasets it is computed from (its source datasets).")
    async def data(self, first: First = PAGE, after: After = None) -> Connection[Dataset]:
        return await self.page(SOURCES, Dataset, first, after)

    @strawberry.field(description="Same as `data`, under the Feature Store's name.")
    async def sources(self, first: First = PAGE, after: After = None) -> Connection[Dataset]:
        return await self.page(SOURCES, Dataset, first, after)

    @strawberry.field(description="The model instances that use it.")
    async def consuming_instances(
        self, first: First = PAGE, after: After = None
    ) -> Connection[ModelInstance]:
        return await self.page(via(into(Rel.USES_FEATURE)), ModelInstance, first, after)

    @strawberry.field(description="The models with an instance that uses it.")
    async def consuming_models(self, first: First = PAGE, after: After = None) -> Connection[Model]:
        paths = via(into(Rel.USES_FEATURE), out(Rel.INSTANCE_OF))
        return await self.page(paths, Model, first, after)

    @strawberry.field(description="The Feast feature view that computes it.")
    async def feature_view(self) -> FeatureView | None:
        return await self.one(SOURCES, FeatureView)

    @strawberry.field(description="The Feast feature services that serve it.")
    async def feature_services(self) -> list[FeatureService]:
        return await self.related(via(into(Rel.USES_FEATURE)), FeatureService)


@register(EntityType.FEATURE_VIEW)
@strawberry.type(
    description="A Feast feature view (batch, stream or on-demand): features computed "
    "from a data source for its entities."
)
class FeatureView(Entity):
    @strawberry.field(description="batch, stream or on_demand.")
    def view_type(self) -> str | None:
        return self.record.text("view_type")

    @strawberry.field(description="How long a feature value stays valid; 0 is forever.")
    def ttl_seconds(self) -> int | None:
        return self.record.integer("ttl_seconds")

    @strawberry.field(description="Its Feast entities: name, join_key, value_type, description.")
    def entities(self) -> JSON:
        return JSON(self.record.field("entities") or [])

    @strawberry.field(description="Its features, by name.")
    async def features(self) -> list[Feature]:
        return await self.related(via(into(Rel.DERIVED_FROM)), Feature)

    @strawberry.field(
        description="What it is computed from: data sources, and an on-demand view's views."
    )
    async def sources(self) -> list[Entity]:
        datasets = await self.related(SOURCES, Dataset)
        views = await self.related(SOURCES, FeatureView)
        return [*datasets, *views]

    @strawberry.field(description="The feature services that serve one of its features.")
    async def feature_services(self) -> list[FeatureService]:
        paths = via(into(Rel.DERIVED_FROM), into(Rel.USES_FEATURE))
        return await self.related(paths, FeatureService)


@register(EntityType.FEATURE_SERVICE)
@strawberry.type(description="A Feast feature service: the features a model is served.")
class FeatureService(Entity):
    @strawberry.field(description="The features it serves.")
    async def features(self, first: First = PAGE, after: After = None) -> Connection[Feature]:
        return await self.page(via(out(Rel.USES_FEATURE)), Feature, first, after)

    @strawberry.field(description="The model instances that name it as their features.")
    async def consuming_instances(
        self, first: First = PAGE, after: After = None
    ) -> Connection[ModelInstance]:
        return await self.page(via(into(Rel.USES_FEATURE)), ModelInstance, first, after)


@register(EntityType.DATASET)
@strawberry.type(description="A dataset.")
class Dataset(Entity):
    @strawberry.field
    def latest_version(self) -> str | None:
        return self.record.text("latest_version")

    @strawberry.field
    async def versions(
        self, first: First = PAGE, after: After = None
    ) -> Connection[DatasetVersion]:
        return await self.page(via(into(Rel.VERSION_OF)), DatasetVersion, first, after)

    @strawberry.field(description="The datasets it is derived from.")
    async def upstream(self, first: First = PAGE, after: After = None) -> Connection[Dataset]:
        return await self.page(via(out(Rel.DERIVED_FROM)), Dataset, first, after)

    @strawberry.field(description="The datasets derived from it.")
    async def downstream(self, first: First = PAGE, after: After = None) -> Connection[Dataset]:
        return await self.page(via(into(Rel.DERIVED_FROM)), Dataset, first, after)

    @strawberry.field(
        description="Who reads it: the features and Feast feature views built on it and the "
        "pipelines whose runs read one of its versions."
    )
    async def consumers(self, first: First = PAGE, after: After = None) -> Connection[Entity]:
        features = await self.related(via(into(Rel.DERIVED_FROM)), Feature)
        views = await self.related(via(into(Rel.DERIVED_FROM)), FeatureView)
        pipelines = await self.related(READERS_OF_DATASET, Pipeline)
        found: list[Entity] = [*features, *views, *pipelines]
        found.sort(key=lambda n: n.record.sort_key)
        return paginate(found, first, after)

    @strawberry.field(description="The pipelines that declare it as an output.")
    async def producers(self, first: First = PAGE, after: After = None) -> Connection[Pipeline]:
        return await self.page(via(into(Rel.OUTPUTS)), Pipeline, first, after)


@register(EntityType.DATASET_VERSION)
@strawberry.type(description="One version of a dataset.")
class DatasetVersion(Entity):
    @strawberry.field
    def version(self) -> str | None:
        return self.record.text("version")

    @strawberry.field
    def row_count(self) -> int | None:
        return self.record.integer("row_count")

    @strawberry.field
    async def dataset(self) -> Dataset | None:
        return await self.one(via(out(Rel.VERSION_OF)), Dataset)

    @strawberry.field(description="The runs that read it.")
    async def read_by(self, first: First = PAGE, after: After = None) -> Connection[PipelineRun]:
        return await self.page(via(into(Rel.READS)), PipelineRun, first, after)

    @strawberry.field(description="The runs that wrote it.")
    async def written_by(self, first: First = PAGE, after: After = None) -> Connection[PipelineRun]:
        return await self.page(via(into(Rel.WRITES)), PipelineRun, first, after)


@register(EntityType.AB_TEST)
@strawberry.type(description="An A/B test of the Experimentation Platform.")
class AbTest(Entity):
    #: set when reached from a model instance: ``cells`` are then the cells it is tested in
    tested_instance: strawberry.Private[int | None] = None

    @strawberry.field(description="The platform's status: DRAFT, ACTIVE or CONCLUDED.")
    def test_status(self) -> str | None:
        return self.record.text("status")

    @strawberry.field(
        description="Its cells, by name. Reached through `ModelInstance.associatedAbTests`, "
        "only the cells that instance is tested in, unless `all` is true."
    )
    async def cells(
        self, all_cells: Annotated[bool, strawberry.argument(name="all")] = False
    ) -> list[AbTestCell]:
        cells = await self.related(via(into(Rel.CELL_OF)), AbTestCell)
        if self.tested_instance is None or all_cells:
            return cells
        tested = set(await self.view.reach(self.tested_instance, TESTED_CELLS))
        return [c for c in cells if c.record.eid in tested]

    @strawberry.field(description="The model instances tested in it (inferred), by name.")
    async def tested_instances(self) -> list[ModelInstance]:
        return await self.related(INSTANCES_IN_TEST, ModelInstance)

    @strawberry.field(description="The models of the instances tested in it.")
    async def tested_models(self) -> list[Model]:
        return await self.related(MODELS_IN_TEST, Model)


@register(EntityType.AB_TEST_CELL)
@strawberry.type(description="One cell (arm) of an A/B test.")
class AbTestCell(Entity):
    @strawberry.field(description="The cell's number within its test.")
    def number(self) -> int | None:
        return self.record.integer("cell_number")

    @strawberry.field
    async def test(self) -> AbTest | None:
        return await self.one(via(out(Rel.CELL_OF)), AbTest)

    @strawberry.field(description="The model instances tested in this cell (inferred).")
    async def instances(self) -> list[ModelInstance]:
        return await self.related(via(into(Rel.TESTED_IN)), ModelInstance)

    @strawberry.field(description="The pipeline runs that ran for this cell.")
    async def runs(self, first: First = PAGE, after: After = None) -> Connection[PipelineRun]:
        return await self.page(via(into(Rel.RAN_FOR)), PipelineRun, first, after)
