"""The web UI in Chromium against a real `mlflow server`: drawer, deep link, states, safety."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from mlflow.tracking import MlflowClient

from provenant.artifacts import store_llm_artifact
from provenant.bootstrap import Services
from provenant.config import Settings
from provenant.domain.artifacts import Artifact, NewArtifact
from provenant.lineage import mlflow_run_context
from provenant.http.web.format import show, show_number, show_percent
from tests.support.browser import null_words_in, serve_app
from tests.support.proxy import CountingProxy

pytestmark = [pytest.mark.browser, pytest.mark.mlflow_server]

WF = "ibkr_trading_signal_workflow"
HOSTILE = ('<script>window.__pwned = 1; alert("xss")</script>'
           '<img src=x onerror="window.__pwned = 2; alert(1)">')


@dataclass
class Ui:
    url: str
    services: Services
    proxy: CountingProxy
    mlflow_url: str
    execution_id: str
    run_id: str
    experiment_id: str
    chart: Artifact
    llm: Artifact
    signal: Artifact
    order: Artifact | None  # a HOLD signal places no order
    hostile: Artifact


def run_workflow(home: Path, tracking_uri: str) -> dict:
    """`provenant run ibkr_trading_signal_workflow --symbol TSLA --json`, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANT_")}
    env.update(PROVENANT_HOME=str(home), PROVENANT_MLFLOW_TRACKING_URI=tracking_uri,
               # MLflow prints "View run ... at" to stdout for http servers; not our JSON.
               MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true")
    command = [str(Path(sys.executable).with_name("provenant")), "run", WF, "--symbol", "TSLA",
               "--json"]
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def store_hostile(services: Services) -> Artifact:
    """An LLM artifact whose name, prompt, response and model try to run script."""
    with mlflow_run_context(WF, f"hostile-{uuid.uuid4().hex}", services=services):
        return store_llm_artifact(name=f"Hostile {HOSTILE}", symbol="TSLA",
                                  prompt=f"prompt {HOSTILE}", response=f"response {HOSTILE}",
                                  model_name=HOSTILE, step_name="analyze_with_llm",
                                  services=services)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, mlflow_server):
    """The workflow's artifacts served by the app; tracking goes through a counting proxy."""
    home = tmp_path_factory.mktemp("ui")
    result = run_workflow(home, mlflow_server.url)
    with CountingProxy(mlflow_server.url) as proxy:
        services = Services(Settings(
            home=home, auto_migrate=True, mlflow_tracking_uri=proxy.url,
            mlflow_ui_url=mlflow_server.url, repair_interval_seconds=0,
            hydration_timeout_seconds=5, hydration_miss_ttl_seconds=0))
        first = {}
        for item in result["artifacts"]:
            first.setdefault(item["type"], services.artifacts.get(item["id"]))
        hostile = store_hostile(services)
        with serve_app(services) as url:
            yield Ui(url=url, services=services, proxy=proxy, mlflow_url=mlflow_server.url,
                     execution_id=result["execution_id"], run_id=result["run_id"],
                     experiment_id=result["experiment_id"],
                     chart=first["chart"], llm=first["llm"], signal=first["signal"],
                     order=first.get("order"), hostile=hostile)
        services.close()


def legacy_artifact(services: Services, execution_id: str) -> Artifact:
    """An artifact as the previous system left it: an execution id but no run."""
    return services.artifacts.add(NewArtifact(
        type="signal", name="Legacy TSLA signal", symbol="TSLA", workflow_id=WF,
        execution_id=execution_id, step_name="generate_signal",
        payload={"action": "SELL", "confidence": 0.4}))


