"""Connections, variables and secret config values: backends, chain, cache, masking.

Start-up (composition root):

    key = await anyio.to_thread.run_sync(load_or_create_fernet_key, home, configured_key)
    masker = SecretsMasker()
    async with open_secrets(settings, environ=os.environ, database=db,
                            cipher=SecretsCipher(key), masker=masker) as secrets:
        conn = await secrets.get_connection("my_db")

The AWS backends live in `airflow_sc.secrets.aws` (optional extra `aws`).
"""

from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.cache import CacheStatistics, SecretsCache
from airflow_sc.secrets.chain import (
    DEFAULT_ORDER,
    BackendSpec,
    SecretsChain,
    SecretsSettings,
    build_chain,
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
    "generate_fernet_key",
    "load_backend",
    "load_or_create_fernet_key",
    "mask_stream",
    "normalize_conn_type",
    "open_secrets",
    "rotate_fernet_key",
]
