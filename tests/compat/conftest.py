from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from airflow_sc.compat import finder


@pytest.fixture
def airflow_compat() -> Iterator[None]:
    """``import airflow...`` served by airflow-sc for the test, then forgotten."""
    assert finder.install(), "apache-airflow must not be installed in the test environment"
    try:
        yield
    finally:
        finder.uninstall()
        for name in [n for n in sys.modules if n.startswith("airflow_sc_dagfile_")]:
            del sys.modules[name]
