"""`SmtpNotifier`: a notifier that e-mails through an ``smtp`` connection.

    on_failure_callback=SmtpNotifier(to="oncall@example.com")

Without `subject` / `html_content` it sends Airflow's default alert (which task of which
run ended in which state, the exception and the log's address); both are templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from airflow_sc.sdk.notifier import BaseNotifier
from airflow_sc.sdk.smtp import DEFAULT_CONN_ID, send_email_smtp

__all__ = ["SmtpNotifier", "send_smtp_notification"]

DEFAULT_SUBJECT = (
    "{% if ti is defined %}DAG {{ ti.dag_id }} - Task {{ ti.task_id }} - Run ID {{ ti.run_id }}"
    " in State {{ state }}{% else %}DAG {{ dag.dag_id }} - Run ID {{ run_id }} in State"
    " {{ state }}{% endif %}"
)
DEFAULT_HTML = (
    "{% if ti is defined %}Try {{ ti.try_number }} out of {{ ti.max_tries + 1 }}<br>"
    'Exception:<br>{{ exception }}<br>Log: <a href="{{ ti.log_url }}">Link</a><br>'
    "Host: {{ ti.hostname }}<br>{% else %}DAG {{ dag.dag_id }}, run {{ run_id }}: "
    "{{ state }}<br>{% endif %}"
)


class SmtpNotifier(BaseNotifier):
    """E-mail `to` (and `cc`, `bcc`) when called as a callback."""

    template_fields: ClassVar[Sequence[str]] = (
        "from_email",
        "to",
        "subject",
        "html_content",
        "files",
        "cc",
        "bcc",
        "mime_subtype",
        "mime_charset",
        "custom_headers",
    )

    def __init__(
        self,
        *,
        to: str | Iterable[str],
        from_email: str | None = None,
        subject: str | None = None,
        html_content: str | None = None,
        files: list[str] | None = None,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        custom_headers: Mapping[str, Any] | None = None,
        smtp_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email
        self.to = to
        self.subject = subject or DEFAULT_SUBJECT
        self.html_content = html_content or DEFAULT_HTML
        self.files = list(files or [])
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.custom_headers = dict(custom_headers or {})

    def render_template_fields(self, context: Mapping[str, Any], jinja_env: Any = None) -> None:
        # `state` names the outcome for the default templates, for tasks and DAG runs alike.
        ti = context.get("ti")
        run = context.get("dag_run")
        state = context.get("state") or getattr(ti, "state", None) or getattr(run, "state", "")
        super().render_template_fields({"state": state, **context}, jinja_env)

    def notify(self, context: Mapping[str, Any]) -> None:
        send_email_smtp(
            self.to,
            str(self.subject).strip(),
            str(self.html_content),
            files=self.files,
            cc=self.cc,
            bcc=self.bcc,
            mime_subtype=self.mime_subtype,
            mime_charset=self.mime_charset,
            conn_id=self.smtp_conn_id,
            from_email=self.from_email,
            custom_headers=self.custom_headers,
        )


send_smtp_notification = SmtpNotifier
