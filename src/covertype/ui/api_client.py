"""The UI's HTTP calls to the inference API, the data API and Airflow's REST API, with readable errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from covertype.settings import Settings

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ServiceError(RuntimeError):
    """A service could not be reached or refused the request; the message is fit to show as is."""


def predict(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    """``POST /predict`` for one record of the 12 features."""
    answer: dict[str, Any] = _call(
        "inference API", "POST", f"{settings.inference_api_url}/predict", json=record
    )
    return answer


def predict_batch(settings: Settings, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``POST /predict/batch`` in chunks the API accepts (``settings.max_batch_records``), in order."""
    predictions: list[dict[str, Any]] = []
    step = settings.max_batch_records
    for start in range(0, len(records), step):
        chunk = list(records[start : start + step])
        answer = _call(
            "inference API", "POST", f"{settings.inference_api_url}/predict/batch", json={"records": chunk}
        )
        predictions.extend(answer["predictions"])
    return predictions


def served_model(settings: Settings) -> dict[str, Any]:
    """``GET /model``: the version the inference API serves now."""
    answer: dict[str, Any] = _call("inference API", "GET", f"{settings.inference_api_url}/model")
    return answer


def group_schedules(settings: Settings) -> list[dict[str, Any]]:
    """``GET /groups`` of the data API: each group's current batch and when the next opens."""
    answer: list[dict[str, Any]] = _call("data API", "GET", f"{settings.data_api_url}/groups")
    return answer


def reload_model(settings: Settings, token: str | None) -> dict[str, Any]:
    """``POST /model/reload`` with the operator's token (none for an API without one): the inference API
    checks the alias at once and answers once it serves the alias's version (``model``)."""
    answer: dict[str, Any] = _call(
        "inference API",
        "POST",
        f"{settings.inference_api_url}/model/reload",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    return answer


def dag_runs(settings: Settings, dag_ids: Sequence[str], *, limit: int = 10) -> list[dict[str, Any]]:
    """The ``limit`` latest runs of each DAG (newest first) from Airflow's REST API v2.

    Logs in with ``settings.airflow_username``/``airflow_password`` (``POST /auth/token``, a JWT).
    """
    if not settings.airflow_password:
        raise ServiceError(
            f"no Airflow login is configured: set COVERTYPE_AIRFLOW_PASSWORD (and COVERTYPE_AIRFLOW_USERNAME,"
            f" now {settings.airflow_username!r}) for Airflow at {settings.airflow_api_url}"
        )
    base = settings.airflow_api_url.rstrip("/")
    login = {"username": settings.airflow_username, "password": settings.airflow_password}
    try:
        token = _call("Airflow API", "POST", f"{base}/auth/token", json=login)["access_token"]
    except ServiceError as exc:
        raise ServiceError(f"{exc} (login as {settings.airflow_username!r})") from exc
    runs: list[dict[str, Any]] = []
    for dag_id in dag_ids:
        answer = _call(
            "Airflow API",
            "GET",
            f"{base}/api/v2/dags/{dag_id}/dagRuns",
            params={"order_by": "-run_after", "limit": limit},
            headers={"Authorization": f"Bearer {token}"},
        )
        runs.extend(answer["dag_runs"])
    return runs


def _call(service: str, method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, url, timeout=_TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise ServiceError(f"the {service} at {url} could not be reached: {exc}") from exc
    if response.is_error:
        raise ServiceError(f"the {service} answered {response.status_code}: {_detail(response)}")
    return response.json()


def _detail(response: httpx.Response) -> str:
    """FastAPI's ``detail``: a string, or validation errors flattened to ``field: message``."""
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', []) if part != 'body')}: {error.get('msg')}"
            for error in detail
        )
    return str(detail)
