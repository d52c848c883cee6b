"""A few seconds of `python -m benchmarks.load`: no errors, every operation answered.

Structural only (counts and checks, never timings): the 60 s run and its numbers are
`make load` and docs/reliability.md.
"""
from __future__ import annotations

import json

import pytest

from benchmarks import load
from benchmarks.load_mix import OPERATIONS

pytestmark = pytest.mark.mlflow_server


def test_short_mixed_load_has_no_errors_and_exercises_every_operation(tmp_path, mlflow_server):
    out = tmp_path / "load.json"
    code = load.main(["--seconds", "5", "--seed", "tiny", "--clients", "8",
                      "--repair-every", "1.5", "--json", str(out)], mlflow=mlflow_server)
    result = json.loads(out.read_text())["results"][0]
    rows = {row["case"]: row["metrics"] for row in result["rows"]}
    assert code == 0, (result["error"], result["notes"])
    assert result["error"] is None
    for op in OPERATIONS:
        assert rows[op]["errors"] == 0, (op, result["notes"])
        assert rows[op]["requests"] > 0, f"{op} was never exercised"
    assert rows["verify (after the window)"]["errors"] == 0, result["notes"]
    params = result["params"]
    # Writes happened and were checked afterwards: posts of each kind, uploads, late runs.
    assert set(params["posted"]) == {"chart", "signal", "llm"}
    assert params["uploaded"] > 0 and params["late_runs_made"] > 0
    assert any(not r["request"].get("dry_run") for r in params["repairs"])
