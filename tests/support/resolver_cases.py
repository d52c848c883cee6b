"""The resolver agreement table: which run each case's execution must get, on every path.

The same table runs against the fakes (tests/unit) and against a real MLflow store with a
real database (tests/integration); a `World` says how runs and claims are made in each.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from provenant.adapters.tracking import EXECUTION_TAG, WORKFLOW_TAG, Tracker
from provenant.domain.artifacts import NewArtifact
from provenant.domain.lineage import Lineage
from provenant.domain.reports import VerifyReport
from provenant.lineage.hydration import Hydrator
from provenant.lineage.repair import repair_lineage
from provenant.lineage.resolve import Resolver, mismatch
from provenant.lineage.verify import verify_lineage
from provenant.service.storing import ArtifactWriter

WORKFLOW = "ibkr_trading_signal_workflow"
T0 = 1_700_000_000_000  # ms; runs are told apart by their start times


@dataclass(frozen=True)
class RunSpec:
    """A run to create: its label in the case, tags (None: left out), experiment, start."""

    label: str
    execution_id: str
    workflow_id: str | None = WORKFLOW
    experiment: str = "a"
    start: int = 0  # added to T0

    @property
    def tags(self) -> dict[str, str]:
        tags = {EXECUTION_TAG: self.execution_id, WORKFLOW_TAG: self.workflow_id}
        return {k: v for k, v in tags.items() if v is not None}


@dataclass(frozen=True)
class Case:
    """One execution, the runs around it, and the run every path must pick (None: pending).

    `wrong` labels a run that does not belong: verify must say why with `mismatch`'s text.
    `claimed` labels a run Provenant claimed for the execution before MLflow shows it (it
    is created untagged, so no search finds it, and tagged once the paths have answered).
    """

    name: str
    execution_id: str
    runs: tuple[RunSpec, ...]
    expect: str | None
    wrong: str
    workflow_id: str | None = WORKFLOW
    claimed: str | None = None


def _quoted(name: str, execution_id: str, decoy_id: str) -> Case:
    # The decoy differs only in its quote characters and is newer: a filter that only
    # approximates the value (MLflow's LIKE with `_`) finds both, the exact check drops it.
    return Case(name, execution_id, (RunSpec("own", execution_id, start=1000),
                                     RunSpec("decoy", decoy_id, start=2000)),
                expect="own", wrong="decoy")


CASES = [
    Case("foreign workflow never matches", "e-foreign",
         (RunSpec("own", "e-foreign", start=1000),
          RunSpec("foreign", "e-foreign", workflow_id="another_workflow", start=2000)),
         expect="own", wrong="foreign"),
    Case("newer execution-only legacy run wins", "e-legacy",
         (RunSpec("tagged", "e-legacy", start=1000),
          RunSpec("legacy", "e-legacy", workflow_id=None, start=2000),
          RunSpec("other", "e-legacy-2", start=3000)),
         expect="legacy", wrong="other"),
    Case("newest across experiments", "e-newest",
         (RunSpec("old_a", "e-newest", experiment="a", start=1000),
          RunSpec("new_b", "e-newest", experiment="b", start=3000),
          RunSpec("mid_a", "e-newest", experiment="a", start=2000),
          RunSpec("other", "e-newest-2", experiment="b", start=4000)),
         expect="new_b", wrong="other"),
    _quoted("single quotes", "2025-11-15 13:54:31 it's", '2025-11-15 13:54:31 it"s'),
    _quoted("double quotes", '2025-11-15 13:54:31 say "hi"', "2025-11-15 13:54:31 say 'hi'"),
    _quoted("both quotes and a backslash", """2025-11-15 'o"dd"' \\ end""",
            """2025-11-15 "o'dd'" \\ end"""),
    Case("artifact without a workflow takes any workflow's run", "e-no-workflow",
         (RunSpec("first", "e-no-workflow", workflow_id="workflow_a", start=1000),
          RunSpec("second", "e-no-workflow", workflow_id="workflow_b", start=2000),
          RunSpec("other", "e-no-workflow-2", start=3000)),
         expect="second", wrong="other", workflow_id=None),
    Case("a claimed run not yet visible in MLflow wins", "e-claimed",
         (RunSpec("visible", "e-claimed", start=1000),
          RunSpec("claimed", "e-claimed", start=2000),
          RunSpec("foreign", "e-claimed", workflow_id="another_workflow", start=3000)),
         expect="claimed", wrong="foreign", claimed="claimed"),
    Case("no run at all stays pending", "e-none",
         (RunSpec("other", "e-none-2", start=1000),), expect=None, wrong="other"),
]


class World(Protocol):
    """Where a case's runs and claims are made, and the parts the paths are built from."""

    repository: Any  # ArtifactRepository or FakeRepository
    tracker: Tracker
    claims: Any  # ExecutionRunRegistry or FakeClaims
    blobs: Any
    timeout_seconds: float  # hydration's deadline: a real store's first call may be slow

    def create_run(self, spec: RunSpec, tagged: bool) -> Lineage: ...

    def tag_run(self, lineage: Lineage, tags: dict[str, str]) -> None: ...


