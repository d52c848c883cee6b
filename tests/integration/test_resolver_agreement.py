"""One resolver on real parts: the agreement table against a real MLflow store and database."""
from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from provenant.domain.lineage import Lineage
from tests.support.resolver_cases import CASES, T0, Case, RunSpec, check_case, check_table


class MlflowWorld:
    """The table's runs in a real MLflow store; rows and claims in the services' database."""

    timeout_seconds = 30.0  # a real store's first call may be slow on a busy machine

    def __init__(self, services, mlflow_uri: str) -> None:
        self.repository = services.artifacts
        self.tracker = services.tracker
        self.claims = services.execution_runs
        self.blobs = services.blobs
        self.client = MlflowClient(mlflow_uri)
        self._experiments: dict[str, str] = {}

    def create_run(self, spec: RunSpec, tagged: bool) -> Lineage:
        if spec.experiment not in self._experiments:
            self._experiments[spec.experiment] = self.client.create_experiment(spec.experiment)
        run = self.client.create_run(self._experiments[spec.experiment],
                                     start_time=T0 + spec.start,
                                     tags=spec.tags if tagged else {})
        return Lineage(run.info.run_id, run.info.experiment_id)

    def tag_run(self, lineage: Lineage, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(lineage.run_id, key, value)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_path_picks_the_same_run(services, mlflow_uri, case: Case):
    check_case(MlflowWorld(services, mlflow_uri), case)


def test_one_repair_pass_over_the_whole_table_agrees(services, mlflow_uri):
    check_table(MlflowWorld(services, mlflow_uri), CASES)
