"""Connections, variables and secret config values: backends, chain, cache, masking.

Start-up (composition root):

    key = await anyio.to_thread.run_sync(load_or_create_fernet_key, home, configured_key)
    masker = SecretsMasker()
    async with open_secrets(settings, environ=os.environ, database=db,
                            cipher=SecretsCipher(key), masker=masker) as secrets:
        conn = await secrets.get_connection("my_db")

The AWS backends live in `airflow_sc.secrets.aws` (optional extra `aws`).

Importing this package is cheap: each name is imported from its module on first use,
so DAG files that only need `airflow_sc.secrets.connection` do not load the database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sc.secrets.base import SecretsBackend
    from airflow_sc.secrets.cache import CacheStatistics, SecretsCache
    from airflow_sc.secrets.chain import (
        DEFAULT_ORDER,
        BackendSpec,
        SecretsChain,
        SecretsSettings,
        build_chain,
        build_secrets,
        load_backend,
        open_secrets,
    )
    from airflow_sc.secrets.connection import EXTRA_KEY, Connection, normalize_conn_type
    from airflow_sc.secrets.encryption import (
        SecretsCipher,
        generate_fernet_key,
        load_or_create_fernet_key,
    )
    from airflow_sc.secrets.environment import EnvironmentBackend
    from airflow_sc.secrets.errors import (
        ConnectionFormatError,
        DecryptionError,
        FernetKeyError,
        SecretsBackendError,
        SecretsError,
        SecretsFileError,
    )
    from airflow_sc.secrets.local_file import LocalFileBackend
    from airflow_sc.secrets.masking import (
        DEFAULT_SENSITIVE_KEYS,
        MASK,
        MaskedStream,
        SecretsMasker,
        SecretsMaskingFilter,
        mask_stream,
    )
    from airflow_sc.secrets.memory import InMemoryBackend
    from airflow_sc.secrets.metastore import MetastoreBackend, RotationResult, rotate_fernet_key
    from airflow_sc.secrets.variable import Variable

_MODULES: dict[str, str] = {
    "SecretsBackend": "airflow_sc.secrets.base",
    "CacheStatistics": "airflow_sc.secrets.cache",
    "SecretsCache": "airflow_sc.secrets.cache",
    "DEFAULT_ORDER": "airflow_sc.secrets.chain",
    "BackendSpec": "airflow_sc.secrets.chain",
    "SecretsChain": "airflow_sc.secrets.chain",
    "SecretsSettings": "airflow_sc.secrets.chain",
    "build_chain": "airflow_sc.secrets.chain",
    "build_secrets": "airflow_sc.secrets.chain",
    "load_backend": "airflow_sc.secrets.chain",
    "open_secrets": "airflow_sc.secrets.chain",
    "EXTRA_KEY": "airflow_sc.secrets.connection",
    "Connection": "airflow_sc.secrets.connection",
    "normalize_conn_type": "airflow_sc.secrets.connection",
    "SecretsCipher": "airflow_sc.secrets.encryption",
    "generate_fernet_key": "airflow_sc.secrets.encryption",
    "load_or_create_fernet_key": "airflow_sc.secrets.encryption",
    "EnvironmentBackend": "airflow_sc.secrets.environment",
    "ConnectionFormatError": "airflow_sc.secrets.errors",
    "DecryptionError": "airflow_sc.secrets.errors",
    "FernetKeyError": "airflow_sc.secrets.errors",
    "SecretsBackendError": "airflow_sc.secrets.errors",
    "SecretsError": "airflow_sc.secrets.errors",
    "SecretsFileError": "airflow_sc.secrets.errors",
    "LocalFileBackend": "airflow_sc.secrets.local_file",
    "DEFAULT_SENSITIVE_KEYS": "airflow_sc.secrets.masking",
    "MASK": "airflow_sc.secrets.masking",
    "MaskedStream": "airflow_sc.secrets.masking",
    "SecretsMasker": "airflow_sc.secrets.masking",
    "SecretsMaskingFilter": "airflow_sc.secrets.masking",
    "mask_stream": "airflow_sc.secrets.masking",
    "InMemoryBackend": "airflow_sc.secrets.memory",
    "MetastoreBackend": "airflow_sc.secrets.metastore",
    "RotationResult": "airflow_sc.secrets.metastore",
    "rotate_fernet_key": "airflow_sc.secrets.metastore",
    "Variable": "airflow_sc.secrets.variable",
}

__all__ = [
    "DEFAULT_ORDER",
    "DEFAULT_SENSITIVE_KEYS",
    "EXTRA_KEY",
    "MASK",
    "BackendSpec",
    "CacheStatistics",
    "Connection",
    "ConnectionFormatError",
    "DecryptionError",
    "EnvironmentBackend",
    "FernetKeyError",
    "InMemoryBackend",
    "LocalFileBackend",
    "MaskedStream",
    "MetastoreBackend",
    "RotationResult",
    "SecretsBackend",
    "SecretsBackendError",
    "SecretsCache",
    "SecretsChain",
    "SecretsCipher",
    "SecretsError",
    "SecretsFileError",
    "SecretsMasker",
    "SecretsMaskingFilter",
    "SecretsSettings",
    "Variable",
    "build_chain",
    "build_secrets",
    "generate_fernet_key",
    "load_backend",
    "load_or_create_fernet_key",
    "mask_stream",
    "normalize_conn_type",
    "open_secrets",
    "rotate_fernet_key",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
