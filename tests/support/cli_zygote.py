"""Real `provenant` CLI processes forked from one warm parent, for tests that start dozens.

Importing the CLI with MLflow and the database drivers costs ~2.5 s of CPU per process.
A kill test that starts the repair job 20 times per backend would spend most of its time
importing, so this parent imports once and forks a child per command. The child sets its
own argv and environment and calls `provenant.cli.main()`, the console script's entry
point: settings, engine, tracker and the command itself are built fresh in the child.

Run as a script, it is the parent: one JSON request a line on stdin, one answer a line on
stdout. `CliForkServer` is the test side.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


class CliForkServer:
    """Start and reap `provenant` processes; they are real processes, so SIGKILL works."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self._answer() == {"ready": True}

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the CLI fork server exited ({self.proc.wait(5)})")
        return json.loads(line)

    def _ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        return self._answer()

    def start(self, args: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> int:
        """Fork `provenant ARGS` with exactly this environment; its output goes to the files."""
        return self._ask(args=args, env=env, stdout=str(stdout), stderr=str(stderr))["pid"]

    def wait(self, pid: int) -> int:
        """Reap the child: its exit code, or -N when signal N ended it (like Popen)."""
        return self._ask(wait=pid)["returncode"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def _serve() -> None:
    import threading

    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (MLflow's SQLite store)
    import mlflow.tracking  # noqa: F401
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401

    import provenant.cli  # noqa: F401  (registers every command)
    import provenant.lineage.repair  # noqa: F401

    # fork() copies only the calling thread: a helper thread started by an import would
    # be missing in the children, with whatever lock it held.
    assert threading.active_count() == 1, threading.enumerate()
    _reply(ready=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "wait" in request:
            _, status = os.waitpid(request["wait"], 0)
            _reply(returncode=os.waitstatus_to_exitcode(status))
            continue
        # Opened here, so the files exist once the pid is answered.
        files = [os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                 for name in ("stdout", "stderr")]
        pid = os.fork()
        if pid == 0:
            _child(request, files)
        for fd in files:
            os.close(fd)
        _reply(pid=pid)


def _reply(**answer) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def _child(request: dict, files: list[int]) -> None:
    """Become `provenant ARGS`; never return into the parent's loop."""
    code = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, file in zip((1, 2), files, strict=True):
            os.dup2(file, fd)
            os.close(file)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["provenant", *request["args"]]
        from provenant.cli import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve()
