"""`airflow-sc dags test DAG_ID [LOGICAL_DATE] [--conf JSON] [--dags-folder PATH]`.

Runs one DAG run of DAG_ID in this process, task by task, without a database or a
scheduler: the DAG files are imported here, on purpose, so that a debugger or a print in
task code works. Variables and connections come from ``AIRFLOW_SC_VAR_*`` /
``AIRFLOW_SC_CONN_*`` (and Airflow's ``AIRFLOW_VAR_*`` / ``AIRFLOW_CONN_*``) environment
variables. Exit code 0 when the run succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import logging
import os
import sys
import zoneinfo
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_sc.compat import install_airflow_compat
from airflow_sc.config import Settings
from airflow_sc.observability.logging import FORMAT
from airflow_sc.scheduler.dag_test import manual_run_info, run_dag_test
from airflow_sc.sdk.params import ParamValidationError
from airflow_sc.secrets.chain import SecretsSettings
from airflow_sc.secrets.environment import CONNECTION_PREFIXES, VARIABLE_PREFIXES
from airflow_sc.secrets.masking import SecretsMasker, SecretsMaskingFilter
from airflow_sc.task_runner.dag_files import DagFiles, load_dag_files

__all__ = ["EnvironmentNames", "dags_test", "register", "register_test"]


def register(commands: Any) -> None:
    """Add the ``dags`` command group with its ``test`` action."""
    parser = commands.add_parser("dags", help="work with DAGs")
    actions = parser.add_subparsers(dest="dags_command", metavar="ACTION", required=True)
    register_test(actions)


def register_test(actions: Any) -> None:
    """Add ``test`` to an existing ``dags`` action group."""
    parser = actions.add_parser(
        "test",
        help="run one DAG run in this process, task by task (for debugging DAG code)",
    )
    parser.add_argument("dag_id", metavar="DAG_ID")
    parser.add_argument(
        "logical_date",
        metavar="LOGICAL_DATE",
        nargs="?",
        help="ISO date or datetime of the run (default: now); naive means core.default_timezone",
    )
    parser.add_argument("--conf", "-c", help="the run's conf, a JSON object")
    parser.add_argument(
        "--dags-folder",
        type=Path,
        help="folder (or file) to load DAGs from (default: core.dags_folder)",
    )
    parser.set_defaults(handler=dags_test)


class EnvironmentNames(Mapping[str, str]):
    """Values of environment variables with one of `prefixes`, looked up by upper-cased id.

    Earlier prefixes win, like the environment secrets backend.
    """

    def __init__(self, environ: Mapping[str, str], prefixes: tuple[str, ...]) -> None:
        self._values: dict[str, str] = {}
        for prefix in reversed(prefixes):
            for name, value in environ.items():
                if name.startswith(prefix) and len(name) > len(prefix):
                    self._values[name[len(prefix) :]] = value

    def __getitem__(self, key: str) -> str:
        return self._values[key.upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _fail(message: str) -> int:
    print(f"airflow-sc: {message}", file=sys.stderr)
    return 1


def _parse_logical_date(text: str | None, default_timezone: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"LOGICAL_DATE {text!r} is not an ISO date or datetime") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(default_timezone))
    return value


def _parse_conf(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise ValueError(f"--conf must be a JSON object, got {text!r}")
    return conf


def _describe_missing(dag_id: str, folder: Path, found: DagFiles) -> str:
    lines = [f"DAG {dag_id!r} not found in {folder}"]
    close = difflib.get_close_matches(dag_id, list(found.dags), n=5, cutoff=0.5)
    if close:
        lines.append(f"Did you mean: {', '.join(close)}?")
    elif found.dags:
        lines.append(f"DAGs found: {', '.join(sorted(found.dags))}")
    if found.errors:
        lines.append("These files failed to load (the DAG may be defined in one of them):")
        for path, error in found.errors.items():
            lines.append(f"  {path}:")
            lines.extend(f"    {line}" for line in error.rstrip().splitlines())
    return "\n".join(lines)


def _configure_logging(level: str) -> None:
    # Only when nothing configured logging yet (a test runner, an embedding program).
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr)


@contextmanager
def _masked_logging(masker: SecretsMasker) -> Iterator[None]:
    """The secrets tasks read are masked in what every root handler writes, meanwhile."""
    masking = SecretsMaskingFilter(masker)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(masking)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(masking)


def dags_test(args: argparse.Namespace, settings: Settings) -> int:
    folder: Path = args.dags_folder or settings.dags_folder
    try:
        logical_date = _parse_logical_date(args.logical_date, settings.core.default_timezone)
        conf = _parse_conf(args.conf)
    except ValueError as exc:
        return _fail(str(exc))
    if not folder.exists():
        return _fail(f"the DAGs folder {folder} does not exist")
    _configure_logging(settings.logging.level)
    install_airflow_compat(settings)
    found = load_dag_files(folder)
    dag = found.dags.get(args.dag_id)
    if dag is None:
        return _fail(_describe_missing(args.dag_id, folder, found))
    try:
        dag.params.resolve(conf)
    except ParamValidationError as exc:
        return _fail(f"--conf does not match the params of DAG {dag.dag_id!r}: {exc}")
    run = manual_run_info(dag, logical_date=logical_date, now=dt.datetime.now(dt.UTC), conf=conf)
    print(f"Testing DAG {dag.dag_id!r} from {found.paths[dag.dag_id]}, run {run.run_id}")
    masker = SecretsSettings.from_section(settings.secrets).masker()
    with _masked_logging(masker):
        result = run_dag_test(
            dag,
            run,
            variables=EnvironmentNames(os.environ, VARIABLE_PREFIXES),
            connections=EnvironmentNames(os.environ, CONNECTION_PREFIXES),
            out=lambda line: print(line, flush=True),
            masker=masker,
        )
    print(f"DAG run {run.run_id}: {result.state.value}")
    return 0 if result.succeeded else 1
