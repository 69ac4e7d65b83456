"""``airflow.configuration.conf``: Airflow's configuration, read-only, for DAG and task code.

``conf.get("core", "dags_folder")`` answers from, in order: Airflow's own environment
variables (``AIRFLOW__CORE__DAGS_FOLDER``), the airflow-sc settings that have an Airflow
name (`options.AIRFLOW_CONFIG_NAMES`), and the `fallback` argument. Anything else raises
`AirflowConfigException`, as Airflow does for an unknown option. Writing is refused:
airflow-sc is configured through its own settings.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow_sc.sdk.exceptions import AirflowConfigException

__all__ = ["AirflowConfigParser", "conf"]

_UNSET: Any = object()
_TRUE = frozenset({"true", "t", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "f", "0", "no", "n", "off"})


class AirflowConfigParser:
    """A read-only stand-in for Airflow's ``conf`` object."""

    def __init__(self, values: dict[tuple[str, str], str] | None = None) -> None:
        self._values = dict(values or {})

    def _settings_values(self) -> dict[tuple[str, str], str]:
        if self._values:
            return self._values
        from . import installed_options

        return dict(installed_options().airflow_config())

    def _lookup(self, section: str, key: str) -> str | None:
        env = f"AIRFLOW__{section.upper()}__{key.upper()}"
        if env in os.environ:
            return os.environ[env]
        return self._settings_values().get((section.lower(), key.lower()))

    def has_option(self, section: str, key: str) -> bool:
        return self._lookup(section, key) is not None

    def get(self, section: str, key: str, fallback: Any = _UNSET, **_: Any) -> Any:
        value = self._lookup(section, key)
        if value is not None:
            return value
        if fallback is not _UNSET:
            return fallback
        raise AirflowConfigException(
            f"section/key [{section}/{key}] not found in config (airflow-sc answers Airflow's "
            "environment variables and the settings that have an Airflow name)"
        )

    def getboolean(self, section: str, key: str, fallback: Any = _UNSET, **kw: Any) -> Any:
        value = self.get(section, key, fallback=fallback, **kw)
        if isinstance(value, bool) or value is fallback:
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise AirflowConfigException(
            f'Failed to convert value to bool. Please check "{key}" key in "{section}" '
            f'section. Current value: "{value}".'
        )

    def getint(self, section: str, key: str, fallback: Any = _UNSET, **kw: Any) -> Any:
        value = self.get(section, key, fallback=fallback, **kw)
        if value is fallback or value is None:
            return value
        try:
            return int(value)
        except ValueError:
            raise AirflowConfigException(
                f'Failed to convert value to int. Please check "{key}" key in "{section}" '
                f'section. Current value: "{value}".'
            ) from None

    def getfloat(self, section: str, key: str, fallback: Any = _UNSET, **kw: Any) -> Any:
        value = self.get(section, key, fallback=fallback, **kw)
        if value is fallback or value is None:
            return value
        try:
            return float(value)
        except ValueError:
            raise AirflowConfigException(
                f'Failed to convert value to float. Please check "{key}" key in "{section}" '
                f'section. Current value: "{value}".'
            ) from None

    def getjson(self, section: str, key: str, fallback: Any = _UNSET, **kw: Any) -> Any:
        value = self.get(section, key, fallback=fallback, **kw)
        if value is fallback or not isinstance(value, str):
            return value
        return json.loads(value) if value.strip() else fallback

    def getlist(
        self, section: str, key: str, delimiter: str = ",", fallback: Any = _UNSET, **kw: Any
    ) -> Any:
        value = self.get(section, key, fallback=fallback, **kw)
        if value is fallback or not isinstance(value, str):
            return value
        return [item.strip() for item in value.split(delimiter) if item.strip()]

    def set(self, section: str, key: str, value: Any) -> None:
        raise AirflowConfigException(
            "airflow-sc's conf is read-only: change the airflow-sc setting (or the "
            f"AIRFLOW__{section.upper()}__{key.upper()} environment variable) instead"
        )


conf = AirflowConfigParser()
