"""The metadata database: the only package that imports SQLAlchemy."""

from airflow_sc.db.database import Database, DatabaseStatistics, Rows, Transaction
from airflow_sc.db.url import DatabaseUrl, Dialect

__all__ = [
    "Database",
    "DatabaseStatistics",
    "DatabaseUrl",
    "Dialect",
    "Rows",
    "Transaction",
]
