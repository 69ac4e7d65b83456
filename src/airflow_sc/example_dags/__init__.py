"""Example DAGs shipped with airflow-sc (loaded when `core.load_examples` is true).

Each is written in Airflow 3 style; only the import line differs from Airflow's.
"""
