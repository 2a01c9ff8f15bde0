"""What handlers receive through ``Depends``: the service, the model holder, the settings, the served
version's latest batch quality, the token check.

The providers are ``async`` because they never block: FastAPI would run plain functions in its thread
pool, a thread hop per dependency per request.
"""

from __future__ import annotations

import secrets
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from covertype.inference.batch_quality import ChampionBatchQuality
from covertype.inference.metrics import ServiceMetrics
from covertype.inference.model_holder import ModelHolder, ServedModel
from covertype.inference.service import PredictionService
from covertype.settings import Settings


async def app_settings(request: Request) -> Settings:
    """The settings the app was built with (process-wide ones are :func:`covertype.settings.get_settings`)."""
    return cast(Settings, request.app.state.settings)


async def get_service(request: Request) -> PredictionService:
    return cast(PredictionService, request.app.state.service)


async def get_holder(request: Request) -> ModelHolder:
    return cast(ModelHolder, request.app.state.holder)


async def get_metrics(request: Request) -> ServiceMetrics:
    return cast(ServiceMetrics, request.app.state.metrics)


async def get_batch_quality(request: Request) -> ChampionBatchQuality:
    return cast(ChampionBatchQuality, request.app.state.batch_quality)


SettingsDep = Annotated[Settings, Depends(app_settings)]
ServiceDep = Annotated[PredictionService, Depends(get_service)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
BatchQualityDep = Annotated[ChampionBatchQuality, Depends(get_batch_quality)]


async def get_served_model(holder: HolderDep) -> ServedModel:
    """The model being served; ``ModelUnavailable`` (503) when none is loaded yet."""
    return holder.require()


ServedModelDep = Annotated[ServedModel, Depends(get_served_model)]

_bearer = HTTPBearer(auto_error=False, description="COVERTYPE_API_TOKEN, when the service has one")


async def require_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Let the request through when no token is configured or it carries ``Authorization: Bearer <token>``."""
    expected = settings.api_token
    if not expected:
        return
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Authorization: a valid 'Bearer <COVERTYPE_API_TOKEN>' header is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
