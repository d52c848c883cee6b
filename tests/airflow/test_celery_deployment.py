"""The real deployment (CeleryExecutor, PostgreSQL, Redis, two workers): runs via the REST API.

One deployment for the session (tests/airflow/deployment.py); the tests run in file order
and the last one kills a worker.
"""
from __future__ import annotations

from collections import Counter

from mlflow.tracking import MlflowClient

from provenant.airflow.workflow import WORKFLOW_ID, step_names
from provenant.adapters.mlflow_tracker import EXECUTION_TAG, WORKFLOW_TAG
from tests.airflow.deployment import WORKERS
from tests.support.openai_server import Answer

SYMBOLS = ("TSLA", "MSFT", "NVDA", "NFLX", "AMZN")
REPAIR_DAG = "artifact_lineage_repair"
FIVE_STEPS_OF_ARTIFACTS = {"market_data", "chart", "llm", "signal"}


def _runs_of(tracking_uri: str, execution_id: str) -> list:
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    quoted = execution_id.replace("'", "\\'")
    return client.search_runs(experiments, f"tags.{EXECUTION_TAG} = '{quoted}'")


def _check_one_finished_run(stack, run_id: str) -> tuple[str, list]:
    """One FINISHED MLflow run for the DAG run; every artifact carries it, no name twice."""
    runs = _runs_of(stack.mlflow_url, run_id)
    assert [(r.info.status, r.data.tags[WORKFLOW_TAG]) for r in runs] == [
        ("FINISHED", WORKFLOW_ID)], run_id
    artifacts = stack.services.artifacts.by_execution(run_id)
    assert {str(a.type) for a in artifacts} >= FIVE_STEPS_OF_ARTIFACTS
    assert {(a.run_id, a.experiment_id) for a in artifacts} == {
        (runs[0].info.run_id, runs[0].info.experiment_id)}
    assert [n for n, c in Counter(a.name for a in artifacts).items() if c > 1] == []
    return runs[0].info.run_id, artifacts


def _a_finished_dag_run(deployment, which: int) -> str:
    """A finished DAG run: one of the batch's when it ran before, else a new one."""
    finished = [r["dag_run_id"] for r in deployment.dag_runs(WORKFLOW_ID)
                if r["state"] == "success"]
    run_id = finished[which] if finished else deployment.trigger(WORKFLOW_ID, {"symbol": "TSLA"})
    assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=240) == {run_id: "success"}
    return run_id


def test_the_repair_dag_runs_on_its_schedule_and_repairs_a_legacy_artifact(celery_deployment):
    stack, seeded = celery_deployment, celery_deployment.seeded
    deployment = stack.deployment

    # Nobody triggers it: the scheduler creates the run of the latest 10-minute interval.
    def scheduled() -> list[str]:
        return [r["dag_run_id"] for r in deployment.dag_runs(REPAIR_DAG)
                if r["run_type"] == "scheduled"]
    deployment.services["scheduler"].wait_for("scheduled repair run", scheduled, 120, 2)
    states = deployment.wait_for_runs(REPAIR_DAG, scheduled()[:1], timeout=180)

    assert list(states.values()) == ["success"]
    repaired = stack.services.artifacts.get(seeded["artifact_id"])
    assert (repaired.run_id, repaired.experiment_id) == (seeded["run_id"],
                                                         seeded["experiment_id"])
    assert [(r.run_id, r.source) for r in stack.services.artifacts.repairs(
        seeded["artifact_id"])] == [(seeded["run_id"], "repair")]


