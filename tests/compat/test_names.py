"""The Airflow names airflow-sc serves are exactly the pinned list, and each one works."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from airflow_sc.compat import finder, names

PINNED = Path(__file__).with_name("supported_names.txt")
DOC = Path(__file__).parents[2] / "docs" / "dag-authoring.md"


def test_supported_names_are_the_pinned_list() -> None:
    pinned = PINNED.read_text().split()
    assert names.supported_names() == pinned


def test_every_supported_name_resolves_to_an_airflow_sc_object() -> None:
    broken = []
    for module in sorted(names.all_modules()):
        for name, target in names.names_of(module).items():
            try:
                finder.resolve(target)
            except Exception as exc:
                broken.append(f"{module}.{name} -> {target}: {exc!r}")
    assert broken == []


@pytest.mark.usefixtures("airflow_compat")
def test_every_supported_name_imports_through_the_hook() -> None:
    for dotted in PINNED.read_text().split():
        module_name, _, name = dotted.rpartition(".")
        module = importlib.import_module(module_name)
        assert getattr(module, name) is finder.resolve(names.names_of(module_name)[name])


def test_the_authoring_guide_lists_every_supported_module_and_name() -> None:
    text = DOC.read_text()
    missing = [
        f"{module}.{name}"
        for module in names.all_modules()
        for name in names.names_of(module)
        if f"`{module}`" not in text or name not in text
    ]
    assert missing == []


def test_airflow_sc_sdk_has_the_names_of_airflow_sdk() -> None:
    import airflow_sc.sdk as sdk

    different = [
        name
        for name, target in names.MODULES["airflow.sdk"].items()
        if name != "TaskInstance" and getattr(sdk, name, None) is not finder.resolve(target)
    ]
    assert different == []
