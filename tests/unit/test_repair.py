"""The repair job: one resolution per execution, conditional writes, an honest report."""
from __future__ import annotations

from provenant.domain.artifacts import NewArtifact
from provenant.domain.reports import RepairReport, Sample
from provenant.lineage.repair import SCAN_PAGE, repair_lineage
from provenant.lineage.resolve import Resolver
from tests.support.fakes import FakeClaims, FakeRepository, FakeTracker

WF = "wf"


def setup(artifacts_per_execution: int, executions: int = 3):
    tracker, repository = FakeTracker(), FakeRepository()
    runs = {}
    for n in range(executions):
        runs[f"e{n}"] = tracker.add_run(execution_id=f"e{n}", workflow_id=WF)
        for _ in range(artifacts_per_execution):
            repository.add(NewArtifact(type="signal", name="s", workflow_id=WF,
                                       execution_id=f"e{n}",
                                       payload={"action": "BUY", "confidence": 0.5}))
    return repository, Resolver(tracker, FakeClaims()), runs


def test_tracking_calls_do_not_grow_with_artifacts():
    few = repair_lineage(*setup(1)[:2])
    many = repair_lineage(*setup(40)[:2])
    assert (few.scanned, many.scanned) == (3, 120)
    assert len(many.repaired) == 120 and many.executions == 3
    assert few.tracking_calls == many.tracking_calls == 2


def test_each_artifact_gets_its_executions_run_once_with_an_audit_row():
    repository, resolver, runs = setup(2)
    report = repair_lineage(repository, resolver, batch_size=4)
    assert report.ok and report.unresolved == [] and report.skipped == []
    for item in report.repaired:
        assert repository.get(item.artifact_id).run_id == item.run_id
    assert {r.source for r in repository.repairs()} == {"repair"}
    assert len(repository.repairs()) == 6
    again = repair_lineage(repository, resolver)
    assert again.scanned == 0 and again.repaired == []


def test_a_dry_run_writes_nothing():
    repository, resolver, _ = setup(2)
    report = repair_lineage(repository, resolver, dry_run=True)
    assert len(report.repaired) == 6 and repository.repairs() == []
    assert all(a.run_id is None for a in repository.rows.values())


def test_an_artifact_another_writer_repaired_first_is_skipped():
    repository, resolver, runs = setup(1)
    first = repository.missing_lineage()[0]
    real_set = repository.set_lineage

    def race(updates, source, lock_timeout=None):
        real_set([(first.id, runs["e0"].lineage)], "hydrate")  # a read wins the race
        return real_set(updates, source, lock_timeout)
    repository.set_lineage = race
    report = repair_lineage(repository, resolver)
    assert report.skipped == [first.id] and len(report.repaired) == 2
    assert [r.source for r in repository.repairs(first.id)] == ["hydrate"]


def test_a_down_tracker_is_an_error_and_leaves_artifacts_unresolved():
    repository, resolver, _ = setup(1)
    resolver.tracker.down = True
    report = repair_lineage(repository, resolver)
    assert report.errors == ["fake tracker is down"] and len(report.unresolved) == 3
    assert not report.ok


def test_the_workflow_filter_limits_the_scan():
    repository, resolver, _ = setup(1)
    repository.add(NewArtifact(type="signal", name="s", workflow_id="other", execution_id="e0",
                               payload={"action": "BUY", "confidence": 0.5}))
    report = repair_lineage(repository, resolver, workflow_id="other")
    assert report.scanned == 1 and report.unresolved == [4]  # e0's run is wf's, not other's


def test_a_backlog_of_many_batches_is_walked_and_written_in_bounded_pages():
    repository, resolver, runs = setup(5, executions=20)  # 100 artifacts
    reads, writes = [], []
    read_keys, write = repository.missing_lineage_keys, repository.set_lineage

    def read(**options):
        page = read_keys(**options)
        reads.append((options["limit"], len(page)))
        return page

    def refuse_whole_artifacts(*args, **kwargs):
        raise AssertionError("the repair loads whole artifacts")

    repository.missing_lineage_keys = read
    repository.missing_lineage = refuse_whole_artifacts
    repository.set_lineage = lambda updates, *rest: writes.append(len(updates)) or write(
        updates, *rest)
    report = repair_lineage(repository, resolver, batch_size=7)

    assert report.scanned == 100 and len(report.repaired) == 100 and report.ok
    assert writes and max(writes) <= 7 and sum(writes) == 100
    assert all(got <= limit for limit, got in reads) and max(l for l, _ in reads) <= SCAN_PAGE
    # Each artifact got its own execution's run, once.
    assert sorted(r.artifact_id for r in report.repaired) == list(range(1, 101))
    assert all(repository.get(r.artifact_id).run_id == runs[
        repository.get(r.artifact_id).execution_id].run_id for r in report.repaired)


def test_items_go_to_the_sink_and_the_report_keeps_the_totals():
    repository, resolver, _ = setup(2)
    sink = Sample(RepairReport(), keep=1)
    report = repair_lineage(repository, resolver, sink=sink)
    assert report.repaired == [] and report.scanned == 6
    assert sink.counts["repaired"] == 6 and len(sink.report.repaired) == 1


def test_runs_spread_over_many_pages_give_each_artifact_its_newest_run_once():
    # Pages of 2 runs, newest first: an execution's older run comes pages after its newest,
    # when its artifacts are written already (a real run) or remembered (a dry run).
    tracker, repository = FakeTracker(), FakeRepository()
    newest = {}
    for n in range(12):  # each older run lands between two newer executions' newest runs
        tracker.add_run(execution_id=f"e{n}", workflow_id=WF, start_time=2_000 + 10 * n - 15)
        newest[f"e{n}"] = tracker.add_run(execution_id=f"e{n}", workflow_id=WF,
                                          start_time=2_000 + 10 * n)
        for _ in range(3):
            repository.add(NewArtifact(type="signal", name="s", workflow_id=WF,
                                       execution_id=f"e{n}",
                                       payload={"action": "BUY", "confidence": 0.5}))
    resolver = Resolver(tracker, FakeClaims(), page_size=2)

    for dry_run in (True, False):
        report = repair_lineage(repository, resolver, dry_run=dry_run, batch_size=4)
        assert report.ok and report.unresolved == [] and report.executions == 12
        assert sorted(r.artifact_id for r in report.repaired) == list(range(1, 37))
        assert all(r.run_id == newest[repository.get(r.artifact_id).execution_id].run_id
                   for r in report.repaired)
        assert report.tracking_calls == 1 + 5 + 6  # experiments, 5 pages, 6 one by one
    assert {repository.get(i).run_id for i in range(1, 37)} == {r.run_id for r in
                                                               newest.values()}
