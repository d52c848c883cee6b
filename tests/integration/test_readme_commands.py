"""Every `provenant` command the README shows, run as the user types it (a real subprocess)."""
from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from provenant.bootstrap import Services
from provenant.config import Settings
from provenant.store.database import create_db_engine, current_revision, head_revision
from tests.support.chain import store_chain
from tests.support.cli import (
    listening, run_provenant, start_provenant, stop, user_env, wait_healthy)
from tests.support.api import png_bytes
from tests.support.legacy_db import (
    QA_EXECUTION_ID, WORKFLOW, LegacyDb, chart_row, create_run, postgres_legacy_url,
    sqlite_legacy_url)
from tests.support.mlflow_server import free_port
from tests.support.readme import readme_commands

# (README command, variant) -> the case that runs it and checks what it did.
CASES: dict[tuple[str, str], Callable] = {}


def case(command: str, *variants: str):
    """Register a function as the test of a README command (once per variant)."""
    def register(check: Callable) -> Callable:
        for variant in variants or ("",):
            CASES[command, variant] = check
        return check
    return register


def provenant(words: list[str], home: Path, **env: str):
    """The command in a fresh folder, with PROVENANT_HOME=home and nothing else set."""
    return run_provenant(*words, env=user_env(home, **env), cwd=home.parent)


@case("run ibkr_trading_signal_workflow --symbol TSLA --json")
def _run_workflow(words, _variant, tmp_path, _request):
    done = provenant(words, tmp_path / "home")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["workflow_id"], result["status"]) == (WORKFLOW, "FINISHED")
    run = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}").get_run(result["run_id"])
    assert run.info.experiment_id == result["experiment_id"]
    assert run.data.tags["execution_id"] == result["execution_id"]
    assert sorted(a["type"] for a in result["artifacts"]) == [
        "chart", "chart", "llm", "market_data", "market_data", "order", "signal"]


@case("serve")
@case("serve --workers 2")
def _serve(words, _variant, tmp_path, _request):
    # The default ports may be taken on a shared machine: the same command on free ones.
    port, ui_port = free_port(), free_port()
    proc = start_provenant(tmp_path, *words, "--port", str(port),
                           PROVENANT_MLFLOW_UI_URL=f"http://127.0.0.1:{ui_port}",
                           PROVENANT_REPAIR_INTERVAL_SECONDS="0")
    try:
        health = wait_healthy(f"http://127.0.0.1:{port}/api/health", proc)
        assert health.json()["status"] == "ok"
        assert wait_healthy(f"http://127.0.0.1:{ui_port}/health", proc).status_code == 200
    finally:
        code, output = stop(proc)
    assert code == 0, output
    assert not listening(port) and not listening(ui_port)


