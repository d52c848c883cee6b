"""10,000 legacy artifacts over 2,000 executions: tracking calls grow with pages, not rows."""
from __future__ import annotations

from mlflow.tracking import MlflowClient

from provenant import runtime

from tests.support.legacy_db import (
    WORKFLOW, LegacyDb, bulk_create_runs, chart_row, llm_row, signal_row, sqlite_legacy_url)

EXECUTIONS, PER_EXECUTION, WITHOUT_RUN = 2_000, 5, 10


def execution_id(n: int) -> str:
    return f"2025-11-{1 + n % 28:02d} 13:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}+00:00"


def build_legacy(path) -> str:
    rows = []
    for n in range(EXECUTIONS):
        first, ex = n * PER_EXECUTION + 1, execution_id(n)
        rows += [chart_row(first, ex), chart_row(first + 1, ex, chart_type="weekly"),
                 llm_row(first + 2, ex), signal_row(first + 3, ex),
                 signal_row(first + 4, ex, signal_data={
                     "artifact_type": "order", "quantity": 10, "order_type": "MKT"})]
    url = sqlite_legacy_url(path)
    LegacyDb(url).add(*rows).close()
    return url


def build_runs(mlflow_uri: str) -> dict[str, tuple[str, str]]:
    """One run per execution (bar WITHOUT_RUN), spread over two experiments."""
    client = MlflowClient(mlflow_uri)
    expected = {}
    for parity, name in enumerate(("legacy-a", "legacy-b")):
        experiment = client.create_experiment(name)
        numbers = [n for n in range(WITHOUT_RUN, EXECUTIONS) if n % 2 == parity]
        run_ids = bulk_create_runs(mlflow_uri, experiment, [
            (execution_id(n), WORKFLOW, 1_763_000_000_000 + n) for n in numbers])
        expected |= {execution_id(n): (run_id, experiment) for n, run_id in zip(numbers, run_ids)}
    # A spot check that MLflow itself sees these runs as it would its own.
    run_id, experiment = expected[execution_id(EXECUTIONS - 1)]
    run = client.get_run(run_id)
    assert (run.info.experiment_id, run.data.tags["execution_id"]) == (
        experiment, execution_id(EXECUTIONS - 1))
    return expected


def test_ten_thousand_artifacts_need_few_tracking_calls(services, mlflow_uri, tmp_path):
    imported = runtime.import_rows(services, build_legacy(tmp_path / "legacy.db"))
    assert len(imported.imported) == EXECUTIONS * PER_EXECUTION and not imported.failed
    expected = build_runs(mlflow_uri)

    report = runtime.repair(services)

    assert report.errors == []
    assert report.scanned == EXECUTIONS * PER_EXECUTION and report.executions == EXECUTIONS
    assert len(report.repaired) == (EXECUTIONS - WITHOUT_RUN) * PER_EXECUTION
    assert sorted(report.unresolved) == list(range(1, WITHOUT_RUN * PER_EXECUTION + 1))
    assert report.tracking_calls <= 50, report.tracking_calls
    # Every artifact got its own execution's run.
    execution_of = {a.id: a.execution_id for a in services.artifacts.list(limit=20_000)[0]}
    assert all((r.run_id, r.experiment_id) == expected[execution_of[r.artifact_id]]
               for r in report.repaired)
    assert len(services.artifacts.repairs(limit=20_000)) == len(report.repaired)
