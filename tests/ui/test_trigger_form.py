"""The trigger form's fields from params, and a submitted form read back, in plain code."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_sc.sdk import Param
from airflow_sc.secrets import SecretsMasker
from airflow_sc.ui.trigger_form import form_fields, read_trigger_form

PARAMS = {
    "count": Param(5, type="integer", minimum=1).dump(),
    "ratio": Param(0.5, type="number").dump(),
    "mode": Param("fast", enum=["fast", "slow"]).dump(),
    "dry_run": Param(False, type="boolean").dump(),
    "tables": Param(["a"], type="array").dump(),
    "owner": Param(type="string", description="Who asks").dump(),
    "api_token": Param("s3cr3t", type="string").dump(),
}


def test_fields_are_typed_by_schema_and_secrets_are_not_prefilled() -> None:
    fields = {f.name: f for f in form_fields(PARAMS, SecretsMasker())}
    assert {n: f.kind for n, f in fields.items()} == {
        "count": "integer",
        "ratio": "number",
        "mode": "select",
        "dry_run": "boolean",
        "tables": "json",
        "owner": "text",
        "api_token": "text",
    }
    assert fields["count"].value == "5"
    assert fields["tables"].value == '["a"]'
    assert fields["mode"].options == ("fast", "slow")
    assert fields["owner"].required
    assert fields["owner"].description == "Who asks"
    assert fields["api_token"].value == ""
    assert fields["api_token"].hidden_default


def form(**values: str) -> dict[str, list[str]]:
    out = {f"param.{k}": [v] for k, v in values.items() if k in PARAMS}
    out.update({k: [v] for k, v in values.items() if k not in PARAMS})
    return out


def test_a_good_form_becomes_the_conf() -> None:
    wanted = read_trigger_form(
        PARAMS,
        form(
            count="7",
            ratio="2",
            mode="slow",
            dry_run="true",
            tables='["x", "y"]',
            owner="ann",
            api_token="",
            conf='{"extra": 1, "count": 99}',
            logical_date="2026-02-03T04:05",
            run_id="my_run",
        ),
    )
    assert wanted.errors == {}
    assert wanted.conf == {
        "extra": 1,
        "count": 7,
        "ratio": 2,
        "mode": "slow",
        "dry_run": True,
        "tables": ["x", "y"],
        "owner": "ann",
    }
    assert wanted.logical_date == datetime(2026, 2, 3, 4, 5, tzinfo=UTC)
    assert wanted.run_id == "my_run"


def test_errors_are_reported_by_field() -> None:
    wanted = read_trigger_form(
        PARAMS,
        form(count="0", ratio="x", tables="[", owner="", conf="[1]", logical_date="soon"),
    )
    assert set(wanted.errors) == {"count", "ratio", "tables", "owner", "conf", "logical_date"}
    assert "minimum" in wanted.errors["count"] or "less than" in wanted.errors["count"]
    assert wanted.errors["ratio"] == "must be a number"
    assert wanted.errors["tables"] == "must be JSON"
    assert "no value passed" in wanted.errors["owner"]
    assert wanted.errors["conf"] == "must be a JSON object"


def test_a_param_may_come_from_the_conf_box_when_its_field_is_empty() -> None:
    wanted = read_trigger_form(PARAMS, form(owner="", conf='{"owner": "bob"}'))
    assert wanted.errors == {}
    assert wanted.conf["owner"] == "bob"
