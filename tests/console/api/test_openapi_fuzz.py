"""Schemathesis against the console's own OpenAPI document: generated requests to every
operation, as an admin, must never make the server fail, and answers must match the document
(status codes, content types, response schemas). Requests the document allows but the server
refuses with a reason (a cursor that is not one, a triage that changes nothing) are fine.

The operations are driven with Hypothesis directly (schemathesis' pytest plugin does not load
under this pytest); each gets a bounded number of examples so the whole run stays short.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from console.auth.roles import Role
from tests.console.api.test_access import MINIMUM_ROLE, PUBLIC

# The live alert stream never ends by design, and schemathesis cannot write the NDJSON batches
# of the ingest route; their own tests cover both (routes/test_stream.py, routes/test_ingest.py).
NOT_FUZZED = {"/api/stream/alerts", "/api/ingest"}
EXAMPLES_PER_OPERATION = 20
# Every API route the access table knows: a new route is fuzzed as soon as it is given its role.
LABELS = sorted(f"{method} {path}" for method, path in {*MINIMUM_ROLE, *PUBLIC}
                if path.startswith("/api/") and path not in NOT_FUZZED)


def operations(app: FastAPI) -> dict[str, schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]
    return {operation.label: operation for operation in found if operation.path not in NOT_FUZZED}


def test_every_operation_is_fuzzed(app: FastAPI) -> None:
    assert sorted(operations(app)) == LABELS


@pytest.mark.parametrize("label", LABELS)
def test_no_server_errors(label: str, app: FastAPI, tokens: dict[Role, str]) -> None:
    operation = operations(app)[label]
    headers = {"Authorization": f"Bearer {tokens[Role.admin]}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def exchange(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    exchange()
