"""Variable writes from tasks (``Variable.set`` / ``Variable.delete``): into the metastore.

Airflow's rule: a task writes to the metastore, encrypted, whatever backends are configured
for reads. The cached answer for the key is forgotten at once, so the next read in this
process sees the write; other processes' caches catch up within their TTL. A variable also
defined in an earlier source of the chain (environment, local file) still wins on reads;
the write is logged with a warning saying so, as Airflow does.
"""

from __future__ import annotations

import logging

from airflow_sc.db import Database
from airflow_sc.db.queries import secrets as queries
from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.cache import SecretsCache
from airflow_sc.secrets.chain import SecretsChain
from airflow_sc.secrets.encryption import SecretsCipher
from airflow_sc.secrets.metastore import MetastoreBackend

__all__ = ["delete_variable", "set_variable"]

log = logging.getLogger(__name__)


async def set_variable(
    db: Database,
    cipher: SecretsCipher,
    key: str,
    value: str,
    *,
    description: str | None = None,
    secrets: SecretsBackend | None = None,
) -> None:
    """Create or replace `key` in the metastore; `secrets` is the reads' (cached) chain."""
    await MetastoreBackend(db, cipher).set_variable(key, value, description)
    _forget(secrets, key)
    await _warn_if_shadowed(secrets, key)


async def delete_variable(db: Database, key: str, *, secrets: SecretsBackend | None = None) -> bool:
    """Delete `key` from the metastore; ``False`` when it was not there."""
    deleted = await queries.delete_variable(db, key)
    _forget(secrets, key)
    return deleted


def _forget(secrets: SecretsBackend | None, key: str) -> None:
    if isinstance(secrets, SecretsCache):
        secrets.invalidate("variable", key)


async def _warn_if_shadowed(secrets: SecretsBackend | None, key: str) -> None:
    chain = secrets.backend if isinstance(secrets, SecretsCache) else secrets
    if not isinstance(chain, SecretsChain):
        return
    for backend in chain.backends:
        if isinstance(backend, MetastoreBackend):
            return
        if backend.name in ("environment", "local_file") and (
            await backend.get_variable(key) is not None
        ):
            log.warning(
                "Variable %r is also defined in the %s secrets backend, which is read before "
                "the metastore: the stored value changed, but reads return the %s value until "
                "it is removed there",
                key,
                backend.name,
                backend.name,
            )
            return
