"""`POST /auth/token`: username and password in, JWT access token out (Airflow's path)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_sc.api.context import Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.auth import authenticate, issue_token

router = APIRouter()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    password: str


class LoginResponse(BaseModel):
    access_token: str


async def _login_body(request: Request) -> LoginBody:
    content_type = request.headers.get("content-type", "application/json").split(";")[0]
    raw: Any
    if content_type.strip() == "application/x-www-form-urlencoded":
        raw = dict(parse_qsl((await request.body()).decode(errors="replace")))
    elif content_type.strip() == "application/json":
        try:
            raw = await request.json()
        except ValueError:
            raise HTTPException(400, "the request body is not valid JSON") from None
    else:
        raise HTTPException(415, "Unsupported Media Type")
    try:
        return LoginBody.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


@router.post(
    "/auth/token",
    status_code=201,
    tags=["SimpleAuthManagerLogin"],
    responses=error_responses(400) | {415: {"description": "Unsupported Media Type"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginBody.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": LoginBody.model_json_schema()},
            },
        }
    },
)
async def create_token(request: Request, ctx: Ctx) -> LoginResponse:
    """Authenticate a user: JSON or form body `{username, password}` -> `access_token`."""
    body = await _login_body(request)
    user = await authenticate(ctx.db, body.username, body.password)
    if user is None:
        raise HTTPException(401, "Invalid username or password")
    token = issue_token(
        key=ctx.require_signing_key(),
        username=user.username,
        role=user.role,
        now=ctx.clock(),
        lifetime=ctx.token_lifetime,
        stamp=user.stamp,
    )
    return LoginResponse(access_token=token)