def open_drawer(page, ui: Ui, artifact_id: int):
    page.goto(f"{ui.url}/artifacts/{artifact_id}")
    drawer = page.get_by_role("dialog")
    drawer.wait_for()
    return drawer


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where the drawer screenshot goes: tmp, or PROVENANT_UI_SCREENSHOTS (docs/images)."""
    folder = Path(os.environ.get("PROVENANT_UI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_drawer_links_each_artifact_to_its_run_in_mlflow(page, ui, screenshot_dir):
    expected = f"{ui.mlflow_url}/#/experiments/{ui.experiment_id}/runs/{ui.run_id}"
    for artifact in filter(None, (ui.chart, ui.llm, ui.signal, ui.order)):
        drawer = open_drawer(page, ui, artifact.id)
        ribbon = drawer.get_by_test_id("workflow-context-ribbon")
        assert ribbon.get_by_test_id("mlflow-run-id").inner_text() == ui.run_id
        assert ribbon.get_by_test_id("mlflow-experiment-id").inner_text() == ui.experiment_id
        assert ribbon.get_by_test_id("lineage-status").inner_text() == "Captured"
        link = ribbon.locator("a[data-testid=open-in-mlflow]")
        assert link.get_attribute("href") == expected
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in link.get_attribute("rel")
        box = link.bounding_box()  # on a 1366x768 laptop the button shows without scrolling
        assert box["x"] + box["width"] <= 1366 and box["y"] + box["height"] <= 768
        assert drawer.locator("#drawer-title").inner_text() == artifact.name
        assert null_words_in(drawer) == []

    # The type bodies: the chart image and its indicators, the LLM text, the signal card.
    drawer = open_drawer(page, ui, ui.chart.id)
    image = drawer.locator("figure.chart img")
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    rsi = ui.chart.payload["indicators"]["rsi_14"]
    row = drawer.get_by_test_id("indicator-row").filter(has_text="RSI 14")
    assert row.locator("td").inner_text() == show_number(rsi)
    page.goto(f"{ui.url}/artifacts/{ui.chart.id}?{urlencode({'execution_id': ui.execution_id})}")
    page.wait_for_function("() => document.querySelector('figure.chart img').complete")
    page.screenshot(path=screenshot_dir / "artifact-drawer.png")
    drawer = open_drawer(page, ui, ui.llm.id)
    assert drawer.get_by_test_id("text-prompt").inner_text() == ui.llm.payload["prompt"]
    assert drawer.get_by_test_id("text-response").inner_text() == ui.llm.payload["response"]
    drawer = open_drawer(page, ui, ui.signal.id)
    signal = ui.signal.payload
    card = dict(zip(drawer.locator(".facts-signal dt").all_inner_texts(),
                    drawer.locator(".facts-signal dd").all_inner_texts()))
    assert card == {"Action": signal["action"], "Confidence": show_percent(signal["confidence"]),
                    "Entry": show(signal.get("entry_price")), "Stop": show(signal.get("stop_loss")),
                    "Target": show(signal.get("take_profit")),
                    "Risk-reward": show(signal.get("risk_reward"))}
    assert drawer.get_by_test_id("text-rationale").inner_text() == signal["rationale"]

    # Following the link shows that run in MLflow's own UI.
    with page.context.expect_page() as opened:
        drawer.locator("a[data-testid=open-in-mlflow]").click()
    mlflow_page = opened.value
    assert mlflow_page.url == expected
    mlflow_page.get_by_text(ui.run_id).first.wait_for(timeout=60_000)


def test_hostile_text_is_shown_as_text_and_never_runs(page, ui):
    drawer = open_drawer(page, ui, ui.hostile.id)
    assert drawer.locator("#drawer-title").inner_text() == ui.hostile.name
    assert drawer.get_by_test_id("text-prompt").inner_text() == ui.hostile.payload["prompt"]
    assert drawer.get_by_test_id("text-response").inner_text() == ui.hostile.payload["response"]
    assert HOSTILE in drawer.inner_text()  # the model name too

    # The same artifact opened from its row, through the script's path.
    page.get_by_role("link", name="Close artifact details").click()
    page.get_by_role("link", name=ui.hostile.name).click()
    page.get_by_role("dialog").wait_for()
    assert page.locator("#drawer-title").inner_text() == ui.hostile.name

    assert page.locator("script:not([src]), img[onerror]").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []


def test_list_filters_groups_and_pages_without_calling_mlflow(page, ui):
    before = ui.proxy.count
    page.goto(f"{ui.url}/artifacts?{urlencode({'execution_id': ui.execution_id})}")
    # The workflow's market data windows and charts (daily, weekly), LLM, signal and order.
    assert page.locator("tr[data-row]").count() == 7
    assert page.locator("tr[data-row] .thumb img").count() == 2  # daily and weekly charts
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.thumb img'))
                                    .every(img => img.complete && img.naturalWidth > 0)""")

    page.select_option("select[name=type]", "signal")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"type=signal"))
    assert page.locator("tr[data-row] a[data-drawer]").all_inner_texts() == [ui.signal.name]

    page.goto(f"{ui.url}/artifacts?group=execution&limit=2")
    assert page.locator("section.execution-group").count() >= 1
    first_page = page.locator("tr[data-row] a[data-drawer]").all_inner_texts()
    page.get_by_role("link", name="Next page").click()
    second_page = page.locator("tr[data-row] a[data-drawer]").all_inner_texts()
    assert len(first_page) == len(second_page) == 2 and not set(first_page) & set(second_page)
    assert ui.proxy.count == before  # lists show stored lineage: no tracking call per row

    page.goto(f"{ui.url}/artifacts?lineage=nothing")
    assert "unknown lineage state" in page.get_by_role("alert").inner_text()


