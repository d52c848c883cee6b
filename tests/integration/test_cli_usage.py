"""Usage mistakes print Click's `Usage:`/`Error:` lines and exit 2; failures one line, exit 1."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.cli import command_paths, run_provenant, user_env

PATHS = command_paths()


def provenant(tmp_path, *args: str):
    return run_provenant(*args, env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=60)


def assert_usage_error(done, path: tuple[str, ...], error: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"Usage: {' '.join(('provenant', *path))} ")
    assert f"\nError: {error}" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_command_is_checked():
    assert {("serve",), ("demo",), ("run",), ("lineage", "repair"),
            ("artifacts", "import-legacy"), ("db", "upgrade")} <= set(PATHS)


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda p: " ".join(p) or "provenant")
def test_help(tmp_path, path):
    done = provenant(tmp_path, *path, "--help")
    assert done.returncode == 0, done.stderr
    assert f"Usage: {' '.join(('provenant', *path))} " in done.stdout


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda p: " ".join(p) or "provenant")
def test_unknown_option(tmp_path, path):
    assert_usage_error(provenant(tmp_path, *path, "--no-such-option"), path,
                       "No such option: --no-such-option")


@pytest.mark.parametrize("args,error", [
    (["run"], "Missing argument 'workflow'."),
    (["run", "ibkr_trading_signal_workflow"], "Missing option '--symbol'"),
    (["artifacts", "import-legacy", "--json"], "Missing option '--from'."),
    (["artifacts", "import-legacy", "--from", "sqlite:///x.db", "--fetch-images-from",
      "s3:/trading-charts"], "Invalid value for --fetch-images-from"),
    (["lineage", "repairs", "--limit", "many"], "Invalid value for '--limit'"),
    (["lineage", "repairs", "--artifact-id", "0"], "Invalid value for '--artifact-id'"),
    (["serve", "--port", "http"], "Invalid value for '--port'"),
    (["serve", "--workers", "0"], "Invalid value for '--workers'"),
    (["demo", "--mlflow-ui-port", "70000"], "Invalid value for '--mlflow-ui-port'"),
    (["lineage", "nosuch"], "No such command 'nosuch'."),
])
def test_missing_argument_or_bad_value(tmp_path, args, error):
    # The usage line names the command: the words before the first option or argument.
    command = next(p for p in sorted(PATHS, key=len, reverse=True) if list(p) == args[:len(p)])
    assert_usage_error(provenant(tmp_path, *args), command, error)


def test_an_operational_error_is_one_line_and_exit_1(tmp_path):
    done = provenant(tmp_path, "run", "no_such_workflow", "--symbol", "TSLA")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: unknown workflow 'no_such_workflow'; available: ibkr_trading_signal_workflow"]


def test_the_cli_loads_without_the_heavy_libraries():
    # Commands import what they use when they run: loading the CLI (every `provenant ...`,
    # the import's worker processes) costs neither pandas/pyarrow (~110 MB) nor MLflow.
    probe = ("import sys; import provenant.cli; "
             "print(sorted(m for m in ('pandas', 'pyarrow', 'mlflow') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
