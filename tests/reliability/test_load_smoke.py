"""Fifteen seconds of `python -m benchmarks.load` (wrk + mix.lua): no errors, every operation.

Run as the command itself, in a subprocess, against the session's `mlflow server`.
Structural only (counts and checks, never timings): the 60 s run and its numbers are
`make load` and docs/reliability.md.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.mlflow_server

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ("list_page", "get_persisted", "get_legacy", "get_image", "get_image_304",
              "get_execution", "post_artifact", "put_image", "list_repairs", "ui_list",
              "ui_detail", "ui_drawer", "repair_trigger")


def test_short_mixed_load_has_no_errors_and_exercises_every_operation(tmp_path, mlflow_server):
    out = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", "--seconds", "15", "--seed", "tiny",
         "--clients", "8", "--repair-every", "1.5", "--json", str(out),
         "--mlflow-url", mlflow_server.url, "--mlflow-backend-uri", mlflow_server.backend_uri],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())["results"][0]
    rows = {row["case"]: row["metrics"] for row in result["rows"]}
    assert done.returncode == 0, (result["error"], result["notes"])
    assert result["error"] is None
    for op in OPERATIONS:
        assert rows[op]["errors"] == 0, (op, result["notes"])
        # wrk abandons what is in flight at its stop: on a starved machine an operation's
        # first answer can come after the window (the run errs past the request timeout).
        assert rows[op]["requests"] + rows[op]["in_flight"] > 0, f"{op} was never exercised"
    assert rows["wrk: socket errors and timeouts"]["errors"] == 0, result["notes"]
    assert rows["verify (after the window)"]["errors"] == 0, result["notes"]
    params = result["params"]
    # Writes happened and were checked afterwards: posts of each kind, uploads, late runs.
    assert set(params["posted"]) == {"chart", "signal", "llm"}
    assert params["uploaded"] > 0 and params["late_runs_made"] > 0
    assert any(not r["request"].get("dry_run") for r in params["repairs"])


def test_load_refuses_half_an_mlflow_server():
    done = subprocess.run([sys.executable, "-m", "benchmarks.load", "--mlflow-url",
                           "http://127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "--mlflow-url and --mlflow-backend-uri go together" in done.stderr
