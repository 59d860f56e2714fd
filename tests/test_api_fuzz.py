"""schemathesis against /api/v1/openapi.json through the app's WSGI interface.

Bounded: a few dozen generated requests per operation (HERO_FUZZ_EXAMPLES), on both database
backends. Every response must be documented (status code, content type and body schema), no
request may produce a 500, and every error is JSON. The coach's operations are called with a real
bearer token, so their success responses are checked too.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from crm.accounts.services import issue_api_token
from crm.booking import availability as coach_availability
from extensions import limiter

MAX_EXAMPLES = int(os.environ.get("HERO_FUZZ_EXAMPLES", "30"))
# "Schema-valid data must be accepted" cannot hold for rules a schema does not express: an IANA
# time zone that exists, a slot on the coach's grid, an email not already a coach's. Those are
# refused with a documented 422/409; every other check (no 5xx, documented status codes, content
# types, headers and bodies, invalid data refused) stays on.
EXCLUDED = [positive_data_acceptance]


@pytest.fixture
def api_schema(app_ctx, db_session, coach):
    coach_availability.ensure_default_availability(db_session)
    # Rate limits would turn repeated fuzzing of one endpoint into 429s; they have their own
    # tests in tests/security/test_limits_and_links.py.
    limiter.enabled = False
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app_ctx)
    limiter.enabled = True


@pytest.fixture
def coach_token(db_session, coach) -> str:
    return issue_api_token(db_session, coach)


@pytest.mark.parametrize("who", ["coach", "anonymous"])
def test_api_conforms_to_its_documentation(api_schema, coach_token, who):
    # schemathesis' own pytest loader (from_fixture) does not run on pytest 9 yet, so each
    # operation gets its own bounded hypothesis run here.
    # Schemathesis's WSGI transport does not undo a content coding, so ask for none (the
    # compression itself is tested in tests/crm/site/test_assets.py).
    headers = {"Accept-Encoding": "identity"}
    if who == "coach":
        headers["Authorization"] = f"Bearer {coach_token}"
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8

    calls: dict[str, int] = {}
    seen: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):
            label = case.operation.label
            response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)
            calls[label] = calls.get(label, 0) + 1
            seen.setdefault(label, set()).add(response.status_code)
            if response.status_code >= 400:
                content_type = response.headers.get("content-type", [""])[0]
                assert content_type.startswith("application/json"), (label, response)

        fuzz()
    # Every operation was really exercised, several times.
    missed = {op.label: calls.get(op.label, 0) for op in operations}
    assert all(n >= 1 for n in missed.values()), str(missed)
    # Each status an operation really answered is documented by name, not only by `default`
    # (clients generate code from the document: a 401/403/409 they cannot see, they cannot handle).
    undocumented = {
        op.label: sorted(
            status
            for status in seen.get(op.label, ())
            # 400 (a malformed request: a NUL character, a garbled cursor) is `default`'s.
            if status != 400 and str(status) not in op.definition.raw.get("responses", {})
        )
        for op in operations
    }
    undocumented = {label: codes for label, codes in undocumented.items() if codes}
    assert not undocumented, f"statuses answered but not documented: {undocumented}"
