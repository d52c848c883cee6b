"""Lineage: which MLflow run and experiment produced an artifact."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlparse

# MLflow run ids are 32 hex chars; experiment ids are integers (SQL stores) or
# short tokens on other stores. Anything else is refused before a link is built.
RUN_ID_PATTERN = "^[0-9a-fA-F]{32}$"  # also shown to API clients in the OpenAPI schema
_RUN_ID = re.compile(RUN_ID_PATTERN)
_EXPERIMENT_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


class LineageStatus(StrEnum):
    persisted = "persisted"      # captured when the artifact was stored
    repaired = "repaired"        # filled in later by hydration or the repair job
    pending = "pending"          # no run found yet
    unavailable = "unavailable"  # the tracking server could not be asked


@dataclass(frozen=True, slots=True)
class Lineage:
    run_id: str
    experiment_id: str


def is_valid_run_id(run_id: str) -> bool:
    return bool(_RUN_ID.fullmatch(run_id))  # fullmatch: `$` alone lets a trailing "\n" through


def is_valid_experiment_id(experiment_id: str) -> bool:
    return bool(_EXPERIMENT_ID.fullmatch(experiment_id))


def is_http_base_url(url: str) -> bool:
    """An http(s) URL with a host: the only kind a deep link may start with."""
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def mlflow_run_url(ui_url: str, lineage: Lineage | None) -> str | None:
    """Deep link to a run in the MLflow UI, or None when it cannot be built safely."""
    if lineage is None or not is_http_base_url(ui_url):
        return None
    if not (is_valid_run_id(lineage.run_id) and is_valid_experiment_id(lineage.experiment_id)):
        return None
    base = ui_url.rstrip("/")
    return f"{base}/#/experiments/{quote(lineage.experiment_id)}/runs/{quote(lineage.run_id)}"