def test_ten_dag_runs_at_once_are_ten_finished_runs_spread_over_both_workers(
        celery_deployment):
    deployment = celery_deployment.deployment
    run_ids = [deployment.trigger(WORKFLOW_ID, {"symbol": SYMBOLS[i % 5].lower()})
               for i in range(10)]

    states = deployment.wait_for_runs(WORKFLOW_ID, run_ids, timeout=480)

    assert set(states.values()) == {"success"}, states
    mlflow_runs, hosts = set(), set()
    for run_id in run_ids:
        mlflow_run, _ = _check_one_finished_run(celery_deployment, run_id)
        mlflow_runs.add(mlflow_run)
        tasks = deployment.task_instances(WORKFLOW_ID, run_id)
        assert {t: ti["state"] for t, ti in tasks.items()} == {
            name: "success" for name in step_names()}
        hosts |= {ti["hostname"] for ti in tasks.values()}
    assert len(mlflow_runs) == 10  # no DAG run wrote into another's run
    assert hosts == set(WORKERS)


def test_clearing_a_finished_task_reruns_it_without_a_duplicate(celery_deployment):
    deployment = celery_deployment.deployment
    run_id = _a_finished_dag_run(deployment, 0)
    mlflow_run, before = _check_one_finished_run(celery_deployment, run_id)

    # What an operator's "clear" does (with its downstream tasks, as the UI offers).
    deployment.clear(WORKFLOW_ID, run_id, ["generate_daily_chart"], downstream=True)
    assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=240) == {run_id: "success"}
    rerun = deployment.task_instances(WORKFLOW_ID, run_id)["generate_daily_chart"]
    assert (rerun["state"], rerun["try_number"]) == ("success", 2)

    after_run, after = _check_one_finished_run(celery_deployment, run_id)
    assert after_run == mlflow_run
    assert [a.id for a in after] == [a.id for a in before]


def test_clearing_one_middle_task_alone_leaves_the_mlflow_run_finished(celery_deployment):
    deployment = celery_deployment.deployment
    run_id = _a_finished_dag_run(deployment, -1)  # not the one the test above cleared
    mlflow_run, before = _check_one_finished_run(celery_deployment, run_id)

    # Without its downstream tasks: no later task comes to end the run it reopens.
    deployment.clear(WORKFLOW_ID, run_id, ["generate_weekly_chart"], downstream=False)
    assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=240) == {run_id: "success"}
    tasks = deployment.task_instances(WORKFLOW_ID, run_id)
    assert tasks["generate_weekly_chart"]["try_number"] == 2
    assert tasks["log_to_mlflow"]["try_number"] == 1

    after_run, after = _check_one_finished_run(celery_deployment, run_id)  # not RUNNING
    assert after_run == mlflow_run
    assert [a.id for a in after] == [a.id for a in before]


def test_a_failing_task_fails_the_dag_run_and_its_mlflow_run_keeping_earlier_lineage(
        celery_deployment):
    deployment, analyst = celery_deployment.deployment, celery_deployment.analyst
    valid = analyst.server.default
    analyst.server.default = Answer("no JSON today")  # every attempt of every try
    analyst.gate.set()
    try:
        run_id = deployment.trigger(WORKFLOW_ID, {"symbol": "NFLX", "analyst": "openai"})
        assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], 300) == {run_id: "failed"}
    finally:
        analyst.server.default = valid
        analyst.gate.clear()

    states = {t: (ti["state"], ti["try_number"])
              for t, ti in deployment.task_instances(WORKFLOW_ID, run_id).items()}
    assert states["generate_weekly_chart"] == ("success", 1)
    assert states["analyze_with_llm"] == ("failed", 2)  # the retry failed the same way
    assert states["log_to_mlflow"][0] == "upstream_failed"
    runs = _runs_of(celery_deployment.mlflow_url, run_id)
    assert [r.info.status for r in runs] == ["FAILED"]
    kept = celery_deployment.services.artifacts.by_execution(run_id)
    assert sorted((str(a.type), a.name) for a in kept) == [
        ("chart", "NFLX daily chart"), ("chart", "NFLX weekly chart"),
        ("llm", "NFLX chart analysis (failed attempt 1)"),
        ("llm", "NFLX chart analysis (failed attempt 2)"),
        ("market_data", "NFLX daily market data"), ("market_data", "NFLX weekly market data")]
    assert {a.run_id for a in kept} == {runs[0].info.run_id}


