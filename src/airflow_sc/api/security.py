"""Authentication and authorization of API requests.

Every route declares the one permission it needs::

    @router.get("/pools", dependencies=[Depends(requires(Permission.POOL_READ))])

or, when the route wants to know who calls::

    async def patch_dag(..., caller: Annotated[AccessToken, Depends(requires(Permission.DAG_EDIT))])

A request without a valid bearer token gets 401 (with `WWW-Authenticate: Bearer`), and so
does one whose user was deleted or changed role or password since the token was issued
(rechecked against the users table, cached for `auth.DEFAULT_RECHECK`); one whose role
lacks the permission gets 403. Tokens come from `POST /auth/token`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer

from airflow_sc.api.context import Ctx
from airflow_sc.auth import AccessToken, InvalidToken, Permission, role_allows

__all__ = ["RequiresPermission", "declared_permissions", "requires"]

# Both schemes accept `Authorization: Bearer <token>`; declaring both matches Airflow's
# OpenAPI document, so generated clients offer the same ways to log in.
_oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
_http_bearer = HTTPBearer(auto_error=False)

_UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


class RequiresPermission:
    """A FastAPI dependency: the caller's token, if it grants `permission`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"requires({self.permission.name})"

    async def __call__(
        self,
        request: Request,
        ctx: Ctx,
        oauth_token: Annotated[str | None, Depends(_oauth2)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_http_bearer)],
    ) -> AccessToken:
        raw = oauth_token or (bearer.credentials if bearer else None)
        if not raw:
            raise HTTPException(401, "Not authenticated", headers=_UNAUTHENTICATED)
        try:
            token = ctx.verified_tokens.decode(raw, key=ctx.require_signing_key(), now=ctx.clock())
        except InvalidToken:
            raise HTTPException(401, "Invalid or expired token", headers=_UNAUTHENTICATED) from None
        # A token outlives nothing it was issued on: its user, role and password.
        if not await ctx.user_stamps.is_current(ctx.db, token, ctx.clock()):
            raise HTTPException(
                401, "The token's user was deleted or changed", headers=_UNAUTHENTICATED
            )
        if not role_allows(token.role, self.permission):
            raise HTTPException(
                403, f"Forbidden: the {token.role.value} role may not {self.permission.value}"
            )
        request.state.caller = token
        return token


def requires(permission: Permission) -> RequiresPermission:
    """The dependency a route declares."""
    return RequiresPermission(permission)


def _walk(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _walk(sub)


def declared_permissions(
    routers: Iterable[APIRouter], prefix: str = ""
) -> dict[tuple[str, str], set[Permission]]:
    """(method, prefix + path) -> the permissions its route declares (empty: public)."""
    out: dict[tuple[str, str], set[Permission]] = {}
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            needed = {
                c.permission for c in _walk(route.dependant) if isinstance(c, RequiresPermission)
            }
            for method in route.methods or ():
                out[(method, prefix + route.path)] = needed
    return out
