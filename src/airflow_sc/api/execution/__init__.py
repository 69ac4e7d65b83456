"""The execution protocol's HTTP transport, mounted at ``/execution``.

The protocol itself (operations, tokens, the service that applies them) lives in
`airflow_sc.execution`; this package only carries it over HTTP.
"""

from airflow_sc.api.execution.routes import create_execution_app

__all__ = ["create_execution_app"]
