"""Types of response fields that show JSON documents read from the database.

A document stored by an older version, or written around the API, may nest deeper than a
response can be serialized or hold unpaired surrogates; such a field is passed through
`airflow_sc.domain.json_values.renderable` when the response is built, so reading it never
answers 500 (the stored row is left as it is).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from airflow_sc.domain.json_values import renderable

__all__ = ["StoredDocument", "StoredObject"]

#: Any JSON value read from a JSON column.
StoredDocument = Annotated[Any, AfterValidator(renderable)]
#: A JSON object read from a JSON column (a run's conf, a DAG's params, ...).
StoredObject = Annotated[dict[str, Any], AfterValidator(renderable)]
