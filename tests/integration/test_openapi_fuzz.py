"""Schemathesis against /openapi.json of a gateway on the real TorchServe (the server microphone excluded).

Generated requests to every route: no 5xx, and every status a route answers is in its OpenAPI
description. The requests go to a private gateway (its own files and speakers), so random deletes
and uploads touch nothing another test uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from gateway.app.main import create_app
from gateway.core.config import Settings
from scripts.stack import Gateway, TorchServe, gateway

# The schema is the app's own (routes do not depend on settings); the calls go to the live gateway below.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).exclude(path="/speaker/train/microphone")


@pytest.fixture(scope="module")
def fuzzed(ts_server: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway(ts_server, tmp_path_factory.mktemp("fuzzed-gateway")) as gw:
        yield gw


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_only_documented_statuses(case: schemathesis.Case, fuzzed: Gateway) -> None:
    case.call_and_validate(base_url=fuzzed.url, checks=[not_a_server_error, status_code_conformance], timeout=120)
