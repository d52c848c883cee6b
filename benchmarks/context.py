"""What a benchmark gets: its mode, a scratch folder and real servers started on demand."""
from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text

from benchmarks.servers import mlflow_api
from provenant.bootstrap import Services, configure
from provenant.config import Settings

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class MlflowServer(Protocol):
    """What benchmarks use of a server."""

    url: str
    backend_uri: str


@dataclass(frozen=True)
class RunningMlflow:
    url: str
    backend_uri: str


def add_mlflow_arguments(parser: argparse.ArgumentParser) -> None:
    """--mlflow-url/--mlflow-backend-uri: use a running `mlflow server` (tests pass theirs)."""
    parser.add_argument("--mlflow-url", help="a running mlflow server (else one is started)")
    parser.add_argument("--mlflow-backend-uri",
                        help="its SQLite backend store URI (required with --mlflow-url)")


def mlflow_from_arguments(parser: argparse.ArgumentParser,
                          args: argparse.Namespace) -> RunningMlflow | None:
    """The running server named on the command line, if any (both options or neither)."""
    if bool(args.mlflow_url) != bool(args.mlflow_backend_uri):
        parser.error("--mlflow-url and --mlflow-backend-uri go together")
    return RunningMlflow(args.mlflow_url, args.mlflow_backend_uri) if args.mlflow_url else None


MODES = ("tiny", "quick", "full")  # tiny: the structural test's sizes, not for numbers


@dataclass
class BenchContext:
    """Shared by all benchmarks of one run; servers start once and stop at the end.

    Pass `mlflow` to reuse a running server (it is then left running at close).
    """

    mode: str
    workdir: Path
    mlflow: MlflowServer | None = None
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")

    @property
    def quick(self) -> bool:
        return self.mode != "full"

    def size(self, quick, full, tiny=None):
        """This mode's value of a parameter (tiny falls back to quick)."""
        if self.mode == "tiny" and tiny is not None:
            return tiny
        return quick if self.quick else full

    def mlflow_server(self) -> MlflowServer:
        """A real `mlflow server` (one process, SQLite backend, loopback), started on first use."""
        if self.mlflow is None:
            backend_uri = f"sqlite:///{self._mlflow_workdir / 'mlflow.db'}"
            self.mlflow = RunningMlflow(
                self._stack.enter_context(mlflow_api(backend_uri, self._mlflow_workdir)),
                backend_uri)
        return self.mlflow

    @property
    def _mlflow_workdir(self) -> Path:
        return self.workdir / "mlflow"

    @contextmanager
    def mlflow_server_with_workers(self, workers: int) -> Iterator[str | None]:
        """Another `mlflow server` on the started one's backend store and artifacts folder,
        with `workers` workers; None for a server passed in (its artifacts folder is unknown)."""
        server = self.mlflow_server()
        if server.backend_uri != f"sqlite:///{self._mlflow_workdir / 'mlflow.db'}":
            yield None
            return
        with mlflow_api(server.backend_uri, self._mlflow_workdir, workers) as url:
            yield url

    def services(self, name: str, *, database_url: str | None = None,
                 tracking_uri: str | None = None) -> Services:
        """Process-wide services rooted in a fresh folder for one benchmark case."""
        home = self.workdir / name
        return configure(Settings(
            home=home, auto_migrate=True,
            database_url=database_url or f"sqlite:///{home / 'provenant.db'}",
            mlflow_tracking_uri=tracking_uri or self.mlflow_server().url))

    @property
    def postgres_base_url(self) -> str:
        return (os.environ.get("PROVENANT_BENCH_DATABASE_URL")
                or os.environ.get("PROVENANT_TEST_DATABASE_URL") or DEFAULT_POSTGRES)

    @contextmanager
    def postgres_schema(self) -> Iterator[str]:
        """A URL on a fresh PostgreSQL schema, dropped afterwards."""
        base = self.postgres_base_url
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in base else "?"
            yield f"{base}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    def postgres_version(self) -> str | None:
        """The server version, or None when PostgreSQL cannot be reached."""
        try:
            engine = create_engine(self.postgres_base_url)
            with engine.connect() as conn:
                version = conn.scalar(text("SHOW server_version"))
            engine.dispose()
            return version
        except Exception:
            return None

    def close(self) -> None:
        """Stop the servers this context started."""
        self._stack.close()
