"""The composition root: settings -> engine, repositories, blob store, tracker.

Imported only by entrypoints (cli/, airflow/, http/, the public Python API faces
`provenant.artifacts` and `provenant.lineage`); everything below them is handed the parts
it needs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

from provenant.adapters.blobs import BlobStore, open_blob_store
from provenant.adapters.mlflow_tracker import MlflowTracker
from provenant.config import Settings, get_settings
from provenant.store.database import create_db_engine, ensure_schema
from provenant.store.execution_runs import ExecutionRunRegistry
from provenant.store.repository import ArtifactRepository


@dataclass
class Services:
    """Everything a command, route or step needs, built once per process."""

    settings: Settings

    @cached_property
    def engine(self):
        engine = create_db_engine(self.settings.database_url)
        ensure_schema(engine, bool(self.settings.auto_migrate))
        return engine

    @cached_property
    def artifacts(self) -> ArtifactRepository:
        return ArtifactRepository(self.engine)

    @cached_property
    def execution_runs(self) -> ExecutionRunRegistry:
        return ExecutionRunRegistry(self.engine)

    @cached_property
    def blobs(self) -> BlobStore:
        return open_blob_store(self.settings.blob_store_url, self.settings.s3_endpoint_url)

    @cached_property
    def tracker(self) -> MlflowTracker:
        settings = self.settings
        # Local stores keep run files under PROVENANT_HOME; a server decides for itself.
        root = None if settings.tracking_is_server else (settings.home / "mlartifacts").as_uri()
        return MlflowTracker(settings.mlflow_tracking_uri, artifact_root=root)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """The process-wide services, built from the environment on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = Services(get_settings())
        return _services


def configure(settings: Settings | None = None) -> Services:
    """Replace the process-wide services (tests, embedding); None re-reads the environment."""
    global _services
    with _lock:
        if _services is not None:
            _services.close()
        get_settings.cache_clear()
        _services = Services(settings or get_settings())
        return _services


def reset_services() -> None:
    """Forget the process-wide services (tests); the next use rebuilds them."""
    global _services
    with _lock:
        if _services is not None:
            _services.close()
        _services = None
        get_settings.cache_clear()
