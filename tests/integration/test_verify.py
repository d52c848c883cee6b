"""`provenant lineage verify`: stored lineage checked against real MLflow runs."""
from __future__ import annotations

import json

from provenant import runtime
from provenant.artifacts import store_llm_artifact, store_signal_artifact
from provenant.lineage import mlflow_run_context
from tests.support.cli import cli
from tests.support.legacy_db import WORKFLOW


def sound_artifacts(count: int = 3) -> list:
    with mlflow_run_context(workflow_id=WORKFLOW, execution_id="verify-a"):
        return [store_signal_artifact(name=f"s{n}", symbol="TSLA", action="BUY",
                                      confidence=0.5) for n in range(count)]


def test_sound_lineage_verifies_clean_with_batched_lookups(services):
    artifacts = sound_artifacts(5)
    with mlflow_run_context(workflow_id=WORKFLOW, execution_id="verify-b"):
        artifacts.append(store_llm_artifact(name="l", symbol="TSLA", prompt="p", response="r",
                                            model_name="m"))
    report = runtime.verify(services)
    assert report.ok and report.checked == 6 and report.runs == 2
    assert report.tracking_calls <= 2  # experiments + one batched run search, not one per row


def test_mismatches_are_reported_and_exit_non_zero(services):
    sound = sound_artifacts()
    with mlflow_run_context(workflow_id=WORKFLOW, execution_id="verify-b") as other_run:
        pass
    wrong_execution = store_signal_artifact(
        name="w", symbol="TSLA", action="SELL", confidence=0.3, workflow_id=WORKFLOW,
        execution_id="verify-a", run_id=other_run.run_id, experiment_id=other_run.experiment_id)
    missing_run = store_signal_artifact(
        name="m", symbol="TSLA", action="SELL", confidence=0.3, workflow_id=WORKFLOW,
        execution_id="verify-a", run_id="f" * 32, experiment_id=other_run.experiment_id)

    result = cli(services, "lineage", "verify", "--json")

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["checked"] == len(sound) + 2
    problems = {m["artifact_id"]: m["problem"] for m in report["mismatches"]}
    assert set(problems) == {wrong_execution.id, missing_run.id}
    assert "'verify-b'" in problems[wrong_execution.id]
    assert "does not exist" in problems[missing_run.id]
    assert "2 problem(s) found by the lineage check(s)" in result.stderr

    human = cli(services, "lineage", "verify")
    assert human.returncode == 1
    assert f"artifact {wrong_execution.id} -> run {other_run.run_id}" in human.stderr