def test_row_opens_drawer_esc_closes_and_focus_stays_inside(page, ui):
    page.goto(f"{ui.url}/artifacts")
    row_link = page.locator(f"a[data-drawer][data-artifact-id='{ui.signal.id}']")
    row_link.click()
    drawer = page.get_by_role("dialog")
    drawer.wait_for()
    page.wait_for_url(f"{ui.url}/artifacts/{ui.signal.id}")
    assert drawer.get_attribute("aria-modal") == "true"
    assert drawer.get_attribute("aria-labelledby") == "drawer-title"
    inside = "() => document.querySelector('.drawer').contains(document.activeElement)"
    assert page.evaluate(inside)
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        assert page.evaluate(inside), f"focus left the drawer after {key}"

    # Another artifact of the execution is one click away, in the same drawer (from the
    # list of the execution's artifacts; the decision chain links to it too).
    drawer.locator(".siblings").get_by_role("link", name=re.compile(ui.chart.name)).click()
    page.wait_for_url(f"{ui.url}/artifacts/{ui.chart.id}")
    assert page.locator("#drawer-title").inner_text() == ui.chart.name

    page.keyboard.press("Escape")
    assert page.locator(".drawer").count() == 0
    page.wait_for_url(f"{ui.url}/artifacts")
    assert page.evaluate("document.activeElement.dataset.artifactId") == str(ui.signal.id)
    page.go_back()  # history brings the drawer back
    page.get_by_role("dialog").wait_for()
    assert page.locator("#drawer-title").inner_text() == ui.chart.name


def test_every_lineage_state_reads_in_words(page, ui, mlflow_server):
    # repaired: a legacy artifact whose run exists in MLflow is hydrated when opened
    legacy_execution = f"legacy {uuid.uuid4().hex} +00:00"
    legacy = legacy_artifact(ui.services, legacy_execution)
    client = MlflowClient(mlflow_server.url)
    experiment_id = client.create_experiment(f"legacy-{uuid.uuid4().hex}")
    run = client.create_run(experiment_id, tags={"workflow_id": WF,
                                                 "execution_id": legacy_execution})
    drawer = open_drawer(page, ui, legacy.id)
    assert drawer.get_by_test_id("lineage-status").inner_text() == "Repaired"
    assert drawer.get_by_test_id("mlflow-run-id").inner_text() == run.info.run_id
    assert drawer.get_by_test_id("mlflow-experiment-id").inner_text() == experiment_id
    assert drawer.locator("a[data-testid=open-in-mlflow]").get_attribute("href") == (
        f"{ui.mlflow_url}/#/experiments/{experiment_id}/runs/{run.info.run_id}")
    assert "Filled in from MLflow on" in drawer.inner_text()
    assert [r.source for r in ui.services.artifacts.repairs(legacy.id)] == ["hydrate"]
    assert null_words_in(drawer) == []

    # pending: no run was ever logged for the execution
    pending = legacy_artifact(ui.services, f"never-run-{uuid.uuid4().hex}")
    drawer = open_drawer(page, ui, pending.id)
    assert drawer.get_by_test_id("lineage-status").inner_text() == "Pending"
    assert "No MLflow run has been logged" in drawer.inner_text()
    assert drawer.locator("a[data-testid=open-in-mlflow]").count() == 0
    assert drawer.get_by_test_id("open-in-mlflow").is_disabled()
    assert null_words_in(drawer) == []

    # unavailable: the tracking server does not answer
    offline = legacy_artifact(ui.services, f"tracker-down-{uuid.uuid4().hex}")
    ui.proxy.down = True
    try:
        drawer = open_drawer(page, ui, offline.id)
    finally:
        ui.proxy.down = False
    assert drawer.get_by_test_id("lineage-status").inner_text() == "Unavailable"
    assert "could not be reached" in drawer.inner_text()
    assert drawer.locator("a[data-testid=open-in-mlflow]").count() == 0
    assert null_words_in(drawer) == []

    # captured, for completeness: the list filter by lineage state finds each kind
    page.goto(f"{ui.url}/artifacts?lineage=repaired")
    assert page.locator("tr[data-row] a[data-drawer]").all_inner_texts() == [legacy.name]
