"""Pool models (Airflow's names and fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PoolResponse(BaseModel):
    name: str
    slots: int
    description: str | None
    include_deferred: bool
    occupied_slots: int
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    open_slots: int
    deferred_slots: int
    team_name: str | None


class PoolCollectionResponse(BaseModel):
    pools: list[PoolResponse]
    total_entries: int


class PoolBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    slots: int = Field(ge=-1)
    description: str | None = None
    include_deferred: bool = False
    team_name: str | None = Field(default=None, max_length=50)


class PoolPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: str | None = Field(default=None, min_length=1, max_length=256)
    slots: int | None = Field(default=None, ge=-1)
    description: str | None = None
    include_deferred: bool | None = None
    team_name: str | None = Field(default=None, max_length=50)
