"""Base classes for extending airflow-sc, under Airflow 3's ``airflow.sdk.bases`` names."""

from .hook import BaseHook

__all__ = ["BaseHook"]
