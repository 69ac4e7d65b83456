"""docs/architecture.md agrees with the code: the layer map with the import-linter
contract (which names every package), the transition table with the domain's."""

from __future__ import annotations

import tomllib
from pathlib import Path

import airflow_sc

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(airflow_sc.__file__).parent
#: Not layers: the package's own entry points and version.
NOT_LAYERS = {"__init__", "__main__", "_version"}


def packages() -> set[str]:
    """Every package and top-level module of airflow_sc."""
    found = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    found |= {p.stem for p in PACKAGE.glob("*.py")}
    return found - NOT_LAYERS


def contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [
        c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"
    ]
    return [
        {name.strip().removeprefix("airflow_sc.") for name in layer.split("|")} for layer in layers
    ]


def documented_layers() -> list[set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)[1].split("```", 2)[1]
    rows = [line.split("  ")[0].strip() for line in section.strip().splitlines()]
    return [{name.strip() for name in row.split("|")} for row in rows if row]


def test_the_contract_names_every_package_once() -> None:
    layers = contract_layers()
    named = [name for layer in layers for name in layer]
    assert len(named) == len(set(named))
    assert set(named) == packages()


def test_the_documented_map_is_the_contract() -> None:
    assert documented_layers() == contract_layers()


def test_the_documented_transition_table_is_the_domains() -> None:
    from airflow_sc.domain.states import FINISHED, UNFINISHED
    from airflow_sc.domain.transitions import TI_TRANSITION_RULES

    every = FINISHED | UNFINISHED
    named = {
        "any": every,
        "any unfinished": UNFINISHED,
        "any but queued, running": every - {"queued", "running"},
    }

    def states(cell: str) -> frozenset[object]:
        cell = cell.strip()
        if cell in named:
            return frozenset(named[cell])
        return frozenset(None if s == "none" else s for s in cell.split(", "))

    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("### One owner per transition", 1)[1].splitlines()
    start = next(i for i, line in enumerate(section) if line.startswith("| "))
    end = next(i for i, line in enumerate(section[start:], start) if not line.startswith("|"))
    rows = [line for line in section[start:end] if "---" not in line]
    documented = {
        (owner.strip(), states(old), states(new))
        for owner, old, new, _ in (row.strip("|").split("|") for row in rows[1:])
    }
    assert documented == {
        (rule.actor.value, frozenset(rule.old), frozenset(rule.new)) for rule in TI_TRANSITION_RULES
    }
