"""The rule evaluator against a small store: derivation, provenance, truth maintenance,
and the claim that re-evaluating a change only looks at the paths it touches."""

from __future__ import annotations

from enrichment_fakes import ET, Graph, aip, cell_id, edge_entities, inferred_edges

from mds.wire.model import Rel
from mdsd import facts as F
from mdsd.enrichment.inference import Evaluator, Work, edge_xid, touched_entities
from mdsd.enrichment.readers import PointReader, ScanReader
from mdsd.enrichment.rules import TESTED_IN
from mdsd.reads import queries
from store import Add, FactStore, TxReport

I1 = aip(ET.MODEL_INSTANCE, "ranker-v5")
T1 = aip(ET.AB_TEST, "12345")
C2 = cell_id("12345", 2)
R1 = aip(ET.PIPELINE_RUN, "train-1")


def infer(store: FactStore, changed: set[int] | None = None) -> Work:
    """One evaluation, as enrichment does it: incremental from ``changed`` (point reads),
    else full (bulk reads)."""
    work = Work()
    db = store.db()
    if changed is None:
        reader = ScanReader(db, TESTED_IN)
        evaluator = Evaluator(reader, TESTED_IN, work)
        anchors = reader.anchors(TESTED_IN)
    else:
        evaluator = Evaluator(PointReader(db), TESTED_IN, work)
        anchors = sorted(evaluator.anchors_of(changed))
    outcome = evaluator.reconcile(anchors)
    store.transact(outcome.ops, {"origin": "enrichment", "rule": TESTED_IN.name})
    return work


def changed_by(*reports: TxReport | None) -> set[int]:
    return set().union(*(touched_entities(r) for r in reports if r is not None))


def test_a_complete_path_implies_tested_in_the_test_and_the_cell(
    store: FactStore, graph: Graph
) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    work = infer(store)
    db = store.db()
    assert inferred_edges(db) == {(I1, T1), (I1, C2)}
    assert edge_entities(db) == {(I1, T1), (I1, C2)}
    assert work.added == 2
    edge = db.entid(edge_xid(Rel.TESTED_IN, I1, T1))
    assert edge is not None
    assert db.entity(edge)[F.EDGE_PATH] == [I1, R1, C2, T1]
    assert db.entity(edge)[F.EDGE_RULE] == "tested_in"
    assert db.entity(edge)[F.EDGE_TYPE] == "tested_in"


def test_show_reports_inferred_edges_with_provenance(store: FactStore, graph: Graph) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    infer(store)
    shown = queries.show(store.db(), I1)
    inferred = [r for r in shown["relationships"] if r["inferred"]]
    assert {(r["type"], r["direction"], r["target"]) for r in inferred} == {
        ("tested_in", "out", T1),
        ("tested_in", "out", C2),
    }
    assert all(r["provenance"]["rule"] == "tested_in" for r in inferred)
    assert all(r["provenance"]["path"][0] == I1 for r in inferred)
    from_test = queries.show(store.db(), T1)["relationships"]
    assert {
        (r["direction"], r["target"], r["inferred"]) for r in from_test if r["type"] == "tested_in"
    } == {("in", I1, True)}


def test_the_transaction_says_it_came_from_enrichment(store: FactStore, graph: Graph) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    infer(store)
    last = store.transaction(store.last_tx)
    assert last is not None
    assert last.meta == {"origin": "enrichment", "rule": "tested_in"}
    edge = store.db().entid(edge_xid(Rel.TESTED_IN, I1, T1))
    assert {d.e for d in last.datoms} >= {store.db().entid(I1), edge}


def test_evaluating_again_changes_nothing(store: FactStore, graph: Graph) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    infer(store)
    last = store.last_tx
    work = infer(store)
    assert store.last_tx == last
    assert (work.added, work.updated, work.retracted) == (0, 0, 0)


def test_a_run_leaving_its_cell_retracts_both_edges_and_history_keeps_them(
    store: FactStore, graph: Graph
) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    infer(store)
    before = store.last_tx
    work = infer(store, changed_by(graph.run("train-1", [])))
    assert work.retracted == 2
    assert inferred_edges(store.db()) == set()
    assert edge_entities(store.db()) == set()
    assert inferred_edges(store.as_of(before)) == {(I1, T1), (I1, C2)}
    assert edge_entities(store.as_of(before)) == {(I1, T1), (I1, C2)}
    assert not [r for r in queries.show(store.db(), I1)["relationships"] if r["inferred"]]


