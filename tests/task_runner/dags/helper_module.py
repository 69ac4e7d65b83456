"""Not a DAG file: no mention of the orchestrator, so it is never imported."""

raise RuntimeError("must not be imported")
