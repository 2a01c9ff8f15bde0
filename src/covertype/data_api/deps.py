"""Dependency providers shared by the routes (tests may override them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from covertype.data_api.service import DataService


def get_service(request: Request) -> DataService:
    service: DataService = request.app.state.data_service
    return service


ServiceDep = Annotated[DataService, Depends(get_service)]
GroupNumber = Annotated[int, Query(description="the group polling, 1..COVERTYPE_GROUPS", examples=[1])]
