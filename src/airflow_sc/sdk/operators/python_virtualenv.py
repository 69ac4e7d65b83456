"""Python callables run by another interpreter: a virtualenv built for the task, or one
that already exists.

`PythonVirtualenvOperator` (``@task.virtualenv``) runs the callable in an environment built
from `requirements` (cached, see `airflow_sc.sdk.virtualenvs`); `ExternalPythonOperator`
(``@task.external_python``) runs it with the interpreter `python` names. The branch
variants follow the task id(s) the callable returns.

As in Airflow, the callable's source code is what runs: it must be self-contained (its
imports inside the function) and is written, with its arguments serialized (``pickle`` by
default, or ``dill`` / ``cloudpickle`` when `serializer` says so and the environment has
them), to a script the other interpreter executes in a child process of the task. Its
return value comes back the same way. Context values the callable names among the
serializable ones (``ds``, ``ts``, ``run_id``, ``params``, dates as ``datetime``\\ s...) are
passed to it. Output is logged line by line; an exit code in `skip_on_exit_code` skips the
task.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import os
import pickle
import signal
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Collection, Container, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from airflow_sc.sdk.exceptions import AirflowException, AirflowSkipException
from airflow_sc.sdk.ignored_arguments import OPERATOR_ARGUMENTS, warn_ignored
from airflow_sc.sdk.operators.python import PythonOperator, callable_kwargs
from airflow_sc.sdk.skipping import SkipDecision, branch_decision
from airflow_sc.sdk.virtualenvs import VirtualenvSpec, ensure_virtualenv, python_for_version

__all__ = [
    "BranchExternalPythonOperator",
    "BranchPythonVirtualenvOperator",
    "ExternalPythonOperator",
    "PythonVirtualenvOperator",
]

_SERIALIZERS = ("pickle", "dill", "cloudpickle")
#: Context keys the other interpreter receives when the callable names them.
_SERIALIZABLE_KEYS = frozenset(
    {
        "ds",
        "ds_nodash",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "run_id",
        "task_instance_key_str",
        "templates_dict",
        "params",
        "map_index",
        "try_number",
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "start_date",
        "prev_data_interval_start_success",
        "prev_data_interval_end_success",
        "prev_start_date_success",
        "prev_end_date_success",
    }
)

# The script the other interpreter runs: argv = [input file, output file, string args file].
# Annotations stay unevaluated: the callable's type hints may name what only its file imports.
_SCRIPT = """\
from __future__ import annotations

import sys
import {serializer} as _serializer

{source}

with open(sys.argv[3]) as _handle:
    virtualenv_string_args = _handle.read().splitlines()
with open(sys.argv[1], "rb") as _handle:
    _arguments = _serializer.load(_handle)
_result = {name}(*_arguments["args"], **_arguments["kwargs"])
with open(sys.argv[2], "wb") as _handle:
    _serializer.dump(_result, _handle)
"""


def callable_source(function: Callable[..., Any]) -> str:
    """The function's source, dedented, without its decorators (``@task.virtualenv``...)."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise AirflowException(
            f"the source of {function!r} is not available, so it cannot run in another "
            f"interpreter: {exc}"
        ) from None
    lines = source.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def "))),
        0,
    )
    body = "\n".join(lines[start:])
    if body.lstrip().startswith("async def"):
        raise AirflowException("an async def callable cannot run in another interpreter")
    return body + "\n"


def _plain(value: Any) -> Any:
    """Context values as types any interpreter can unpickle (pendulum -> datetime)."""
    if isinstance(value, dt.datetime):
        return dt.datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=dt.UTC if value.utcoffset() == dt.timedelta(0) else value.tzinfo,
        )
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


