"""Both APIs fuzzed from their own OpenAPI schemas (schemathesis): never a 5xx, every answer as documented.

Every operation of each schema gets up to ``MAX_EXAMPLES`` generated requests (valid and invalid query
strings, bodies and headers), then ``HOSTILE_EXAMPLES`` valid requests with one value replaced by a number
JSON cannot hold (``NaN``, ``Infinity``, ``1e999`` as raw tokens), which schemathesis never generates: each
must be a 422 naming that field (or, when the request has more errors than a 422 lists, listing that many
and counting the rest). The inference API is fuzzed twice: serving a model, and with an empty
registry, where its 503 answers must match the schema too. Shrinking is off: a failure is reported as
found, which keeps the run short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from covertype.data_api.app import create_app as create_data_app
from covertype.dataset import load_dataset
from covertype.inference.app import create_app as create_inference_app
from covertype.validation_errors import MAX_ERRORS
from support.data_api import data_api_settings
from support.hostile_values import NON_FINITE_TOKENS, json_with_token
from support.inference import registry_settings, train_version

pytestmark = pytest.mark.slow

#: Generated requests per API operation (hypothesis stops earlier when a small input space is exhausted).
MAX_EXAMPLES = 200

#: Requests per operation with a non-finite number in place of one generated value.
HOSTILE_EXAMPLES = 40

CHECKS = [not_a_server_error, response_schema_conformance]


def no_server_error_but_503(_ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Without a model, 503 is the documented answer of the model's operations; any other 5xx is a bug."""
    assert response.status_code < 500 or response.status_code == 503, (
        f"{case.operation.label} answered {response.status_code}: {response.text[:300]}"
    )


MODELLESS_CHECKS = [no_server_error_but_503, response_schema_conformance]

FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture(scope="module")
def data_api_schema(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> schemathesis.BaseSchema:
    """The data API on the shared sample (3 groups, 5 batches), answering in process."""
    app = create_data_app(data_api_settings(tmp_path_factory.mktemp("data-api"), sample_csv))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> schemathesis.BaseSchema:
    """The inference API serving a small tree trained on 2,000 sample rows (loaded before the first case)."""
    frame: pd.DataFrame = load_dataset(sample_csv).iloc[:2_000]
    registry = registry_settings(tmp_path_factory.mktemp("registry"))
    train_version(registry, frame, candidates="logreg")
    app = create_inference_app(registry)
    app.state.holder.reload()
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def modelless_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    """The inference API on an empty registry: every model-dependent answer is a 503."""
    app = create_inference_app(registry_settings(tmp_path_factory.mktemp("empty-registry")))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz(schema: schemathesis.BaseSchema, checks: list[Callable[..., object]] = CHECKS) -> dict[str, int]:
    """Send up to ``MAX_EXAMPLES`` valid and invalid requests to every operation; requests sent per operation.

    (Driven through hypothesis directly: schemathesis' lazy ``from_fixture`` parametrization does not run
    under pytest 9, and loading the schemas at import time would train a model during collection.)
    """
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        tried[f"{operation.method.upper()} {operation.path}"] = fuzz_operation(operation, checks)
    return tried


def fuzz_operation(operation: APIOperation, checks: list[Callable[..., object]]) -> int:
    """Fuzz one operation with valid and invalid requests; how many were sent."""
    sent = 0
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @FUZZ
    @given(case=cases)
    def answer_as_documented(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(checks=checks)

    answer_as_documented()
    return sent


def hostile_requests(
    schema: schemathesis.BaseSchema, checks: list[Callable[..., object]] = CHECKS
) -> dict[str, int]:
    """Valid requests to every operation, each with one query value or body value made non-finite."""
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        tried[f"{operation.method.upper()} {operation.path}"] = send_hostile(operation, checks)
    return tried


def _leaves(value: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every scalar in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def send_hostile(operation: APIOperation, checks: list[Callable[..., object]]) -> int:
    """Replace one generated input of a valid request by a non-finite token: a 422 naming it (or a 503).

    An operation without inputs gets the token as its JSON body, which it must ignore.
    """
    sent = 0
    json_body = {"content-type": "application/json"}

    @settings(FUZZ, max_examples=HOSTILE_EXAMPLES)
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        token=st.sampled_from(NON_FINITE_TOKENS),
        data=st.data(),
    )
    def hostile_value_is_named(case: schemathesis.Case, token: str, data: st.DataObject) -> None:
        nonlocal sent
        sent += 1
        body = case.body if isinstance(case.body, dict | list) else None
        places = [("query", name) for name in case.query or {}]
        places += [("body", *path) for path in _leaves(body) if path] if body is not None else []
        if not places:
            response = case.call(data=token.encode(), headers=json_body)
            case.validate_response(response, checks=checks)
            return
        place = data.draw(st.sampled_from(places))
        if place[0] == "query":
            case.query[place[1]] = token
            response = case.call()
        else:
            response = case.call(data=json_with_token(body, place[1:], token), headers=json_body)
        case.validate_response(response, checks=checks)
        if response.status_code != 503:
            assert response.status_code == 422, f"{place} = {token}: {response.status_code} {response.text}"
            answer = response.json()
            if "omitted_errors" in answer:  # more errors than a 422 lists: the token's may be left out
                assert len(answer["detail"]) == MAX_ERRORS, response.text
            else:
                assert place in [tuple(error["loc"]) for error in answer["detail"]], response.text

    hostile_value_is_named()
    return sent


def assert_fuzzed(tried: dict[str, int], with_inputs: set[str], examples: int = MAX_EXAMPLES) -> None:
    """Every operation was called; those taking parameters or a body got at least half the examples."""
    print(f"requests sent per operation: {tried} (total {sum(tried.values())})")
    assert with_inputs <= set(tried), f"operations missing from the schema: {with_inputs - set(tried)}"
    assert all(count >= 1 for count in tried.values()), tried
    assert all(tried[operation] >= examples // 2 for operation in with_inputs), tried


def test_data_api_answers_every_input_as_documented(data_api_schema: schemathesis.BaseSchema) -> None:
    assert_fuzzed(fuzz(data_api_schema), {"GET /data", "GET /restart_data_generation"})


def test_data_api_names_every_non_finite_number(data_api_schema: schemathesis.BaseSchema) -> None:
    assert_fuzzed(
        hostile_requests(data_api_schema), {"GET /data", "GET /restart_data_generation"}, HOSTILE_EXAMPLES
    )


#: Inference operations that take a body or an Authorization header.
INFERENCE_INPUTS = {"POST /predict", "POST /predict/batch", "POST /model/reload"}


def test_inference_api_with_a_model_answers_every_input_as_documented(
    served_schema: schemathesis.BaseSchema,
) -> None:
    assert_fuzzed(fuzz(served_schema), INFERENCE_INPUTS)


def test_inference_api_without_a_model_answers_every_input_as_documented(
    modelless_schema: schemathesis.BaseSchema,
) -> None:
    assert_fuzzed(fuzz(modelless_schema, MODELLESS_CHECKS), INFERENCE_INPUTS)


def test_inference_api_names_every_non_finite_number(served_schema: schemathesis.BaseSchema) -> None:
    assert_fuzzed(hostile_requests(served_schema), INFERENCE_INPUTS, HOSTILE_EXAMPLES)


def test_inference_api_without_a_model_names_every_non_finite_number(
    modelless_schema: schemathesis.BaseSchema,
) -> None:
    assert_fuzzed(hostile_requests(modelless_schema, MODELLESS_CHECKS), INFERENCE_INPUTS, HOSTILE_EXAMPLES)
