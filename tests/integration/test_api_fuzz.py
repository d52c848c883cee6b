"""Generated valid and invalid requests on every API route (both databases): never a 500."""
from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from provenant.api.app import create_app
from provenant.bootstrap import configure, reset_services
from tests.integration.test_api_common import AUTH, TOKEN


@pytest.fixture
def api_schema(make_settings, database_url, mlflow_uri):
    app = create_app(configure(make_settings(
        database_url=database_url, mlflow_tracking_uri=mlflow_uri, api_token=TOKEN,
        repair_interval_seconds=0, hydration_timeout_seconds=1, max_body_bytes=64 * 1024)))
    yield schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/")
    reset_services()


def test_no_request_makes_the_api_fail(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7

    for operation, mode in itertools.product(operations, GenerationMode):
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case):
            response = case.call(headers=AUTH)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                assert "detail" in response.json()

        try:
            call()
        except Unsatisfiable:  # nothing to get wrong: e.g. health has no parameters
            assert mode == GenerationMode.NEGATIVE
