"""The standard operators (Airflow's ``providers.standard`` set)."""
