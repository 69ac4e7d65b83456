"""Fixtures every test gets."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import airflow_sc.compat as compat
from airflow_sc.compat import OPTIONS_ENV, finder


@pytest.fixture(autouse=True)
def _airflow_compat_state_restored() -> Iterator[None]:
    """A command run in-process (`main(["dags", "test", ...])`) sets this process up to read
    Airflow DAG files: undo it after the test, so no other test sees its options."""
    environ = os.environ.get(OPTIONS_ENV)
    options = compat._installed
    was_installed = finder.installed()
    yield
    if environ is None:
        os.environ.pop(OPTIONS_ENV, None)
    else:
        os.environ[OPTIONS_ENV] = environ
    compat._installed = options
    if finder.installed() and not was_installed:
        finder.uninstall()