def check_case(world: World, case: Case) -> None:
    """Hydration, repair and the store path pick the case's run; verify agrees with them."""
    runs = make_runs(world, case)
    expected = runs[case.expect] if case.expect else None
    got = lineage_by_path(world, case)
    assert got == dict.fromkeys(got, expected), f"{case.name}: {got} != {expected}"
    reveal_claimed(world, case, runs)
    clean = verify_lineage(world.repository, world.tracker)
    assert (clean.errors, clean.mismatches) == ([], []), f"{case.name}: {clean}"
    assert clean.checked == (2 if expected else 0), f"{case.name}: {clean}"
    report = verify_wrong_run(world, case, runs)
    problems = [m.problem for m in report.mismatches]
    assert problems == [wrong_run_text(case)], f"{case.name}: {problems}"


def check_table(world: World, cases: list[Case]) -> None:
    """All cases in one store: one repair pass (a scan, not per-execution lookups) agrees."""
    runs = {case.name: make_runs(world, case) for case in cases}
    artifacts = {case.name: pending_artifact(world, case) for case in cases}
    resolver = Resolver(world.tracker, world.claims)
    calls_before = world.tracker.calls
    report = repair_lineage(world.repository, resolver)
    assert report.errors == [], report.errors
    # Experiments, one page of every run with an execution id, and one lookup for the one
    # execution that page left unresolved: never a call per execution for the rest.
    assert world.tracker.calls - calls_before == 3, report
    got = {r.artifact_id: Lineage(r.run_id, r.experiment_id) for r in report.repaired}
    for case in cases:
        expected = runs[case.name][case.expect] if case.expect else None
        assert got.get(artifacts[case.name].id) == expected, case.name
        reveal_claimed(world, case, runs[case.name])
    clean = verify_lineage(world.repository, world.tracker)
    assert (clean.errors, clean.mismatches) == ([], []), clean


def make_runs(world: World, case: Case) -> dict[str, Lineage]:
    """Create the case's runs (the claimed one untagged) and its claim."""
    runs = {spec.label: world.create_run(spec, tagged=spec.label != case.claimed)
            for spec in case.runs}
    if case.claimed:
        world.claims.claim(case.workflow_id, case.execution_id, runs[case.claimed])
    return runs


def reveal_claimed(world: World, case: Case, runs: dict[str, Lineage]) -> None:
    """The claimed run shows up in MLflow with its tags (as it does once its step logs)."""
    if case.claimed:
        spec = next(s for s in case.runs if s.label == case.claimed)
        world.tag_run(runs[case.claimed], spec.tags)


def pending_artifact(world: World, case: Case, name: str = "s"):
    """An artifact of the case's execution stored without lineage."""
    return world.repository.add(NewArtifact(
        type="signal", name=name, payload={"action": "BUY", "confidence": 0.5},
        workflow_id=case.workflow_id, execution_id=case.execution_id))


def lineage_by_path(world: World, case: Case) -> dict[str, Lineage | None]:
    """What hydration, repair and the store path each give the case's execution.

    Each path is built from the world's parts exactly as provenant.runtime binds them.
    """
    resolver = Resolver(world.tracker, world.claims)
    hydrator = Hydrator(resolver, world.repository, timeout_seconds=world.timeout_seconds,
                        miss_ttl_seconds=0)
    writer = ArtifactWriter(world.repository, world.blobs, world.tracker, world.claims)
    hydrated, repaired = pending_artifact(world, case, "h"), pending_artifact(world, case, "r")
    by_hydration = hydrator.hydrate(hydrated)[0].lineage
    report = repair_lineage(world.repository, resolver)
    assert report.errors == [], report.errors
    by_repair = {r.artifact_id: Lineage(r.run_id, r.experiment_id) for r in report.repaired}
    stored = writer.lineage_for(workflow_id=case.workflow_id, execution_id=case.execution_id)
    return {"hydration": by_hydration, "repair": by_repair.get(repaired.id),
            "store": stored.lineage}


def verify_wrong_run(world: World, case: Case, runs: dict[str, Lineage]) -> VerifyReport:
    """Store an artifact naming the case's wrong run and verify everything."""
    wrong = runs[case.wrong]
    world.repository.add(NewArtifact(
        type="signal", name="wrong", payload={"action": "BUY", "confidence": 0.5},
        workflow_id=case.workflow_id, execution_id=case.execution_id,
        run_id=wrong.run_id, experiment_id=wrong.experiment_id))
    return verify_lineage(world.repository, world.tracker)


def wrong_run_text(case: Case) -> str:
    """What verify must say about the case's wrong run: the resolver's own reason."""
    spec = next(s for s in case.runs if s.label == case.wrong)
    text = mismatch(spec.tags, case.workflow_id, case.execution_id)
    assert text is not None, f"{case.name}: the wrong run matches"
    return text