class _BasePythonInterpreterOperator(PythonOperator):
    """Serialize the call, run it in `python`, read the result back."""

    template_fields: ClassVar[Sequence[str]] = (*PythonOperator.template_fields, "env_vars")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        serializer: str | None = None,
        use_dill: bool = False,
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        string_args: Iterable[str] | None = None,
        templates_dict: Mapping[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        expect_airflow: bool = True,
        skip_on_exit_code: int | Container[int] | None = None,
        env_vars: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            templates_dict=templates_dict,
            templates_exts=templates_exts,
            **kwargs,
        )
        if inspect.iscoroutinefunction(python_callable):
            raise self._error("an async def callable cannot run in another interpreter")
        self.is_async = False
        chosen = serializer or ("dill" if use_dill else "pickle")
        if chosen not in _SERIALIZERS:
            raise self._error(f"serializer must be one of {', '.join(_SERIALIZERS)}: {chosen!r}")
        self.serializer = chosen
        self.string_args = list(string_args or [])
        self.expect_airflow = expect_airflow
        if skip_on_exit_code is None:
            self.skip_on_exit_code: Container[int] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = skip_on_exit_code
        self.env_vars = dict(env_vars) if env_vars is not None else None
        self.inherit_env = inherit_env
        self._process: subprocess.Popen[bytes] | None = None

    def _interpreter(self) -> str:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.inherit_env else {}
        env.update(self.env_vars or {})
        return env

    def _call_kwargs(self, context: Mapping[str, Any]) -> dict[str, Any]:
        serializable = {k: _plain(v) for k, v in context.items() if k in _SERIALIZABLE_KEYS}
        merged = {**serializable, "templates_dict": self.templates_dict, **self.op_kwargs}
        return callable_kwargs(self.python_callable, self.op_args, merged)

    def execute(self, context: Mapping[str, Any]) -> Any:
        python = self._interpreter()
        name = self.python_callable.__name__
        script = _SCRIPT.format(
            serializer=self.serializer, source=callable_source(self.python_callable), name=name
        )
        arguments = {"args": list(self.op_args), "kwargs": self._call_kwargs(context)}
        with tempfile.TemporaryDirectory(prefix="airflow-sc-python-") as folder:
            workdir = Path(folder)
            (workdir / "script.py").write_text(script)
            (workdir / "string_args.txt").write_text("\n".join(self.string_args))
            with open(workdir / "input.bin", "wb") as handle:
                self._dump(arguments, handle)
            self._run(python, workdir)
            with open(workdir / "output.bin", "rb") as handle:
                value = self._load(handle)
        return self._finish(value, context)

    def _serializer_module(self) -> Any:
        if self.serializer == "pickle":
            return pickle
        try:
            return __import__(self.serializer)
        except ImportError:
            raise AirflowException(
                f"serializer {self.serializer!r} is not installed where the task runs"
            ) from None

    def _dump(self, value: Any, handle: Any) -> None:
        self._serializer_module().dump(value, handle)

    def _load(self, handle: Any) -> Any:
        return self._serializer_module().load(handle)

    def _run(self, python: str, workdir: Path) -> None:
        argv = [
            python,
            str(workdir / "script.py"),
            str(workdir / "input.bin"),
            str(workdir / "output.bin"),
            str(workdir / "string_args.txt"),
        ]
        self.log.info("Running %s in %s", self.python_callable.__name__, python)
        with subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=self._environment(),
            start_new_session=True,
        ) as process:
            self._process = process
            assert process.stdout is not None
            for raw in process.stdout:
                self.log.info("%s", raw.decode("utf-8", errors="backslashreplace").rstrip("\n"))
            code = process.wait()
        self._process = None
        if code in self.skip_on_exit_code:
            raise AirflowSkipException(f"Process exited with code {code}. Skipping.")
        if code != 0:
            raise AirflowException(
                f"The callable {self.python_callable.__name__} failed in {python} "
                f"(exit code {code}); its traceback is in the log above"
            )

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)


