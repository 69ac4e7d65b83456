"""Which OS user a try runs as: Airflow's rule, and a dedicated user under root."""

from __future__ import annotations

import pytest

from airflow_sc.config import Settings
from airflow_sc.impersonation import Impersonation, task_user

ROOT = 0
USER = 1000


def test_run_as_user_wins_over_every_setting() -> None:
    settings = Impersonation(default_user="etl", root_user="airflow-sc-task")
    assert task_user("alice", settings, server_uid=ROOT) == "alice"
    assert task_user("alice", settings, server_uid=USER) == "alice"


def test_default_impersonation_applies_to_tasks_without_run_as_user() -> None:
    settings = Impersonation(default_user="etl", root_user="airflow-sc-task")
    assert task_user(None, settings, server_uid=ROOT) == "etl"
    assert task_user("", settings, server_uid=USER) == "etl"


def test_under_root_tasks_nobody_asked_for_run_as_the_dedicated_user() -> None:
    settings = Impersonation(root_user="airflow-sc-task")
    assert task_user(None, settings, server_uid=ROOT) == "airflow-sc-task"


def test_a_server_not_running_as_root_runs_unasked_tasks_as_itself() -> None:
    assert task_user(None, Impersonation(root_user="airflow-sc-task"), server_uid=USER) is None


def test_an_empty_root_impersonation_keeps_unasked_tasks_on_root() -> None:
    assert task_user(None, Impersonation(root_user=""), server_uid=ROOT) is None


def test_the_settings_default_to_a_dedicated_user_and_no_default_impersonation() -> None:
    core = Settings().core
    assert core.default_impersonation == ""
    assert core.root_impersonation == "airflow-sc-task"


@pytest.mark.parametrize(
    "settings",
    [Impersonation(), Impersonation("etl", "task-user", ("/srv/dags", "/srv/plugins"))],
)
def test_the_settings_travel_to_the_task_process_as_json(settings: Impersonation) -> None:
    assert Impersonation.from_json(settings.to_json()) == settings
    assert Impersonation.from_json(None) == Impersonation()
