"""DAG params: defaults, schema validation at trigger time, and the stored form."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_sc.sdk.params import NOTSET, Param, ParamsDict, ParamValidationError


def test_defaults_are_the_values_when_no_conf_is_given() -> None:
    params = ParamsDict({"n": Param(5, type="integer"), "label": "plain value"})
    assert params["n"] == 5
    assert params["label"] == "plain value"
    assert isinstance(params.get_param("label"), Param)
    assert params.validate() == {"n": 5, "label": "plain value"}


def test_conf_overrides_defaults_and_extra_keys_are_kept() -> None:
    params = ParamsDict({"n": Param(5, type="integer", minimum=0), "mode": "fast"})
    assert params.resolve({"n": 7, "extra": [1, 2]}) == {"n": 7, "mode": "fast", "extra": [1, 2]}
    # Resolving a run does not change the DAG's defaults.
    assert params["n"] == 5


@pytest.mark.parametrize(
    ("param", "value", "reason"),
    [
        (Param(5, type="integer"), "five", "'five' is not of type 'integer'"),
        (Param(5, type="integer", minimum=0), -1, "less than the minimum of 0"),
        (Param("a", enum=["a", "b"]), "c", "'c' is not one of"),
        (Param("x", type="string", maxLength=3), "long", "too long"),
        (Param("2024-01-01", type="string", format="date"), "2024-13-01", "is not a 'date'"),
        (Param(None, type=["null", "string"], format="date-time"), "yesterday", "'date-time'"),
        (Param("x@example.com", type="string", format="email"), "nobody", "is not a 'email'"),
    ],
)
def test_a_bad_value_is_refused_naming_the_param_and_the_reason(
    param: Param, value: object, reason: str
) -> None:
    params = ParamsDict({"p": param})
    with pytest.raises(ParamValidationError, match="param 'p'") as caught:
        params.resolve({"p": value})
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_formats_accept_well_formed_values() -> None:
    params = ParamsDict(
        {
            "when": Param("2024-05-01T10:00:00+00:00", type="string", format="date-time"),
            "day": Param("2024-05-01", type="string", format="date"),
            "at": Param("10:30:00", type="string", format="time"),
        }
    )
    assert params.validate()["day"] == "2024-05-01"


def test_a_param_without_default_is_required_at_trigger_time() -> None:
    params = ParamsDict({"target": Param(type="string", description="where to write")})
    with pytest.raises(ParamValidationError, match="param 'target': no value passed"):
        params.resolve({})
    assert params.resolve({"target": "s3://bucket"}) == {"target": "s3://bucket"}


def test_a_nullable_param_without_default_resolves_to_none() -> None:
    params = ParamsDict({"limit": Param(type=["null", "integer"])})
    assert params.resolve() == {"limit": None}


def test_a_default_of_none_must_match_the_schema() -> None:
    with pytest.raises(ParamValidationError, match="None is not of type 'string'"):
        ParamsDict({"s": Param(None, type="string")}).validate()


def test_setting_a_value_validates_it_against_the_existing_schema() -> None:
    params = ParamsDict({"n": Param(1, type="integer")})
    params["n"] = 2
    assert params["n"] == 2
    with pytest.raises(ParamValidationError, match="param 'n'"):
        params["n"] = "two"
    assert params["n"] == 2


def test_values_must_be_json_serializable() -> None:
    with pytest.raises(ParamValidationError, match="not JSON-serializable"):
        Param(dt.datetime(2024, 1, 1))
    with pytest.raises(ParamValidationError, match="param 'when'"):
        ParamsDict({"n": 1}).resolve({"when": object()})


def test_an_invalid_schema_is_refused_when_the_dag_is_written() -> None:
    with pytest.raises(ParamValidationError, match="Invalid param schema"):
        Param(1, type="integr")


def test_dump_is_json_and_load_rebuilds_the_same_params() -> None:
    params = ParamsDict(
        {
            "n": Param(5, description="how many", type="integer", minimum=1),
            "required": Param(type="string"),
            "plain": [1, "two"],
        }
    )
    dumped = json.loads(json.dumps(params.dump()))
    assert dumped["n"] == {
        "default": 5,
        "description": "how many",
        "schema": {"type": "integer", "minimum": 1},
    }
    assert "default" not in dumped["required"]
    rebuilt = ParamsDict.load(dumped)
    assert rebuilt == params
    assert rebuilt.get_param("required").value is NOTSET
    with pytest.raises(ParamValidationError, match="param 'n'"):
        rebuilt.resolve({"n": 0, "required": "x"})


def test_copies_are_independent() -> None:
    params = ParamsDict({"n": Param(1, type="integer")})
    clone = params.copy()
    clone["n"] = 3
    assert params["n"] == 1
    assert len(clone) == 1
    assert list(clone) == ["n"]
    del clone["n"]
    assert "n" in params