class PythonVirtualenvOperator(_BasePythonInterpreterOperator):
    """Run the callable in a virtualenv built from `requirements` (cached between runs)."""

    template_fields: ClassVar[Sequence[str]] = (
        *_BasePythonInterpreterOperator.template_fields,
        "requirements",
    )
    template_ext: ClassVar[Sequence[str]] = (".txt",)

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        requirements: str | Iterable[str] | None = None,
        python_version: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: list[str] | None = None,
        index_urls: str | Iterable[str] | None = None,
        index_urls_from_connection_ids: str | Iterable[str] | None = None,
        venv_cache_path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        if isinstance(requirements, str):
            requirements = [requirements] if not requirements.endswith(".txt") else requirements
        self.requirements = (
            requirements if isinstance(requirements, str) else list(requirements or [])
        )
        self.python_version = python_version
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = [index_urls] if isinstance(index_urls, str) else list(index_urls or [])
        self.index_urls_from_connection_ids = index_urls_from_connection_ids
        if index_urls_from_connection_ids:
            key = "PythonVirtualenvOperator.index_urls_from_connection_ids"
            warn_ignored(key, OPERATOR_ARGUMENTS[key], self.definition_site)
        self.venv_cache_path = venv_cache_path

    def _requirements(self) -> list[str]:
        value = self.requirements
        # A string is a rendered requirements.txt.
        lines = value.splitlines() if isinstance(value, str) else [str(item) for item in value]
        wanted = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if self.serializer != "pickle" and self.serializer not in wanted:
            wanted.append(self.serializer)
        return wanted

    def _cache(self) -> Path:
        if self.venv_cache_path is not None:
            return Path(self.venv_cache_path)
        from airflow_sc.compat import installed_options

        configured = installed_options().venv_cache_path
        return Path(configured or Path(tempfile.gettempdir()) / "airflow-sc-venvs")

    def _interpreter(self) -> str:
        spec = VirtualenvSpec(
            python=python_for_version(self.python_version),
            requirements=tuple(self._requirements()),
            system_site_packages=self.system_site_packages,
            pip_install_options=tuple(self.pip_install_options),
            index_urls=tuple(self.index_urls),
        )
        return str(ensure_virtualenv(spec, self._cache(), lambda line: self.log.info("%s", line)))


class ExternalPythonOperator(_BasePythonInterpreterOperator):
    """Run the callable with the existing interpreter `python` (a path to its executable)."""

    template_fields: ClassVar[Sequence[str]] = (
        *_BasePythonInterpreterOperator.template_fields,
        "python",
    )

    def __init__(self, *, python: str, python_callable: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(python_callable=python_callable, **kwargs)
        if not python:
            raise self._error("python must be the path of a Python interpreter")
        self.python = python

    def _interpreter(self) -> str:
        if not os.path.exists(self.python):
            raise AirflowException(f"Python interpreter {self.python} does not exist")
        return self.python


class _BranchFinish:
    def _finish(self, value: Any, context: Mapping[str, Any]) -> SkipDecision:
        task: Any = self
        decision = branch_decision(task, value)
        task.log.info(
            "Following branch %s; skipping %s", sorted(decision.follow), sorted(decision.skip)
        )
        return decision


class BranchPythonVirtualenvOperator(_BranchFinish, PythonVirtualenvOperator):
    """`PythonVirtualenvOperator` whose callable returns the task id(s) to follow."""


class BranchExternalPythonOperator(_BranchFinish, ExternalPythonOperator):
    """`ExternalPythonOperator` whose callable returns the task id(s) to follow."""


class _VirtualenvDecoratedOperator(PythonVirtualenvOperator):
    custom_operator_name: ClassVar[str] = "@task.virtualenv"


class _BranchVirtualenvDecoratedOperator(BranchPythonVirtualenvOperator):
    custom_operator_name: ClassVar[str] = "@task.branch_virtualenv"


class _ExternalPythonDecoratedOperator(ExternalPythonOperator):
    custom_operator_name: ClassVar[str] = "@task.external_python"


class _BranchExternalPythonDecoratedOperator(BranchExternalPythonOperator):
    custom_operator_name: ClassVar[str] = "@task.branch_external_python"


#: What ``@task.virtualenv`` and its siblings build.
DECORATED: dict[str, type[_BasePythonInterpreterOperator]] = {
    "virtualenv": _VirtualenvDecoratedOperator,
    "branch_virtualenv": _BranchVirtualenvDecoratedOperator,
    "external_python": _ExternalPythonDecoratedOperator,
    "branch_external_python": _BranchExternalPythonDecoratedOperator,
}
