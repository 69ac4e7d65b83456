"""The workload benchmarks of WORKLOADS.md (W1, W2, W3, W1a, W2a) against a real server.

Each run writes the workload's DAG files into a fresh AIRFLOW_SC_HOME, starts
`airflow-sc run` on a fresh database (SQLite file or throwaway PostgreSQL database),
waits until every DAG is parsed, unpauses them and triggers one run of each at once
through the REST API, waits until every run is finished, then reads start and end times
from the database and the CPU and memory of the whole process tree from the kernel.
Run it with `python -m benchmarks.workloads --help`.
"""