def test_a_task_starting_while_mlflow_is_down_fails_fast_and_its_retry_succeeds(
        celery_deployment):
    deployment, mlflow = celery_deployment.deployment, celery_deployment.mlflow
    first = step_names()[0]
    mlflow.stop()
    try:
        run_id = deployment.trigger(WORKFLOW_ID, {"symbol": "NVDA"})
        deployment.wait_for_task(WORKFLOW_ID, run_id, first, {"queued", "running",
                                                              "up_for_retry"}, 120)
        # Hold the retry until the server is back: a restart takes 5-25 s on this machine.
        deployment.pause(WORKFLOW_ID, True)
        deployment.wait_for_task(WORKFLOW_ID, run_id, first, {"up_for_retry"}, 120)
    finally:
        mlflow.start()
        deployment.pause(WORKFLOW_ID, False)

    assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=240) == {run_id: "success"}
    assert deployment.task_instances(WORKFLOW_ID, run_id)[first]["try_number"] == 2
    failed_try = deployment.task_log(WORKFLOW_ID, run_id, first, 1)
    assert "is not reachable" in failed_try and "nothing was run or stored" in failed_try
    _check_one_finished_run(celery_deployment, run_id)


def test_a_dag_run_started_while_redis_is_down_fails_clearly_and_a_clear_reruns_it(
        celery_deployment):
    deployment = celery_deployment.deployment
    deployment.stop_redis()  # SIGTERM: it saves what it holds, like the compose file's Redis
    try:
        run_id = deployment.trigger(WORKFLOW_ID, {"symbol": "MSFT"})
        # Airflow cannot hand the task to Celery: after its publish retries and the task's
        # own retry it fails the run, naming the broker it could not reach.
        assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=240) == {
            run_id: "failed"}
    finally:
        deployment.start_redis()
    scheduler_log = (deployment.home / "scheduler.log").read_text(errors="replace")
    assert f"connecting to 127.0.0.1:{deployment.redis_port}. Connection refused" in scheduler_log
    assert celery_deployment.services.artifacts.by_execution(run_id) == []  # nothing ran
    assert _runs_of(celery_deployment.mlflow_url, run_id) == []

    # The operator's recovery once Redis is back: clear the failed DAG run.
    deployment.clear(WORKFLOW_ID, run_id, only_failed=True)
    assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=300) == {run_id: "success"}
    _check_one_finished_run(celery_deployment, run_id)


def test_a_worker_killed_mid_task_is_retried_into_the_same_run(celery_deployment):
    deployment, analyst = celery_deployment.deployment, celery_deployment.analyst
    asked_before = analyst.requests()
    run_id = deployment.trigger(WORKFLOW_ID, {"symbol": "AMZN", "analyst": "openai"})
    # The analyst holds its answer: analyze_with_llm is mid-step on some worker.
    deployment.services["scheduler"].wait_for(
        "analyze_with_llm asking the analyst", lambda: analyst.requests() > asked_before,
        240, 1)
    running = deployment.task_instances(WORKFLOW_ID, run_id)["analyze_with_llm"]
    assert running["state"] == "running" and running["hostname"] in WORKERS
    victim = deployment.services[running["hostname"]]
    victim.kill()  # SIGKILL, worker and task process alike: no chance to report anything
    analyst.gate.set()

    assert deployment.wait_for_runs(WORKFLOW_ID, [run_id], timeout=300) == {run_id: "success"}
    tasks = deployment.task_instances(WORKFLOW_ID, run_id)
    assert tasks["analyze_with_llm"]["try_number"] == 2
    assert tasks["analyze_with_llm"]["hostname"] != running["hostname"]
    _, artifacts = _check_one_finished_run(celery_deployment, run_id)
    assert sum(str(a.type) == "llm" for a in artifacts) == 1
