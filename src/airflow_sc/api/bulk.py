"""Airflow 3's bulk `PATCH` on pools, variables and connections.

A body holds a list of actions, each `create`, `update` or `delete`, applied in order,
each in its own transaction. Per action, `action_on_existence` (create: fail | skip |
overwrite) and `action_on_non_existence` (update, delete: fail | skip) say what happens to
entities that already exist or do not. With `fail`, an action that names any such entity
changes nothing and reports one error; the other actions still run. The response lists,
per action, the keys that succeeded and the errors.

The decisions are pure functions of the set of keys that exist (`plan_*`); `run_bulk`
applies them through `db.queries.api_bulk.write_keyed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from airflow_sc.db import Database
from airflow_sc.db.queries.api_bulk import KeyedTable, Writes, write_keyed

__all__ = [
    "BulkActionNotOnExistence",
    "BulkActionOnExistence",
    "BulkActionResponse",
    "BulkBody",
    "BulkResource",
    "BulkResponse",
    "plan_create",
    "plan_delete",
    "plan_update",
    "run_bulk",
]

B = TypeVar("B", bound=BaseModel)


class BulkActionOnExistence(StrEnum):
    FAIL = "fail"
    SKIP = "skip"
    OVERWRITE = "overwrite"


class BulkActionNotOnExistence(StrEnum):
    FAIL = "fail"
    SKIP = "skip"


class BulkCreateAction(BaseModel, Generic[B]):
    model_config = ConfigDict(extra="forbid")

    action: Literal["create"]
    entities: list[B]
    action_on_existence: BulkActionOnExistence = BulkActionOnExistence.FAIL


class BulkUpdateAction(BaseModel, Generic[B]):
    model_config = ConfigDict(extra="forbid")

    action: Literal["update"]
    entities: list[B]
    update_mask: list[str] | None = None
    action_on_non_existence: BulkActionNotOnExistence = BulkActionNotOnExistence.FAIL


class BulkDeleteAction(BaseModel, Generic[B]):
    model_config = ConfigDict(extra="forbid")

    action: Literal["delete"]
    entities: list[str | B]
    action_on_non_existence: BulkActionNotOnExistence = BulkActionNotOnExistence.FAIL


class BulkBody(BaseModel, Generic[B]):
    model_config = ConfigDict(extra="forbid")

    actions: list[
        Annotated[
            BulkCreateAction[B] | BulkUpdateAction[B] | BulkDeleteAction[B],
            Field(discriminator="action"),
        ]
    ]


class BulkActionResponse(BaseModel):
    success: list[str] = []
    errors: list[dict[str, Any]] = []


class BulkResponse(BaseModel):
    create: BulkActionResponse | None = None
    update: BulkActionResponse | None = None
    delete: BulkActionResponse | None = None

    def written_keys(self) -> list[str]:
        """Every key some action created, updated or deleted."""
        return [
            key
            for part in (self.create, self.update, self.delete)
            if part is not None
            for key in part.success
        ]


# -- pure decisions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """Keys to write, and the error that stopped the action (None: no error)."""

    insert: list[str]
    overwrite: list[str]
    remove: list[str]
    error: dict[str, Any] | None = None


def _error(message: str, status_code: int) -> dict[str, Any]:
    return {"error": message, "status_code": status_code}


def plan_create(
    keys: Sequence[str], existing: set[str], on_existence: BulkActionOnExistence, what: str
) -> Plan:
    clash = [k for k in keys if k in existing]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        return Plan([], [], [], _error(f"The {what}s {duplicates} appear more than once", 400))
    if clash and on_existence == BulkActionOnExistence.FAIL:
        return Plan([], [], [], _error(f"The {what}s with these keys: {clash} already exist.", 409))
    fresh = [k for k in keys if k not in existing]
    overwrite = clash if on_existence == BulkActionOnExistence.OVERWRITE else []
    return Plan(fresh, overwrite, [])


def plan_update(
    keys: Sequence[str], existing: set[str], on_missing: BulkActionNotOnExistence, what: str
) -> Plan:
    missing = [k for k in keys if k not in existing]
    if missing and on_missing == BulkActionNotOnExistence.FAIL:
        return Plan(
            [], [], [], _error(f"The {what}s with these keys: {missing} were not found.", 404)
        )
    return Plan([], [k for k in keys if k in existing], [])


def plan_delete(
    keys: Sequence[str], existing: set[str], on_missing: BulkActionNotOnExistence, what: str
) -> Plan:
    missing = [k for k in keys if k not in existing]
    if missing and on_missing == BulkActionNotOnExistence.FAIL:
        return Plan(
            [], [], [], _error(f"The {what}s with these keys: {missing} were not found.", 404)
        )
    return Plan([], [], [k for k in keys if k in existing])


# -- applying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkResource(Generic[B]):
    """How one resource maps its request bodies to rows."""

    table: KeyedTable
    what: str
    key_of: Callable[[B], str]
    #: Full column values for a new row.
    insert_values: Callable[[B], Mapping[str, Any]]
    #: Column values an update writes (only the fields in the mask, if one is given).
    update_values: Callable[[B, Sequence[str] | None], Mapping[str, Any]]
    #: A reason the key may not be deleted (e.g. `default_pool`), or None.
    refuse_delete: Callable[[str], str | None] = lambda key: None


async def run_bulk(db: Database, resource: BulkResource[B], body: BulkBody[B]) -> BulkResponse:
    response = BulkResponse()
    for action in body.actions:
        if isinstance(action, BulkCreateAction):
            result = await _create(db, resource, action)
        elif isinstance(action, BulkUpdateAction):
            result = await _update(db, resource, action)
        else:
            result = await _delete(db, resource, action)
        previous = getattr(response, action.action)
        if previous is not None:
            result = BulkActionResponse(
                success=previous.success + result.success, errors=previous.errors + result.errors
            )
        setattr(response, action.action, result)
    return response


async def _create(
    db: Database, resource: BulkResource[B], action: BulkCreateAction[B]
) -> BulkActionResponse:
    by_key = {resource.key_of(e): e for e in action.entities}
    keys = [resource.key_of(e) for e in action.entities]

    def decide(existing: set[str]) -> tuple[Writes, BulkActionResponse]:
        plan = plan_create(keys, existing, action.action_on_existence, resource.what)
        if plan.error:
            return Writes(), BulkActionResponse(errors=[plan.error])
        writes = Writes(
            insert=[resource.insert_values(by_key[k]) for k in plan.insert],
            update={k: resource.insert_values(by_key[k]) for k in plan.overwrite},
        )
        return writes, BulkActionResponse(success=plan.insert + plan.overwrite)

    return await write_keyed(db, resource.table, keys, decide)


async def _update(
    db: Database, resource: BulkResource[B], action: BulkUpdateAction[B]
) -> BulkActionResponse:
    by_key = {resource.key_of(e): e for e in action.entities}
    keys = list(by_key)

    def decide(existing: set[str]) -> tuple[Writes, BulkActionResponse]:
        plan = plan_update(keys, existing, action.action_on_non_existence, resource.what)
        if plan.error:
            return Writes(), BulkActionResponse(errors=[plan.error])
        writes = Writes(
            update={
                k: resource.update_values(by_key[k], action.update_mask) for k in plan.overwrite
            }
        )
        return writes, BulkActionResponse(success=plan.overwrite)

    return await write_keyed(db, resource.table, keys, decide)


async def _delete(
    db: Database, resource: BulkResource[B], action: BulkDeleteAction[B]
) -> BulkActionResponse:
    keys = [e if isinstance(e, str) else resource.key_of(e) for e in action.entities]
    refused = [(k, reason) for k in keys if (reason := resource.refuse_delete(k)) is not None]
    if refused:
        return BulkActionResponse(errors=[_error(reason, 400) for _, reason in refused])

    def decide(existing: set[str]) -> tuple[Writes, BulkActionResponse]:
        plan = plan_delete(keys, existing, action.action_on_non_existence, resource.what)
        if plan.error:
            return Writes(), BulkActionResponse(errors=[plan.error])
        return Writes(delete=plan.remove), BulkActionResponse(success=plan.remove)

    return await write_keyed(db, resource.table, keys, decide)
