"""Roles and the permissions they grant (pure; no I/O).

The four roles have the meanings of Airflow's simple auth manager:

- `viewer` reads DAGs and everything under them (runs, task instances, logs, XCom, import
  errors) and pools;
- `user` also edits DAGs: pauses them, triggers, clears and marks runs and task instances,
  deletes DAGs and runs;
- `op` also manages pools, variables and connections and reads the configuration;
- `admin` can do everything, including managing users.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["ROLE_PERMISSIONS", "Permission", "Role", "role_allows"]


class Role(StrEnum):
    ADMIN = "admin"
    OP = "op"
    USER = "user"
    VIEWER = "viewer"


class Permission(StrEnum):
    """What a route needs; each API route declares exactly one."""

    DAG_READ = "dag:read"
    DAG_EDIT = "dag:edit"
    DAG_DELETE = "dag:delete"
    POOL_READ = "pool:read"
    POOL_EDIT = "pool:edit"
    VARIABLE_READ = "variable:read"
    VARIABLE_EDIT = "variable:edit"
    CONNECTION_READ = "connection:read"
    CONNECTION_EDIT = "connection:edit"
    CONFIG_READ = "config:read"
    USER_ADMIN = "user:admin"


_VIEWER: Final = frozenset({Permission.DAG_READ, Permission.POOL_READ})
_USER: Final = _VIEWER | {Permission.DAG_EDIT, Permission.DAG_DELETE}
_OP: Final = _USER | {
    Permission.POOL_EDIT,
    Permission.VARIABLE_READ,
    Permission.VARIABLE_EDIT,
    Permission.CONNECTION_READ,
    Permission.CONNECTION_EDIT,
    Permission.CONFIG_READ,
}

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.VIEWER: _VIEWER,
    Role.USER: frozenset(_USER),
    Role.OP: frozenset(_OP),
    Role.ADMIN: frozenset(Permission),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
