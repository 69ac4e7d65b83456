"""Retry policies (``retry_policy=`` on a task): decide from the exception whether a failed
try is retried, as Airflow 3.3's ``airflow.sdk`` retry policies do.

A policy runs in the task's own process when a try fails (never in the scheduler), with
the exception, the try number and the task's ``max_tries``. Its `RetryDecision` can fail the
task at once (``FAIL``), ask for a retry (``RETRY``, still bounded by the task's
``retries``: a policy cannot add tries), or leave the usual rule to decide (``DEFAULT``).
``AirflowFailException`` always fails at once; the policy is not asked. A policy that raises
is logged and counts as ``DEFAULT``.

A decision's ``retry_delay`` (a retry's) replaces the task's rule (``retry_delay``,
exponential backoff, ``max_retry_delay``) for the next try: the try's finish carries it
and the scheduler holds the next try until that long after the failed one ended (capped
at one day, as every retry delay).
"""

from __future__ import annotations

import abc
import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any

__all__ = [
    "ExceptionRetryPolicy",
    "RetryAction",
    "RetryDecision",
    "RetryPolicy",
    "RetryRule",
]

log = logging.getLogger(__name__)


class RetryAction(Enum):
    """What a failed try leads to."""

    #: Retry, within the task's ``retries`` (once they are used up, as DEFAULT).
    RETRY = "retry"
    #: Fail now, without the remaining retries.
    FAIL = "fail"
    #: The task's usual rule: retried while its ``retries`` allow.
    DEFAULT = "default"


@dataclass(frozen=True)
class RetryDecision:
    """A policy's answer for one failed try."""

    action: RetryAction = RetryAction.DEFAULT
    #: The delay before the next try (None: the task's retry_delay rule).
    retry_delay: timedelta | None = None
    #: Why, for the try's log.
    reason: str | None = None

    @classmethod
    def fail(cls, reason: str | None = None) -> RetryDecision:
        return cls(action=RetryAction.FAIL, reason=reason)

    @classmethod
    def retry(cls, delay: timedelta | None = None, reason: str | None = None) -> RetryDecision:
        return cls(action=RetryAction.RETRY, retry_delay=delay, reason=reason)

    @classmethod
    def default(cls) -> RetryDecision:
        return cls(action=RetryAction.DEFAULT)


class RetryPolicy(abc.ABC):
    """Subclass and implement `evaluate` for a custom policy."""

    @abc.abstractmethod
    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Mapping[str, Any] | None = None,
    ) -> RetryDecision:
        """The decision for a try that failed with `exception`."""


def _import_exception(path: str) -> type[BaseException] | None:
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        log.warning("Could not import exception class %r: its retry rule never matches", path)
        return None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


@dataclass
class RetryRule:
    """One exception (class or dotted path, or a list of them) -> what to do."""

    exception: type[BaseException] | str | list[type[BaseException] | str]
    action: RetryAction = RetryAction.RETRY
    retry_delay: timedelta | None = None
    reason: str | None = None
    #: True: subclasses match too (``isinstance``); False: the exact class only.
    match_subclasses: bool = True
    _classes: list[type[BaseException]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for spec in self._specs:
            if isinstance(spec, str) and "." not in spec:
                raise ValueError(
                    "RetryRule exception string must be a dotted import path "
                    f"(e.g. 'builtins.ValueError'), got {spec!r}"
                )
        delay: Any = self.retry_delay  # seconds are accepted too, as for a task's retry_delay
        if isinstance(delay, int | float) and not isinstance(delay, bool):
            self.retry_delay = timedelta(seconds=delay)
        elif delay is not None and not isinstance(delay, timedelta):
            raise TypeError(
                f"RetryRule retry_delay must be a timedelta, got {type(delay).__name__}"
            )

    @property
    def _specs(self) -> list[type[BaseException] | str]:
        return self.exception if isinstance(self.exception, list) else [self.exception]

    def matches(self, exc: BaseException) -> bool:
        """Whether `exc` is (an instance of) one of the rule's exceptions."""
        if self._classes is None:
            resolved = [s if isinstance(s, type) else _import_exception(s) for s in self._specs]
            self._classes = [cls for cls in resolved if cls is not None]
        if self.match_subclasses:
            return isinstance(exc, tuple(self._classes))
        return type(exc) in self._classes


class ExceptionRetryPolicy(RetryPolicy):
    """Rules tried in order, the first that matches decides; else `default`."""

    def __init__(self, rules: list[RetryRule], default: RetryAction = RetryAction.DEFAULT) -> None:
        self.rules = rules
        self.default = default

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Mapping[str, Any] | None = None,
    ) -> RetryDecision:
        for rule in self.rules:
            if rule.matches(exception):
                return RetryDecision(
                    action=rule.action,
                    retry_delay=rule.retry_delay,
                    reason=rule.reason or f"Matched rule for {type(exception).__name__}",
                )
        return RetryDecision(action=self.default)
