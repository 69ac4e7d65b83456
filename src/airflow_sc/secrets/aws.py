"""AWS Secrets Manager and SSM Parameter Store backends (the `aws` extra: boto3).

Naming follows Airflow's Amazon provider, so secrets stored for Airflow are found as is:

- Secrets Manager: `<connections_prefix><sep><conn_id>` (default `airflow/connections/x`),
  `airflow/variables/<key>`, `airflow/config/<key>`; a connection secret is a URI or a JSON
  object whose fields may use the provider's aliases (`user`/`username` for `login`, `pass`
  for `password`, `database` for `schema`, `engine` for `conn_type`, ... plus
  `extra_conn_words`).
- SSM Parameter Store: `/airflow/connections/<conn_id>` (a leading `/` is added when
  missing), `/airflow/variables/<key>`, `/airflow/config/<key>`, read `WithDecryption`.
- A prefix of None disables that kind of lookup; a `*_lookup_pattern` regex (matched
  case-insensitively at the start of the id) limits which ids are sent to AWS at all.

The client is boto3, called in a worker thread on both asyncio and trio. An async client
(aiobotocore) would serve asyncio only and pull in aiohttp; boto3 in a thread runs the
same on both loops, keeps the whole credential chain (profiles, SSO, instance roles), and
costs one thread hop per lookup, which the cache in front of the chain absorbs. A
cancelled lookup returns at once; its thread finishes the request in the background
(bounded by `connect_timeout`/`read_timeout`).

"Not found" is None (the chain asks the next backend); any other AWS error raises, rather
than quietly falling through to an older value elsewhere in the chain.
"""

from __future__ import annotations

import importlib
import json
import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Final

import anyio
import anyio.to_thread

from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.errors import SecretsBackendError

__all__ = [
    "SecretsManagerBackend",
    "SystemsManagerParameterStoreBackend",
    "standardize_connection_fields",
]

#: Field -> the keys a Secrets Manager JSON secret may use for it (the provider's aliases).
CONNECTION_FIELD_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "login": ("login", "user", "username", "user_name"),
    "password": ("password", "pass", "key"),
    "host": ("host", "remote_host", "server"),
    "port": ("port",),
    "schema": ("database", "schema"),
    "conn_type": ("conn_type", "conn_id", "connection_type", "engine"),
    "extra": ("extra",),
}


def standardize_connection_fields(
    secret: Mapping[str, Any], extra_words: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """Map a Secrets Manager JSON secret's keys onto connection fields (first alias wins)."""
    aliases = {field: list(words) for field, words in CONNECTION_FIELD_ALIASES.items()}
    for field, words in (extra_words or {}).items():
        aliases["login" if field == "user" else field].extend(words)
    return {
        field: next((value for key, value in secret.items() if key in words), None)
        for field, words in aliases.items()
    }


class _AwsBackend(SecretsBackend):
    """Shared shape: prefixes, lookup patterns, a boto3 client used from worker threads."""

    service: str
    #: The error codes that mean "no such secret".
    not_found_codes: frozenset[str]

    def __init__(
        self,
        *,
        connections_prefix: str | None,
        connections_lookup_pattern: str | None,
        variables_prefix: str | None,
        variables_lookup_pattern: str | None,
        config_prefix: str | None,
        config_lookup_pattern: str | None,
        sep: str,
        region_name: str | None,
        profile_name: str | None,
        aws_access_key_id: str | None,
        aws_secret_access_key: str | None,
        aws_session_token: str | None,
        endpoint_url: str | None,
        verify: bool | str | None,
        connect_timeout: float,
        read_timeout: float,
        max_attempts: int,
        max_concurrency: int,
    ) -> None:
        self.sep = sep
        self.connections_prefix = self._prefix(connections_prefix)
        self.variables_prefix = self._prefix(variables_prefix)
        self.config_prefix = self._prefix(config_prefix)
        self._patterns = {
            "connection": _compile(connections_lookup_pattern),
            "variable": _compile(variables_lookup_pattern),
            "config": _compile(config_lookup_pattern),
        }
        self._session_kwargs = _without_none(
            region_name=region_name,
            profile_name=profile_name,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
        )
        self._client_kwargs = _without_none(endpoint_url=endpoint_url, verify=verify)
        self._config_kwargs = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "retries": {"max_attempts": max_attempts, "mode": "standard"},
            "max_pool_connections": max_concurrency,
        }
        self._max_concurrency = max_concurrency
        self._client: Any = None
        self._client_lock: anyio.Lock | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    def _prefix(self, prefix: str | None) -> str | None:
        return prefix.rstrip(self.sep) if prefix else prefix

    def build_path(self, prefix: str, secret_id: str) -> str:
        return f"{prefix}{self.sep}{secret_id}" if prefix else secret_id

    # -- the port ----------------------------------------------------------------------

    async def get_connection(self, conn_id: str) -> Connection | None:
        value = await self._lookup("connection", self.connections_prefix, conn_id)
        return None if value is None else self._connection(conn_id, value)

    async def get_variable(self, key: str) -> str | None:
        return await self._lookup("variable", self.variables_prefix, key)

    async def get_config(self, key: str) -> str | None:
        return await self._lookup("config", self.config_prefix, key)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await anyio.to_thread.run_sync(client.close)

    def _connection(self, conn_id: str, value: str) -> Connection:
        return Connection.deserialize(conn_id, value)

    # -- plumbing ----------------------------------------------------------------------

    async def _lookup(self, kind: str, prefix: str | None, secret_id: str) -> str | None:
        if prefix is None:
            return None
        pattern = self._patterns[kind]
        if pattern is not None and not pattern.match(secret_id):
            return None
        client = await self._client_once()
        path = self._path(prefix, secret_id)
        return await anyio.to_thread.run_sync(
            self._fetch_or_none, client, path, limiter=self._limiter, abandon_on_cancel=True
        )

    def _path(self, prefix: str, secret_id: str) -> str:
        return self.build_path(prefix, secret_id)

    async def _client_once(self) -> Any:
        if self._client is not None:
            return self._client
        if self._client_lock is None:
            self._client_lock = anyio.Lock()
            self._limiter = anyio.CapacityLimiter(self._max_concurrency)
        async with self._client_lock:
            if self._client is None:
                # Building a client reads ~/.aws files and may query instance metadata.
                self._client = await anyio.to_thread.run_sync(self._make_client)
        return self._client

    def _make_client(self) -> Any:
        try:
            boto3: Any = importlib.import_module("boto3")
            botocore_config: Any = importlib.import_module("botocore.config")
        except ImportError:
            raise SecretsBackendError(
                f"{type(self).__name__} needs boto3: pip install 'airflow-sc[aws]'"
            ) from None
        session = boto3.session.Session(**self._session_kwargs)
        return session.client(
            self.service,
            config=botocore_config.Config(**self._config_kwargs),
            **self._client_kwargs,
        )

    def _fetch_or_none(self, client: Any, path: str) -> str | None:
        errors: Any = importlib.import_module("botocore.exceptions")
        try:
            return self._fetch(client, path)
        except errors.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in self.not_found_codes:
                return None
            raise SecretsBackendError(f"{self.service} {path!r}: {code}: {exc}") from None
        except errors.BotoCoreError as exc:
            raise SecretsBackendError(f"{self.service} {path!r}: {exc}") from None

    @abstractmethod
    def _fetch(self, client: Any, path: str) -> str | None:
        """Blocking: read one secret (runs in a worker thread)."""


