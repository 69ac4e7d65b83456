"""Jinja rendering of task fields, with Airflow's environment, filters and file templates.

Templates run in Jinja's sandbox (no ``_``-prefixed attributes, so ``''.__class__`` escapes
fail) with `StrictUndefined`, Airflow's default: a misspelt name is an error, not an empty
string. A string field ending in one of the task's ``template_ext`` is a file name, loaded
from the search path (the DAG folder, then ``template_searchpath``) and rendered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jinja2
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate, native_concat
from jinja2.sandbox import SandboxedEnvironment

from .literal import LiteralValue, literal

__all__ = [
    "FILTERS",
    "LiteralValue",
    "literal",
    "make_environment",
    "render_template",
    "render_template_fields",
]


def _ds(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _ds_nodash(value: dt.datetime) -> str:
    return value.strftime("%Y%m%d")


def _ts(value: dt.datetime) -> str:
    return value.isoformat()


def _ts_nodash(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _ts_nodash_with_tz(value: dt.datetime) -> str:
    return value.isoformat().replace("-", "").replace(":", "")


#: Airflow's date filters: ``{{ data_interval_end | ds }}``.
FILTERS: Mapping[str, Callable[[dt.datetime], str]] = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}


def _strict_native_concat(values: Any) -> Any:
    result = native_concat(values)
    # A lone undefined (or unsafe) value would otherwise come back as an object, silently.
    if isinstance(result, jinja2.Undefined):
        result._fail_with_undefined_error()
    return result


class _SandboxedNativeEnvironment(SandboxedEnvironment):
    """The sandbox, rendering ``{{ [1, 2] }}`` to a list rather than the string "[1, 2]"."""

    code_generator_class = NativeCodeGenerator
    concat = staticmethod(_strict_native_concat)


class _SandboxedNativeTemplate(NativeTemplate):
    # NativeTemplate.render applies its environment class's concat.
    environment_class = _SandboxedNativeEnvironment  # type: ignore[assignment]


_SandboxedNativeEnvironment.template_class = _SandboxedNativeTemplate


def make_environment(
    *,
    searchpath: Sequence[str] = (),
    user_defined_macros: Mapping[str, Any] | None = None,
    user_defined_filters: Mapping[str, Callable[..., Any]] | None = None,
    native: bool = False,
    undefined: type[jinja2.Undefined] | None = None,
    options: Mapping[str, Any] | None = None,
) -> SandboxedEnvironment:
    """The Jinja environment of one DAG (``render_template_as_native_obj`` is `native`,
    ``template_undefined`` is `undefined`, ``jinja_environment_kwargs`` are `options`)."""
    cls = _SandboxedNativeEnvironment if native else SandboxedEnvironment
    settings: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(list(searchpath)),
        "undefined": undefined or jinja2.StrictUndefined,
        "extensions": ["jinja2.ext.do"],
        # DAG files and templates change while the process lives; never serve a stale one.
        "cache_size": 0,
    }
    settings.update(options or {})
    environment = cls(**settings)
    environment.filters.update(FILTERS)
    if user_defined_filters:
        environment.filters.update(user_defined_filters)
    if user_defined_macros:
        environment.globals.update(user_defined_macros)
    return environment


def render_template(
    value: Any,
    context: Mapping[str, Any],
    environment: SandboxedEnvironment,
    *,
    template_ext: Sequence[str] = (),
) -> Any:
    """`value` with every string in it rendered; containers are rebuilt, not mutated.

    A string ending in one of `template_ext` is loaded through the environment's loader.
    Objects with their own ``template_fields`` have those rendered in place.
    """
    return _render(value, context, environment, tuple(template_ext), set())


def _render(
    value: Any,
    context: Mapping[str, Any],
    environment: SandboxedEnvironment,
    template_ext: tuple[str, ...],
    seen: set[int],
) -> Any:
    if isinstance(value, LiteralValue):
        return value.value
    if isinstance(value, str):
        if template_ext and value.endswith(template_ext):
            template = environment.get_template(value)
        else:
            template = environment.from_string(value)
        return template.render(context)
    if isinstance(value, tuple):
        items = [_render(v, context, environment, template_ext, seen) for v in value]
        if hasattr(value, "_fields"):  # a namedtuple keeps its type
            return type(value)(*items)
        return tuple(items)
    if isinstance(value, list):
        return [_render(v, context, environment, template_ext, seen) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, context, environment, template_ext, seen) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return type(value)(_render(v, context, environment, template_ext, seen) for v in value)
    fields = getattr(value, "template_fields", None)
    if fields and not isinstance(value, type) and id(value) not in seen:
        seen.add(id(value))
        _render_fields(value, fields, context, environment, template_ext, seen)
    return value


def _render_fields(
    obj: Any,
    fields: Sequence[str],
    context: Mapping[str, Any],
    environment: SandboxedEnvironment,
    template_ext: tuple[str, ...],
    seen: set[int],
) -> None:
    for name in fields:
        current = getattr(obj, name)
        if not current:
            continue
        try:
            rendered = _render(current, context, environment, template_ext, seen)
        except Exception as exc:
            owner = getattr(obj, "task_id", type(obj).__name__)
            exc.add_note(f"while rendering template field {name!r} of {owner!r}")
            raise
        setattr(obj, name, rendered)


def render_template_fields(
    task: Any, context: Mapping[str, Any], environment: SandboxedEnvironment
) -> None:
    """Render, in place, every attribute of `task` named in ``task.template_fields``."""
    template_ext = tuple(getattr(task, "template_ext", ()) or ())
    fields = tuple(getattr(task, "template_fields", ()) or ())
    _render_fields(task, fields, context, environment, template_ext, {id(task)})
