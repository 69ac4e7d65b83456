"""The pure rules behind the REST API's input checks and the rendering of stored values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_sc.domain.json_values import (
    RENDER_DEPTH_LIMIT,
    TOO_DEEP_NOTE,
    document_problem,
    renderable,
    text_problem,
)
from airflow_sc.domain.run_ids import run_id_problem

DEFAULT = r"^[A-Za-z0-9_.~:+-]+$"


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_text_problems() -> None:
    assert text_problem("plain ünïcode 🙂") is None
    assert text_problem("a\x00") == "contains a NUL character"
    assert text_problem("\ud83d") == "contains an unpaired surrogate (not valid Unicode text)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, "two", {"b": None}]}, None),
        (nested(3), None),
        (nested(4), "body[0][0][0]: nested deeper than 3 levels"),
        ({"k": ["ok", "no\x00"]}, "body.k[1]: contains a NUL character"),
        (
            {"\udfff": 1},
            "body: key '\\udfff' contains an unpaired surrogate (not valid Unicode text)",
        ),
        ({"x": float("nan")}, "body.x: NaN and Infinity are not JSON numbers"),
        ([float("-inf")], "body[0]: NaN and Infinity are not JSON numbers"),
    ],
)
def test_document_problems(value: Any, problem: str | None) -> None:
    assert document_problem(value, max_depth=3) == problem


def test_renderable_keeps_what_serializes_and_repairs_the_rest() -> None:
    fine = {"a": [1, 2.5, None, True, "ü"]}
    assert renderable(fine) == fine
    assert renderable({"k\udc00": "v\ud800"}) == {"k\ufffd": "v\ufffd"}
    shown = renderable(nested(RENDER_DEPTH_LIMIT + 50))
    text = json.dumps(shown)
    assert text.count("[") == RENDER_DEPTH_LIMIT
    assert TOO_DEEP_NOTE in text
    assert renderable(nested(RENDER_DEPTH_LIMIT)) == nested(RENDER_DEPTH_LIMIT)


@pytest.mark.parametrize(
    ("run_id", "pattern", "accepted"),
    [
        ("nightly-2026.01_a:b+c~d", DEFAULT, True),
        ("manual__2026-01-02T03:04:05.123456+00:00", DEFAULT, True),
        ("r" * 250, DEFAULT, True),
        ("r" * 251, DEFAULT, False),
        ("a b", DEFAULT, False),
        ("a/b", DEFAULT, False),
        ("ok\n", DEFAULT, False),  # re.match's `$` accepts a trailing newline; we do not
        ("ok\x00", ".*", False),
        ("anything goes", ".*", True),
        ("scheduled__2026-01-02T03:04:05+00:00", "^team_", True),  # generated form
        ("nightly", "^team_", False),
        ("nightly", "", False),
    ],
)
def test_run_ids(run_id: str, pattern: str, accepted: bool) -> None:
    assert (run_id_problem(run_id, pattern) is None) is accepted
