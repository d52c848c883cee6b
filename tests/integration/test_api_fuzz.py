"""Generated valid and invalid requests on every API route (both databases).

Every answer must conform to the OpenAPI document (status code documented, body matching its
schema, content type declared) and none may be a 5xx. Schema-valid requests must be accepted
unless the refusal depends on stored state or on bytes a schema cannot describe (listed).
"""
from __future__ import annotations

import itertools
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from provenant.http.app import create_app
from provenant.bootstrap import configure, reset_services
from tests.support.api import AUTH, TOKEN

EXAMPLES_PER_OPERATION_AND_MODE = 75
MIN_REQUESTS = 1000

# Schema-valid requests the API may still refuse: the answer depends on stored state or on
# content a schema cannot describe. Any other refusal of valid input is a schema bug.
_POST = [(422, "MLflow run "),  # a well-formed run id MLflow does not know
         (422, "input artifact"),  # inputs that are not stored, or in another execution
         # the previous system's flat body: an image URL outside the configured prefixes, and
         # a signal marked order/trade/portfolio, checked as that type from aliased keys
         (422, "image_path not fetched"), (422, "not a valid order"), (422, "not a valid trade")]
_PATCH = [(422, "MLflow run "), (422, "experiment_id needs a run_id"),
          (422, "the merged payload is not a valid")]  # depends on the stored payload
STATEFUL_REFUSALS = {
    "POST /api/artifacts": _POST, "POST /api/artifacts/": _POST,
    "PATCH /api/artifacts/{artifact_id}": _PATCH, "PATCH /api/artifacts/{artifact_id}/": _PATCH,
    "DELETE /api/artifacts/{artifact_id}": [(405, "artifact ")],  # evidence: never deleted
    "DELETE /api/artifacts/{artifact_id}/": [(405, "artifact ")],
    "GET /api/artifacts": [(400, "invalid cursor")],  # cursors are tokens of earlier pages
    "GET /api/artifacts/": [(400, "invalid cursor")],
    "PUT /api/artifacts/{artifact_id}/image": [
        (422, "not an image"), (422, "image does not decode"),
        (422, "only chart artifacts take an image"), (422, "empty body")],
}
POSTGRES_REFUSALS = [(422, "a value cannot be stored")]  # e.g. NUL characters


@pytest.fixture
def api_schema(make_settings, database_url, mlflow_uri):
    app = create_app(configure(make_settings(
        database_url=database_url, mlflow_tracking_uri=mlflow_uri, api_token=TOKEN,
        repair_interval_seconds=0, hydration_timeout_seconds=1, max_body_bytes=64 * 1024)))
    yield schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/")
    reset_services()


def refusal_is_explained(label: str, status: int, detail: str, database_url: str) -> bool:
    allowed = STATEFUL_REFUSALS.get(label, [])
    if database_url.startswith("postgresql"):
        allowed = allowed + POSTGRES_REFUSALS
    return status in (404, 409) or any(
        status == code and detail.startswith(prefix) for code, prefix in allowed)


def test_no_request_makes_the_api_fail_or_break_its_schema(api_schema, database_url):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8
    statuses: Counter[tuple[str, int]] = Counter()

    for operation, mode in itertools.product(operations, GenerationMode):
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION_AND_MODE, deadline=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            response = case.call(headers=AUTH)
            statuses[operation.label, response.status_code] += 1
            # All of schemathesis' checks (5xx, status code, content type, body schema,
            # negative data accepted, ...) except its acceptance check, which is ours below.
            case.validate_response(response, headers=AUTH,
                                   excluded_checks=[positive_data_acceptance])
            if response.status_code >= 400:
                detail = response.json()["detail"]
                assert isinstance(detail, str) and detail
                if mode == GenerationMode.POSITIVE:
                    assert refusal_is_explained(operation.label, response.status_code, detail,
                                                database_url), (response.status_code, detail)

        try:
            call()
        except Unsatisfiable:  # nothing to get wrong: e.g. health has no parameters
            assert mode == GenerationMode.NEGATIVE

    total = sum(statuses.values())
    server_errors = sum(n for (_, status), n in statuses.items() if status >= 500)
    print(f"\n{database_url.split(':')[0]}: {total} requests over {len(operations)} operations, "
          f"{server_errors} 5xx; by status: "
          f"{dict(sorted(Counter(s for (_, s) in statuses.elements()).items()))}")
    assert total >= MIN_REQUESTS
    assert server_errors == 0
