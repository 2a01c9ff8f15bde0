"""Response models: the OpenAPI schema is the contract clients are written against."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class DataBatch(BaseModel):
    """One poll's rows: same keys as the course's reference API."""

    group_number: int = Field(examples=[1])
    batch_number: int = Field(description="1 for the first batch", examples=[1])
    columns: list[str] = Field(description="the 13 canonical column names, in row order")
    data: list[list[int | str]] = Field(
        description="rows: ten integers, Wilderness_Area and Soil_Type as strings, Cover_Type 1..7"
    )


class Restarted(BaseModel):
    group_number: int
    detail: str


class Health(BaseModel):
    status: str = "ok"
    rows: int = Field(description="rows of the dataset being served")
    groups: int
    batches: int
    batch_interval: float


class ErrorReason(StrEnum):
    """Why a request was refused, for programs (the ``detail`` says it for people)."""

    GROUP_OUT_OF_RANGE = "group_out_of_range"
    #: The group's last batch window has passed: only ``GET /restart_data_generation`` gives it data again.
    ALL_BATCHES_DELIVERED = "all_batches_delivered"


class ErrorDetail(BaseModel):
    """A refused request (HTTP 400)."""

    detail: str = Field(description="what went wrong, in words", examples=["group_number 9 is outside 1..3"])
    reason: ErrorReason = Field(description="what went wrong, as a code clients can test")
