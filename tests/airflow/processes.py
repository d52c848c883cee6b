"""Airflow subprocesses for tests: each step with its own timeout, every process tree reaped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


class StepHung(AssertionError):
    """An Airflow command or process did not finish (or answer) in its time."""


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def kill_tree(proc: subprocess.Popen | psutil.Process, grace: float = 10) -> None:
    """SIGTERM the process's group and every descendant, then SIGKILL what is left.

    Processes started with start_new_session=True lead their own group; descendants that
    left it (a task supervisor may call setsid) are found by walking the tree first.
    """
    pid = proc.pid
    try:
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for member in tree:
            try:
                member.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(tree, timeout=grace)
        if isinstance(proc, subprocess.Popen):
            try:
                proc.wait(timeout=0.1 if alive else grace)
            except subprocess.TimeoutExpired:
                pass
        if not alive and (not isinstance(proc, subprocess.Popen) or proc.poll() is not None):
            return


def run_step(step: str, args: list[str], *, env: dict[str, str], cwd: Path, log: Path,
             timeout: float) -> str:
    """Run one command to completion (own session, output to `log`); its output.

    A timeout kills the command's whole tree and fails naming `step`; so does a non-zero exit.
    """
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            raise StepHung(f"{step} hung: no exit after {timeout:.0f} s; "
                           f"log {log}:\n{_tail(log)}") from None
        finally:
            if proc.poll() is None:
                kill_tree(proc)
    if proc.returncode:
        raise AssertionError(f"{step} failed (exit {proc.returncode}); log {log}:\n{_tail(log)}")
    return _tail(log)


class Service:
    """A long-running process (scheduler, worker, ...) with its own log file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], cwd: Path,
                 log: Path) -> None:
        self.name, self.args, self.env, self.cwd, self.log = name, args, env, cwd, log
        self.proc: subprocess.Popen | None = None
        self.killed = False  # on purpose, by a test: not a crash

    def start(self) -> "Service":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, env=self.env, cwd=self.cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_for(self, what: str, ready, timeout: float, interval: float = 0.5) -> None:
        """Poll `ready()` until true; fail naming this service if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited before {what}; log {self.log}:\n"
                                     f"{_tail(self.log)}")
            if ready():
                return
            time.sleep(interval)
        raise StepHung(f"{self.name}: no {what} after {timeout:.0f} s; log {self.log}:\n"
                       f"{_tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL the whole tree at once: a machine lost mid-task, no warm shutdown."""
        if self.proc is None:
            return
        self.killed = True
        tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(True)]
        for member in tree:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=10)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            kill_tree(self.proc)
