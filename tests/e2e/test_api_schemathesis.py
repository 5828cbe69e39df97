"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis),
against a live gateway with real data: no answer is a 5xx, and every answer matches the schema
the document promises."""

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXAMPLES = 25  # per operation: bounded, so the suite stays within its time budget


def fuzz(operation: Any, base_url: str, seen: Counter[int]) -> None:
    """EXAMPLES generated requests for one operation; raises on the first failed check."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, timeout=30)
        seen[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run()


def test_no_operation_answers_5xx_or_breaks_its_schema(gateway):
    schema = schemathesis.openapi.from_url(f"{gateway}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {}
    for operation in operations:
        seen = statuses.setdefault(operation.label, Counter())
        try:
            fuzz(operation, gateway, seen)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:2000])
    print({label: dict(c) for label, c in statuses.items()})  # noqa: T201 (shown with -s)
    assert not failures, "\n\n".join(failures)
    assert all(sum(c.values()) >= 1 for c in statuses.values()), statuses
    assert not any(429 in c for c in statuses.values()), statuses
    # The generated data reaches the handlers, not only the validators: some answers succeed.
    succeeded = [label for label, c in statuses.items() if any(200 <= s < 300 for s in c)]
    assert len(succeeded) >= len(statuses) // 2, statuses
