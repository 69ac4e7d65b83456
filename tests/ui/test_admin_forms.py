"""The admin forms in plain code: masked values never fill a field, and a connection's
extra saved with `***` members keeps the stored ones."""

from __future__ import annotations

import json

import pytest

from airflow_sc.ui.admin_forms import (
    connection_fields,
    merge_masked_extra,
    read_submitted,
    variable_fields,
)


def test_a_masked_variable_value_is_not_put_in_the_form() -> None:
    hidden = {f.name: f for f in variable_fields({"key": "db_password", "value": "***"})}
    assert hidden["value"].value == ""
    assert "leave empty to keep" in hidden["value"].hint
    assert hidden["key"].readonly
    shown = {f.name: f for f in variable_fields({"key": "greeting", "value": "hello"})}
    assert shown["value"].value == "hello"
    assert shown["value"].hint == ""


def test_a_connections_password_is_never_in_the_form() -> None:
    fields = {f.name: f for f in connection_fields({"connection_id": "c", "password": "***"})}
    assert fields["password"].value == ""
    assert fields["password"].kind == "password"
    assert "leave empty to keep" in fields["password"].hint


def test_a_submitted_form_keeps_what_was_typed_but_the_password() -> None:
    submitted = read_submitted(
        connection_fields(None),
        {"connection_id": ["c"], "password": ["typed-secret"], "port": ["80"]},
    )
    assert submitted.get("password") == "typed-secret"
    refilled = {f.name: f.value for f in submitted.fields}
    assert refilled["password"] == ""
    assert refilled["port"] == "80"


def test_masked_extra_members_keep_their_stored_values() -> None:
    stored = json.dumps({"api_key": "k", "nested": {"token": "t", "x": 1}, "gone": "g"})
    submitted = json.dumps({"api_key": "***", "nested": {"token": "***", "x": 2}, "new": "***"})
    assert json.loads(merge_masked_extra(submitted, stored)) == {
        "api_key": "k",
        "nested": {"token": "t", "x": 2},
        "new": "***",  # nothing stored under that name: kept as typed
    }
    with pytest.raises(ValueError, match="JSON object"):
        merge_masked_extra("[1]", stored)