class SecretsManagerBackend(_AwsBackend):
    """AWS Secrets Manager, with the Amazon provider's naming conventions."""

    name = "aws_secrets_manager"
    service = "secretsmanager"
    not_found_codes = frozenset({"ResourceNotFoundException"})

    def __init__(
        self,
        *,
        connections_prefix: str | None = "airflow/connections",
        connections_lookup_pattern: str | None = None,
        variables_prefix: str | None = "airflow/variables",
        variables_lookup_pattern: str | None = None,
        config_prefix: str | None = "airflow/config",
        config_lookup_pattern: str | None = None,
        sep: str = "/",
        extra_conn_words: Mapping[str, Sequence[str]] | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        endpoint_url: str | None = None,
        verify: bool | str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_attempts: int = 3,
        max_concurrency: int = 10,
    ) -> None:
        super().__init__(
            connections_prefix=connections_prefix,
            connections_lookup_pattern=connections_lookup_pattern,
            variables_prefix=variables_prefix,
            variables_lookup_pattern=variables_lookup_pattern,
            config_prefix=config_prefix,
            config_lookup_pattern=config_lookup_pattern,
            sep=sep,
            region_name=region_name,
            profile_name=profile_name,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            endpoint_url=endpoint_url,
            verify=verify,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            max_concurrency=max_concurrency,
        )
        self.extra_conn_words = dict(extra_conn_words or {})

    def _connection(self, conn_id: str, value: str) -> Connection:
        if not value.strip().startswith("{"):
            return Connection.from_uri(conn_id, value.strip())
        fields = standardize_connection_fields(json.loads(value), self.extra_conn_words)
        return Connection.from_dict(conn_id, fields)

    def _fetch(self, client: Any, path: str) -> str | None:
        secret: str | None = client.get_secret_value(SecretId=path).get("SecretString")
        return secret


class SystemsManagerParameterStoreBackend(_AwsBackend):
    """AWS SSM Parameter Store, with the Amazon provider's naming conventions."""

    name = "aws_parameter_store"
    service = "ssm"
    not_found_codes = frozenset({"ParameterNotFound"})

    def __init__(
        self,
        *,
        connections_prefix: str | None = "/airflow/connections",
        connections_lookup_pattern: str | None = None,
        variables_prefix: str | None = "/airflow/variables",
        variables_lookup_pattern: str | None = None,
        config_prefix: str | None = "/airflow/config",
        config_lookup_pattern: str | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        endpoint_url: str | None = None,
        verify: bool | str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_attempts: int = 3,
        max_concurrency: int = 10,
    ) -> None:
        super().__init__(
            connections_prefix=connections_prefix,
            connections_lookup_pattern=connections_lookup_pattern,
            variables_prefix=variables_prefix,
            variables_lookup_pattern=variables_lookup_pattern,
            config_prefix=config_prefix,
            config_lookup_pattern=config_lookup_pattern,
            sep="/",
            region_name=region_name,
            profile_name=profile_name,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            endpoint_url=endpoint_url,
            verify=verify,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            max_concurrency=max_concurrency,
        )

    def _path(self, prefix: str, secret_id: str) -> str:
        path = self.build_path(prefix, secret_id)
        return path if path.startswith("/") else f"/{path}"

    def _fetch(self, client: Any, path: str) -> str | None:
        value: str = client.get_parameter(Name=path, WithDecryption=True)["Parameter"]["Value"]
        return value


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern, re.IGNORECASE) if pattern else None


def _without_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
