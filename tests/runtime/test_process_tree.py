"""The root task group in a real process: signals, drain deadline, a failing component."""

import signal
import sys
import time
from pathlib import Path

import pytest

from tests.processes import clean_env, running

pytestmark = pytest.mark.slow

TREE_APP = Path(__file__).with_name("tree_app.py")
BACKENDS = ["asyncio", "trio"]


def tree(mode: str, backend: str) -> list[str]:
    return [sys.executable, str(TREE_APP), mode, "--backend", backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_drains_and_exits_zero(tmp_path: Path, backend: str) -> None:
    env = clean_env(tmp_path, AIRFLOW_SC__CORE__SHUTDOWN_GRACE="20")
    with running(tree("stubborn", backend), env, tmp_path) as proc:
        proc.wait_ready()
        proc.send(signal.SIGTERM)
        proc.wait_for_line("stubborn: draining")
        # The stubborn component never finishes: a second signal must stop it at once.
        started = time.monotonic()
        proc.send(signal.SIGINT)
        assert proc.wait_exit(timeout=10) == 128 + signal.SIGINT
        assert time.monotonic() - started < 5
    assert "stubborn: cancelled" in proc.text
    assert "steady: stopped" in proc.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_drain_deadline_cancels_what_is_left(tmp_path: Path, backend: str) -> None:
    # The deadline: shutdown_grace + terminate_grace + the API's drain + DRAIN_MARGIN (5 s).
    env = clean_env(
        tmp_path,
        AIRFLOW_SC__CORE__SHUTDOWN_GRACE="0.5",
        AIRFLOW_SC__EXECUTOR__TERMINATE_GRACE="0",
        AIRFLOW_SC__API__DRAIN_TIMEOUT="0",
    )
    with running(tree("stubborn", backend), env, tmp_path) as proc:
        proc.wait_ready()
        proc.send(signal.SIGTERM)
        assert proc.wait_exit(timeout=15) == 0
    assert "did not finish within the shutdown grace period" in proc.text
    assert "stubborn: cancelled" in proc.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_failing_component_exits_nonzero_with_its_traceback(tmp_path: Path, backend: str) -> None:
    with running(tree("fail", backend), clean_env(tmp_path), tmp_path) as proc:
        assert proc.wait_exit() == 1
    text = proc.text
    assert "airflow-sc: component 'failing' failed:" in text
    assert "in explode" in text  # the original frame, not just the group
    assert "RuntimeError: boom from the failing component" in text
    assert "ExceptionGroup" not in text
    assert "steady: stopped" in text
