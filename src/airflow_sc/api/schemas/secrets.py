"""Variable and connection models (Airflow's names and fields)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator


class VariableBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=250)
    value: JsonValue
    description: str | None = None
    team_name: str | None = Field(default=None, max_length=50)


class VariableResponse(BaseModel):
    key: str
    value: str | None
    description: str | None
    is_encrypted: bool
    team_name: str | None


class VariableCollectionResponse(BaseModel):
    variables: list[VariableResponse]
    total_entries: int


class ConnectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    connection_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.-]+$")
    conn_type: str = Field(min_length=1, max_length=500)
    description: str | None = None
    host: str | None = Field(default=None, max_length=500)
    login: str | None = None
    schema_: str | None = Field(default=None, alias="schema", max_length=500)
    port: int | None = Field(default=None, ge=0, le=65535)
    password: str | None = None
    extra: str | None = None
    team_name: str | None = Field(default=None, max_length=50)

    @field_validator("extra")
    @classmethod
    def _extra_is_a_json_object(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError(
                'The `extra` field must be a valid JSON object (e.g. {"key": "value"})'
            )
        return value


class ConnectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    connection_id: str
    conn_type: str
    description: str | None
    host: str | None
    login: str | None
    schema_: str | None = Field(alias="schema")
    port: int | None
    password: str | None
    extra: str | None
    team_name: str | None


class ConnectionCollectionResponse(BaseModel):
    connections: list[ConnectionResponse]
    total_entries: int
