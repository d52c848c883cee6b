"""The store path: lineage decided once as an artifact is stored, images checked and kept."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from provenant.adapters.blobs import InvalidImage
from provenant.domain.errors import Conflict, NotFound, Refused
from provenant.domain.lineage import Lineage, LineageStatus
from provenant.lineage.context import RunOpener, run_context
from provenant.service.images import attach_image, read_image
from provenant.service.storing import ArtifactWriter
from tests.support.fakes import FakeBlobStore, FakeClaims, FakeRepository, FakeTracker

WF = "wf"


def png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def tracker():
    return FakeTracker()


@pytest.fixture
def claims():
    return FakeClaims()


@pytest.fixture
def writer(tracker, claims):
    return ArtifactWriter(FakeRepository(), FakeBlobStore(), tracker, claims)


def signal(writer: ArtifactWriter, **context):
    return writer.signal(name="s", symbol="TSLA", action="BUY", confidence=0.6, **context)


def test_explicit_ids_are_stored_without_asking_mlflow(writer, tracker):
    artifact = signal(writer, run_id="a" * 32, experiment_id="4", execution_id="e1")
    assert artifact.lineage == Lineage("a" * 32, "4")
    assert artifact.lineage_status is LineageStatus.persisted and tracker.calls == 0


def test_a_run_id_alone_takes_its_experiment_from_mlflow(writer, tracker):
    run = tracker.add_run("7", execution_id="e1")
    assert signal(writer, run_id=run.run_id).lineage == Lineage(run.run_id, "7")
    with pytest.raises(NotFound, match=f"MLflow run {'b' * 32} does not exist"):
        signal(writer, run_id="b" * 32)


def test_no_execution_means_no_lineage_and_no_call(writer, tracker):
    artifact = signal(writer)
    assert artifact.lineage is None and tracker.calls == 0


def test_an_execution_gets_its_claimed_run_without_a_tracking_call(writer, tracker, claims):
    tracker.add_run(execution_id="e1", workflow_id=WF)
    claimed = claims.claim(WF, "e1", Lineage("c" * 32, "2"))
    assert signal(writer, workflow_id=WF, execution_id="e1").lineage == claimed
    assert tracker.calls == 0


def test_an_execution_gets_its_newest_matching_run(writer, tracker):
    tracker.add_run(execution_id="e1", workflow_id=WF)
    newest = tracker.add_run(execution_id="e1")
    tracker.add_run(execution_id="e1", workflow_id="other")
    assert signal(writer, workflow_id=WF, execution_id="e1").lineage == newest.lineage


def test_a_down_tracker_leaves_lineage_pending(writer, tracker):
    tracker.down = True
    artifact = signal(writer, workflow_id=WF, execution_id="e1")
    assert artifact.execution_id == "e1" and artifact.lineage_status is LineageStatus.pending


def test_inside_a_run_context_artifacts_inherit_the_run_for_free(writer, tracker, claims):
    opener = RunOpener(tracker, claims)
    with run_context(opener, WF, "e1") as run:
        calls = tracker.calls
        stored = [signal(writer), signal(writer, execution_id="e1")]
        assert tracker.calls == calls  # no lookup: the context knows its run
    assert [a.lineage for a in stored] == [run.lineage] * 2
    assert {(a.workflow_id, a.execution_id) for a in stored} == {(WF, "e1")}
    assert tracker.runs[run.run_id].status == "FINISHED"
    with run_context(opener, WF, "e1") as again:  # the same execution resumes its run
        assert again.lineage == run.lineage


def test_a_chart_keeps_its_image_content_addressed(writer):
    data = png()
    chart = writer.chart(name="c", symbol="TSLA", image=data, chart_type="daily")
    assert chart.has_image and chart.image_content_type == "image/png"
    assert read_image(writer.repository, writer.blobs, chart.id) == (data, "image/png")
    with pytest.raises(InvalidImage):
        writer.chart(name="c", symbol="TSLA", image=b"%PDF-1.4", chart_type="daily")
    assert len(writer.repository.rows) == 1  # the refused image stored no row


def test_attaching_an_image_follows_the_rules(writer):
    chart = writer.chart(name="c", symbol="TSLA", image=None, chart_type="daily")
    repository, blobs = writer.repository, writer.blobs
    with pytest.raises(NotFound, match="artifact 99 not found"):
        attach_image(repository, blobs, 99, png())
    with pytest.raises(Refused, match="only chart artifacts take an image, not signal"):
        attach_image(repository, blobs, signal(writer).id, png())
    assert attach_image(repository, blobs, chart.id, png()).has_image
    assert attach_image(repository, blobs, chart.id, png()).has_image  # a retry is harmless
    with pytest.raises(Conflict, match="already has another image"):
        attach_image(repository, blobs, chart.id, png("blue"))
    with pytest.raises(NotFound, match="has no image"):
        read_image(repository, blobs, signal(writer).id)
