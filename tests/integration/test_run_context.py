"""mlflow_run_context + store functions against a real MLflow store and real databases."""
from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import textwrap
import threading

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from provenant.artifacts import (
    store_chart_artifact, store_llm_artifact, store_order_artifact, store_signal_artifact)
from provenant.lineage import current_run, mlflow_run_context

WF = "ibkr_trading_signal_workflow"
EXEC = "manual__2026-11-25T10:00:00+00:00"


def png_bytes(color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def runs_for(uri: str, execution_id: str):
    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return [r for r in client.search_runs(ids) if r.data.tags.get("execution_id") == execution_id]


def test_contract_snippet_gives_every_artifact_the_run(services, mlflow_uri):
    with mlflow_run_context(workflow_id=WF, execution_id=EXEC) as run:
        assert isinstance(run.run_id, str) and isinstance(run.experiment_id, str)
        signal = store_signal_artifact(name="TSLA signal", symbol="TSLA", action="BUY",
                                       confidence=0.72, step_name="generate_signal")
        llm = store_llm_artifact(name="TSLA analysis", symbol="TSLA", prompt="p", response="r",
                                 model_name="m", step_name="analyze_with_llm")
        chart = store_chart_artifact(name="TSLA daily", symbol="TSLA", image=png_bytes(),
                                     chart_type="daily", step_name="generate_daily_chart")
    for art in (signal, llm, chart):
        assert (art.run_id, art.experiment_id) == (run.run_id, run.experiment_id)
        assert (art.workflow_id, art.execution_id) == (WF, EXEC)
        assert art.lineage_status == "persisted"
    runs = runs_for(mlflow_uri, EXEC)
    assert [r.info.run_id for r in runs] == [run.run_id]
    assert runs[0].data.tags["workflow_id"] == WF
    assert runs[0].info.status == "FINISHED"
    assert runs[0].info.experiment_id == run.experiment_id
    stored = services.artifacts.get(chart.id)
    assert stored.run_id == run.run_id and stored.has_image
    assert services.blobs.get(services.artifacts.image_of(chart.id)[0]) == png_bytes()


def test_second_process_resumes_the_same_run(services, mlflow_uri):
    with mlflow_run_context(workflow_id=WF, execution_id=EXEC) as run:
        pass
    settings = services.settings
    script = textwrap.dedent(f"""
        from provenant.bootstrap import configure
        from provenant.config import Settings
        from provenant.lineage import mlflow_run_context
        from provenant.artifacts import store_signal_artifact
        configure(Settings(home={str(settings.home)!r}, database_url={settings.database_url!r},
                           mlflow_tracking_uri={mlflow_uri!r}))
        with mlflow_run_context(workflow_id={WF!r}, execution_id={EXEC!r}) as run:
            art = store_signal_artifact(name="s", symbol="TSLA", action="SELL", confidence=0.4)
            print(run.run_id, art.run_id)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [run.run_id, run.run_id]
    runs = runs_for(mlflow_uri, EXEC)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"


def test_concurrent_entries_open_one_run(services, mlflow_uri):
    seen, errors = [], []

    def step():
        try:
            with mlflow_run_context(workflow_id=WF, execution_id="concurrent-1",
                                    end_run=False) as run:
                seen.append(run.run_id)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=step) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(seen)) == 1
    assert [r.info.run_id for r in runs_for(mlflow_uri, "concurrent-1")] == seen[:1]


def test_failure_marks_run_failed_and_keeps_lineage(services, mlflow_uri):
    with pytest.raises(RuntimeError):
        with mlflow_run_context(workflow_id=WF, execution_id="fails") as run:
            art = store_signal_artifact(name="s", symbol="TSLA", action="HOLD", confidence=0.5)
            raise RuntimeError("step broke")
    assert MlflowClient(mlflow_uri).get_run(run.run_id).info.status == "FAILED"
    assert services.artifacts.get(art.id).run_id == run.run_id
    assert current_run() is None


def test_context_is_isolated_between_threads_and_tasks(services):
    with mlflow_run_context(workflow_id=WF, execution_id="iso-a") as run_a:
        seen_in_thread = []
        t = threading.Thread(target=lambda: seen_in_thread.append(current_run()))
        t.start()
        t.join()
        assert seen_in_thread == [None]
        assert current_run() == run_a

    async def task(execution_id):
        with mlflow_run_context(workflow_id=WF, execution_id=execution_id) as run:
            await asyncio.sleep(0.01)
            assert current_run() == run
            return run.run_id

    async def both():
        return await asyncio.gather(task("iso-b"), task("iso-c"))

    b, c = asyncio.run(both())
    assert b != c


def test_outside_a_context_explicit_resolved_or_pending(services):
    with mlflow_run_context(workflow_id=WF, execution_id="outside-1") as run:
        pass
    explicit = store_signal_artifact(name="s", symbol="MSFT", action="BUY", confidence=0.9,
                                     workflow_id=WF, execution_id="x", run_id=run.run_id,
                                     experiment_id=run.experiment_id)
    assert explicit.run_id == run.run_id and explicit.lineage_status == "persisted"
    resolved = store_order_artifact(name="o", symbol="MSFT", side="BUY", quantity=5,
                                    order_type="MKT", workflow_id=WF, execution_id="outside-1")
    assert (resolved.run_id, resolved.experiment_id) == (run.run_id, run.experiment_id)
    pending = store_signal_artifact(name="s", symbol="MSFT", action="SELL", confidence=0.1,
                                    workflow_id=WF, execution_id="no-run-yet")
    assert pending.run_id is None and pending.lineage_status == "pending"


def test_store_rejects_bad_payloads_and_non_images(services, tmp_path):
    from pydantic import ValidationError

    from provenant.adapters.blobs import InvalidImage

    with pytest.raises(ValidationError):
        store_signal_artifact(name="s", symbol="TSLA", action="MAYBE", confidence=0.5)
    with pytest.raises(ValidationError):
        store_signal_artifact(name="s", symbol="TSLA", action="BUY", confidence=1.5)
    fake = tmp_path / "chart.png"
    fake.write_text("<html>not a png</html>")
    with pytest.raises(InvalidImage):
        store_chart_artifact(name="c", symbol="TSLA", image=fake, chart_type="daily")
    with pytest.raises(InvalidImage):  # right magic bytes, truncated body
        store_chart_artifact(name="c", symbol="TSLA", image=png_bytes()[:30], chart_type="daily")
    assert services.artifacts.count() == 0


def test_storing_inside_a_context_makes_no_tracking_calls(make_settings, tmp_path,
                                                          mlflow_server):
    from provenant.bootstrap import configure, reset_services
    from tests.support.proxy import CountingProxy

    with CountingProxy(mlflow_server.url) as proxy:
        configure(make_settings(mlflow_tracking_uri=proxy.url))
        try:
            with mlflow_run_context(workflow_id=WF, execution_id="count-calls") as run:
                before = proxy.count
                for i in range(5):
                    art = store_signal_artifact(name=f"s{i}", symbol="TSLA", action="BUY",
                                                confidence=0.5)
                    store_chart_artifact(name=f"c{i}", symbol="TSLA", image=png_bytes((i, 0, 0)),
                                         chart_type="daily")
                assert proxy.count == before
            assert art.run_id == run.run_id
            assert proxy.count > before  # ending the run did reach the server
        finally:
            reset_services()
