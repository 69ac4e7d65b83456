"""DAG files -> serialized DAGs: parsing in isolated child processes, never in the scheduler."""
