"""Prometheus metrics at `/metrics`: hydrations, repairs, tracking calls, latency, failures."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily

# Importing these registers their metrics in the default registry.
from provenant.lineage import audit, hydration  # noqa: F401

router = APIRouter()


class TrackerCalls:
    """Round trips this app's tracker made (the Tracker counts them itself)."""

    def __init__(self, tracker_of) -> None:
        self._tracker_of = tracker_of

    def collect(self):
        family = CounterMetricFamily("provenant_tracking_calls",
                                     "MLflow tracking round trips made by this process")
        family.add_metric([], self._tracker_of().calls)
        yield family


def app_registry(services) -> CollectorRegistry:
    """Metrics that belong to one app's services rather than to the process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TrackerCalls(lambda: services.tracker))
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of process and app metrics."""
    body = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
