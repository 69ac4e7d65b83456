"""Alembic environment for airflow-sc.

Runs only online, on a synchronous connection that `airflow_sc.db.schema` opens and hands
over in `config.attributes["connection"]` (never `asyncio.run`: migrations must also work
under trio, so they run in a worker thread). The caller owns the transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from airflow_sc.db.models import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: future migrations recreate tables in batches.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("airflow-sc migrations run online only: use `airflow-sc db migrate`")

_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through airflow_sc.db.schema, which supplies a connection")
run_migrations(_connection)
