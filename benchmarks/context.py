"""What a benchmark gets: its mode, a scratch folder and real servers started on demand."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from provenant.bootstrap import Services, configure
from provenant.config import Settings
from tests.support.mlflow_server import MlflowServer

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class BenchContext:
    """Shared by all benchmarks of one run; servers start once and stop at the end."""

    quick: bool
    workdir: Path
    _mlflow: MlflowServer | None = field(default=None, repr=False)

    def size(self, quick: int | float, full: int | float):
        """The quick-mode or the full-mode value of a parameter."""
        return quick if self.quick else full

    def mlflow_server(self) -> MlflowServer:
        """A real `mlflow server` on loopback (SQLite backend), started on first use."""
        if self._mlflow is None:
            self._mlflow = MlflowServer(self.workdir / "mlflow").start()
        return self._mlflow

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
        if self._mlflow is not None:
            self._mlflow.stop()
            self._mlflow = None
