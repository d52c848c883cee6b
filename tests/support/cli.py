"""Run `provenant` the way a user does: the venv's console script as a real subprocess."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# The console script beside this interpreter (the venv's), else whatever PATH has.
PROVENANT = (shutil.which("provenant", path=str(Path(sys.executable).parent))
             or shutil.which("provenant") or str(Path(sys.executable).with_name("provenant")))


def user_env(home: Path, **env: str) -> dict[str, str]:
    """This environment without any PROVENANT_/MLFLOW_ setting, with PROVENANT_HOME=home."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PROVENANT_", "MLFLOW_"))}
    return {**clean, "PROVENANT_HOME": str(home), **env}


def run_provenant(*args: str, env: dict[str, str], cwd: Path | None = None,
                  timeout: float = 240) -> subprocess.CompletedProcess:
    """`provenant ARGS` to completion; stdout and stderr captured as text."""
    return subprocess.run([PROVENANT, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def provenant(*args: str, home: Path, tracking_uri: str, **env: str):
    """`provenant ARGS` with a fresh PROVENANT_HOME and this MLflow tracking URI."""
    return run_provenant(*args, cwd=home.parent,
                         env=user_env(home, PROVENANT_MLFLOW_TRACKING_URI=tracking_uri, **env))


def cli_env(services, **env_overrides: str) -> dict[str, str]:
    """This environment, pointed at the test's database and MLflow store."""
    settings = services.settings
    return {**os.environ, "PROVENANT_HOME": str(settings.home),
            "PROVENANT_DATABASE_URL": settings.database_url,
            "PROVENANT_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "PROVENANT_AUTO_MIGRATE": "1", **env_overrides}


def cli(services, *args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    """Run `provenant` as a user would, on the test's database and MLflow store."""
    return run_provenant(*args, env=cli_env(services, **env_overrides), timeout=120)


def start_provenant(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    """`provenant ARGS` in the background (serve, demo) with PROVENANT_HOME in tmp_path."""
    return subprocess.Popen([PROVENANT, *args], env=user_env(tmp_path / "home", **env),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    """`provenant serve ARGS` in the background."""
    return start_provenant(tmp_path, "serve", *args, **env)


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 90) -> httpx.Response:
    """The first answer from url while proc runs (AssertionError with its output if it exits)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> tuple[int, str]:
    """Send what Ctrl-C sends (or sig), wait for the exit: (exit code, output)."""
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    return proc.returncode, output


def listening(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stored_artifacts(home: Path, tracking_uri: str, execution_id: str):
    """The artifacts a CLI run with this home and tracking URI stored for an execution."""
    from provenant.bootstrap import configure, reset_services
    from provenant.config import Settings

    services = configure(Settings(home=home, mlflow_tracking_uri=tracking_uri))
    try:
        return services.artifacts.by_execution(execution_id)
    finally:
        reset_services()


def command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand of `provenant`, e.g. ("lineage", "repair")."""
    import typer

    from provenant.cli import app

    def walk(group, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        paths = [prefix] if prefix else []
        for name, command in getattr(group, "commands", {}).items():
            paths.extend(walk(command, (*prefix, name)))
        return paths

    return walk(typer.main.get_command(app), ())
