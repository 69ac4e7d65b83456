"""Secrets kept in the metadata database, encrypted with Fernet.

Every value written here is encrypted (connection passwords and extras, variable values).
Rows written unencrypted by other tools (`is_encrypted` false, e.g. imported from an
Airflow database without a key) are read as they are and encrypted by the next
`rotate_fernet_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from airflow_sc.db import Database
from airflow_sc.db.queries import secrets as queries
from airflow_sc.db.queries.secrets import StoredConnection, StoredVariable
from airflow_sc.domain.listing import Listing, NamePattern, OrderField
from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.encryption import SecretsCipher
from airflow_sc.secrets.variable import Variable

__all__ = ["MetastoreBackend", "RotationResult", "rotate_fernet_key"]

_ANY = NamePattern()
_BY_CONN_ID = Listing((OrderField("conn_id"),), limit=None)
_BY_KEY = Listing((OrderField("key"),), limit=None)


class MetastoreBackend(SecretsBackend):
    """Reads and writes the `connection` and `variable` tables through the Database port."""

    name = "metastore"

    def __init__(self, db: Database, cipher: SecretsCipher) -> None:
        self._db = db
        self._cipher = cipher

    # -- lookups -----------------------------------------------------------------------

    async def get_connection(self, conn_id: str) -> Connection | None:
        row = await queries.get_connection(self._db, conn_id)
        return None if row is None else self._connection(row)

    async def get_variable(self, key: str) -> str | None:
        row = await queries.get_variable(self._db, key)
        return None if row is None else self._variable(row).value

    async def get_variable_record(self, key: str) -> Variable | None:
        """The variable with its description."""
        row = await queries.get_variable(self._db, key)
        return None if row is None else self._variable(row)

    async def list_connections(
        self, conn_id: NamePattern = _ANY, listing: Listing = _BY_CONN_ID
    ) -> list[Connection]:
        """Connections whose id matches `conn_id` (by default all, by id)."""
        page = await queries.list_connections(self._db, conn_id, listing)
        return [self._connection(row) for row in page.items]

    async def list_variables(
        self, key: NamePattern = _ANY, listing: Listing = _BY_KEY
    ) -> list[Variable]:
        """Variables whose key matches `key` (by default all, by key)."""
        page = await queries.list_variables(self._db, key, listing)
        return [self._variable(row) for row in page.items]

    # -- writes ------------------------------------------------------------------------

    async def set_connection(self, conn: Connection) -> None:
        """Create or replace `conn` (encrypting its password and extra)."""
        encrypt = self._cipher.encrypt
        row = StoredConnection(
            conn_id=conn.conn_id,
            conn_type=conn.conn_type or "",
            description=conn.description,
            host=conn.host,
            schema=conn.schema,
            login=conn.login,
            password=None if conn.password is None else encrypt(conn.password),
            port=conn.port,
            extra=encrypt(conn.extra) if conn.extra else None,
            is_encrypted=conn.password is not None,
            is_extra_encrypted=bool(conn.extra),
        )
        await queries.put_connection(self._db, row)

    async def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        """Create or replace a variable (encrypting its value)."""
        row = StoredVariable(key, self._cipher.encrypt(value), description, is_encrypted=True)
        await queries.put_variable(self._db, row)

    async def delete_connection(self, conn_id: str) -> bool:
        return await queries.delete_connection(self._db, conn_id)

    async def delete_variable(self, key: str) -> bool:
        return await queries.delete_variable(self._db, key)

    # -- decoding ----------------------------------------------------------------------

    def _connection(self, row: StoredConnection) -> Connection:
        password, extra = row.password, row.extra
        if password and row.is_encrypted:
            password = self._cipher.decrypt(password, what=f"connection {row.conn_id!r} password")
        if extra and row.is_extra_encrypted:
            extra = self._cipher.decrypt(extra, what=f"connection {row.conn_id!r} extra")
        return Connection(
            conn_id=row.conn_id,
            conn_type=row.conn_type,
            description=row.description,
            host=row.host,
            login=row.login,
            password=password,
            schema=row.schema,
            port=row.port,
            extra=extra or None,
        )

    def _variable(self, row: StoredVariable) -> Variable:
        value = row.val or ""
        if row.val and row.is_encrypted:
            value = self._cipher.decrypt(row.val, what=f"variable {row.key!r}")
        return Variable(row.key, value, row.description)


@dataclass(frozen=True, slots=True)
class RotationResult:
    connections: int
    variables: int


async def rotate_fernet_key(db: Database, cipher: SecretsCipher) -> RotationResult:
    """Re-encrypt every stored secret with the cipher's first key (`rotate-fernet-key`).

    The cipher holds the new key first and the old key(s) after it. Unencrypted rows are
    encrypted. Connections and variables are each rewritten in one transaction; a value
    no key decrypts raises `DecryptionError` and leaves that table unchanged.
    """

    def rotate(token: str | None, encrypted: bool, what: str) -> str | None:
        if not token:
            return token
        return cipher.rotate(token, what=what) if encrypted else cipher.encrypt(token)

    def connection(row: StoredConnection) -> StoredConnection:
        what = f"connection {row.conn_id!r}"
        return replace(
            row,
            password=rotate(row.password, row.is_encrypted, f"{what} password"),
            extra=rotate(row.extra, row.is_extra_encrypted, f"{what} extra"),
            is_encrypted=bool(row.password),
            is_extra_encrypted=bool(row.extra),
        )

    def variable(row: StoredVariable) -> StoredVariable:
        return replace(
            row,
            val=rotate(row.val, row.is_encrypted, f"variable {row.key!r}"),
            is_encrypted=bool(row.val),
        )

    connections = await queries.rewrite_connections(db, connection)
    variables = await queries.rewrite_variables(db, variable)
    return RotationResult(connections, variables)