def legacy_home(tmp_path: Path, request) -> tuple[Path, object]:
    """A home holding legacy artifact 24 without lineage, and its execution's MLflow run."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(request.getfixturevalue("mlflow_template"), home / "mlflow.db")
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    run = create_run(client, client.create_experiment("legacy"), QA_EXECUTION_ID)
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(chart_row(24)).close()
    imported = provenant(["artifacts", "import-legacy", "--from", url], home)
    assert imported.returncode == 0, imported.stderr
    return home, run


def repaired(home: Path, run) -> None:
    """Repair the home's lineage with the CLI; artifact 24 gets the run."""
    done = provenant(["lineage", "repair", "--json"], home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["repaired"] == [
        {"artifact_id": 24, "run_id": run.info.run_id, "experiment_id": run.info.experiment_id}]


@case("lineage repair --json")
def _repair(words, _variant, tmp_path, request):
    home, run = legacy_home(tmp_path, request)
    repaired(home, run)
    again = json.loads(provenant(words, home).stdout)
    assert (again["scanned"], again["repaired"], again["unresolved"]) == (0, [], [])


@case("lineage repairs")
def _repairs(words, _variant, tmp_path, request):
    home, run = legacy_home(tmp_path, request)
    assert "no lineage repairs recorded" in provenant(words, home).stderr
    repaired(home, run)
    done = provenant(words, home)
    assert done.returncode == 0, done.stderr
    assert f"artifact 24  run {run.info.run_id}" in done.stderr and "(repair)" in done.stderr


@case("lineage verify")
@case("lineage verify --deep")
def _verify(words, _variant, tmp_path, request):
    home, run = legacy_home(tmp_path, request)
    repaired(home, run)
    done = provenant(words, home)
    assert done.returncode == 0, done.stderr
    assert "checked 1 artifacts" in done.stderr and "0 mismatch(es)" in done.stderr


@case("artifacts import-legacy --from postgresql+psycopg2://.../old_db --image-path-map "
      "/app/charts=/srv/old-charts --fetch-images-from http://minio:9000/trading-charts/ "
      "--dry-run --json")
def _import_legacy_dry_run(words, _variant, tmp_path, request):
    charts = tmp_path / "old-charts"
    charts.mkdir()
    (charts / "TSLA_1D.png").write_bytes(png_bytes())
    home = tmp_path / "home"
    with postgres_legacy_url(request.getfixturevalue("postgres_base_url")) as url:
        LegacyDb(url).add(chart_row(24, image_path="/app/charts/TSLA_1D.png"),
                          chart_row(25, name="TSLA weekly chart")).close()
        their_url = url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
        local = {"postgresql+psycopg2://.../old_db": their_url,
                 "/app/charts=/srv/old-charts": f"/app/charts={charts}"}
        done = provenant([local.get(w, w) for w in words], home)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["dry_run"] is True and sorted(report["imported"]) == [24, 25]
        assert report["failed"] == [] and report["warnings"] == []  # the mapped image was found
        # A dry run writes nothing: the same import for real still imports both rows.
        real = provenant([w for w in done.args[1:] if w != "--dry-run"], home)
        assert real.returncode == 0, real.stderr
        assert sorted(json.loads(real.stdout)["imported"]) == [24, 25]


@case("db upgrade", "sqlite", "postgresql")
def _db_upgrade(words, variant, tmp_path, request):
    home = tmp_path / "home"
    url = (request.getfixturevalue("postgres_url") if variant == "postgresql"
           else f"sqlite:///{home / 'provenant.db'}")
    done = provenant(words, home, PROVENANT_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert f"database at schema {head_revision()}" in done.stderr
    engine = create_db_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def chain_home(tmp_path: Path, request) -> tuple[Path, int]:
    """A home holding a stored decision chain; the id of its order."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(request.getfixturevalue("mlflow_template"), home / "mlflow.db")
    services = Services(Settings(home=home, auto_migrate=True,
                                 database_url=f"sqlite:///{home / 'provenant.db'}",
                                 mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}"))
    try:
        return home, store_chain(services)["order"].id
    finally:
        services.close()


@case("evidence export 42 -o order-42.zip")
@case("evidence verify order-42.zip")
def _evidence(words, _variant, tmp_path, request):
    home, order_id = chain_home(tmp_path, request)
    exported = provenant(["evidence", "export", str(order_id), "-o", "order-42.zip"], home)
    assert exported.returncode == 0, exported.stderr
    assert "5 artifact(s), 1 MLflow run(s)" in exported.stderr
    assert (tmp_path / "order-42.zip").is_file()
    if words[1] == "verify":
        done = provenant(words, home)
        assert done.returncode == 0, done.stderr
        assert "bundle verified: nothing changed" in done.stderr


# After the cases: the parameters are read when the module is.
def test_every_readme_command_has_a_case():
    shown = readme_commands()
    assert len(shown) >= 8  # the parser found the "Using it" block
    assert set(shown) == {command for command, _ in CASES}


@pytest.mark.parametrize("command,variant", [
    pytest.param(c, v, id=f"{c} [{v}]" if v else c,
                 marks=[pytest.mark.postgres] if "postgres" in c + v else [])
    for c, v in CASES])
def test_readme_command(command, variant, tmp_path, request):
    CASES[command, variant](shlex.split(command), variant, tmp_path, request)
