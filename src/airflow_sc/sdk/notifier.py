"""`BaseNotifier`: a callback object that sends a notification, as Airflow's notifiers.

A notifier is accepted wherever a callback is (``on_failure_callback=``,
``on_success_callback=``, ``on_retry_callback=`` of a task or a DAG...): calling it with the
context renders its ``template_fields`` against that context, then calls `notify`.

    class ChatNotifier(BaseNotifier):
        template_fields = ("message",)

        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

        def notify(self, context: Context) -> None:
            post_to_chat(self.message)

    PythonOperator(..., on_failure_callback=ChatNotifier("{{ ti.task_id }} failed"))
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = ["BaseNotifier"]


class BaseNotifier:
    """Subclasses implement `notify(context)`; `template_fields` are rendered first."""

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs

    @property
    def log(self) -> logging.Logger:
        cls = type(self)
        return logging.getLogger(f"airflow.task.notifiers.{cls.__module__}.{cls.__qualname__}")

    def render_template_fields(self, context: Mapping[str, Any], jinja_env: Any = None) -> None:
        """Render, in place, the attributes named in `template_fields`."""
        from .templating import make_environment, render_template_fields

        if jinja_env is None:
            dag = context.get("dag")
            get_env = getattr(dag, "get_template_env", None)
            jinja_env = get_env() if callable(get_env) else make_environment()
        render_template_fields(self, context, jinja_env)

    def notify(self, context: Mapping[str, Any]) -> None:
        """Send the notification."""
        raise NotImplementedError(f"{type(self).__name__} must implement notify()")

    def __call__(self, *args: Any) -> None:
        """Called as a callback: ``notifier(context)``."""
        if len(args) != 1 or not isinstance(args[0], Mapping):
            raise TypeError(f"{type(self).__name__} is called with one context mapping")
        context = args[0]
        # Render on a copy: the same notifier object serves every try and run.
        rendered = copy.copy(self)
        rendered.render_template_fields(context)
        rendered.notify(context)