def test_deleting_the_instance_retracts_its_edges(store: FactStore, graph: Graph) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    infer(store)
    infer(store, changed_by(graph.gone(ET.MODEL_INSTANCE, "ranker-v5")))
    assert inferred_edges(store.db()) == set()
    assert edge_entities(store.db()) == set()


def test_a_cell_leaving_its_test_retracts_only_what_it_supported(
    store: FactStore, graph: Graph
) -> None:
    graph.test("12345", cells=(1, 2))
    graph.run("train-1", [("12345", 1), ("12345", 2)])
    graph.instance("ranker-v5", run="train-1")
    infer(store)
    assert inferred_edges(store.db()) == {(I1, T1), (I1, C2), (I1, cell_id("12345", 1))}
    path_before = store.db().get(store.db().entid(edge_xid(Rel.TESTED_IN, I1, T1)), F.EDGE_PATH)
    assert path_before[2] == cell_id("12345", 1)  # the first path in id order explains it

    work = infer(store, changed_by(graph.test("12345", cells=(2,))))  # cell 1 is gone
    db = store.db()
    assert inferred_edges(db) == {(I1, T1), (I1, C2)}
    assert (work.retracted, work.updated) == (1, 1)
    assert db.get(db.entid(edge_xid(Rel.TESTED_IN, I1, T1)), F.EDGE_PATH)[2] == C2


def test_deleting_the_test_retracts_its_edges(store: FactStore, graph: Graph) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    infer(store)
    infer(store, changed_by(graph.gone(ET.AB_TEST, "12345")))
    assert inferred_edges(store.db()) == set()


def test_a_stub_cell_breaks_no_rule_and_implies_nothing(store: FactStore, graph: Graph) -> None:
    graph.test("12345", cells=(1,))
    graph.run("train-1", [("12345", 7)])  # a cell the test does not have: stays a stub
    graph.instance("ranker-v5", run="train-1")
    infer(store)
    assert inferred_edges(store.db()) == set()


def test_a_path_appearing_later_is_found_from_the_change_alone(
    store: FactStore, graph: Graph
) -> None:
    graph.run("train-1", [("12345", 2)])
    graph.instance("ranker-v5", run="train-1")
    infer(store)
    assert inferred_edges(store.db()) == set()  # the test is not known yet
    infer(store, changed_by(graph.test("12345", cells=(1, 2))))
    assert inferred_edges(store.db()) == {(I1, T1), (I1, C2)}


def test_a_full_pass_removes_edges_nothing_supports(store: FactStore, graph: Graph) -> None:
    graph.chain("ranker-v5", "train-1", "12345", cell=2)
    graph.instance("orphan-v1")
    orphan = aip(ET.MODEL_INSTANCE, "orphan-v1")
    store.transact([Add(orphan, F.rel_attr(Rel.TESTED_IN), T1)], {"origin": "test"})
    work = infer(store)
    assert inferred_edges(store.db()) == {(I1, T1), (I1, C2)}
    assert work.retracted == 1


def test_one_change_examines_its_paths_not_the_graph(store: FactStore, graph: Graph) -> None:
    def build(n: int, offset: int) -> None:
        for i in range(offset, offset + n):
            graph.chain(f"inst-{i}", f"run-{i}", str(1000 + i), cell=1)

    build(20, 0)
    infer(store)
    small = infer(store, changed_by(graph.run("run-3", []))).examined
    build(200, 20)
    infer(store)
    large_work = infer(store, changed_by(graph.run("run-150", [])))
    assert large_work.retracted == 2
    assert large_work.examined == small  # the same shape of change costs the same
    full = infer(store)
    assert full.examined > 20 * large_work.examined


def test_bulk_and_point_reads_derive_the_same(store: FactStore, graph: Graph) -> None:
    graph.test("12345", cells=(1, 2, 3))
    graph.run("train-1", [("12345", 1), ("12345", 3)])
    graph.run("train-2", [("12345", 9)])
    graph.instance("ranker-v5", run="train-1")
    graph.instance("ranker-v6", run="train-2")
    graph.instance("ranker-v7", run="train-1")
    infer(store)
    graph.gone(ET.MODEL_INSTANCE, "ranker-v7")
    db = store.db()
    scan = ScanReader(db, TESTED_IN)
    bulk, point = Evaluator(scan, TESTED_IN, Work()), Evaluator(PointReader(db), TESTED_IN, Work())
    anchors = scan.anchors(TESTED_IN)
    assert len(anchors) == 3
    for anchor in anchors:
        assert bulk.derive(anchor) == point.derive(anchor)
        assert bulk.stored(anchor) == point.stored(anchor)
