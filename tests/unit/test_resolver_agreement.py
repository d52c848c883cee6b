"""One resolver: hydration, repair, the store path and verify agree on every case (fakes)."""
from __future__ import annotations

import pytest

from provenant.domain.lineage import Lineage
from tests.support.fakes import FakeBlobStore, FakeClaims, FakeRepository, FakeTracker
from tests.support.resolver_cases import CASES, T0, Case, RunSpec, check_case, check_table


class FakeWorld:
    """The table's runs in a FakeTracker, claims in FakeClaims, rows in FakeRepository."""

    timeout_seconds = 5.0

    def __init__(self) -> None:
        self.tracker = FakeTracker()
        self.claims = FakeClaims()
        self.repository = FakeRepository()
        self.blobs = FakeBlobStore()
        self._experiments: dict[str, str] = {}

    def create_run(self, spec: RunSpec, tagged: bool) -> Lineage:
        experiment_id = self._experiments.setdefault(spec.experiment,
                                                     str(len(self._experiments) + 1))
        tags = spec.tags if tagged else {}
        return self.tracker.add_run(experiment_id, start_time=T0 + spec.start, **tags).lineage

    def tag_run(self, lineage: Lineage, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.tracker.set_tag(lineage.run_id, key, value)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_path_picks_the_same_run(case: Case):
    check_case(FakeWorld(), case)


def test_one_repair_pass_over_the_whole_table_agrees():
    check_table(FakeWorld(), CASES)
