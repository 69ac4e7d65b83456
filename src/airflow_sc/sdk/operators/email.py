"""`EmailOperator`: send an e-mail through an ``smtp`` connection (Airflow's SMTP provider)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.smtp import DEFAULT_CONN_ID, send_email_smtp

__all__ = ["EmailOperator"]


class EmailOperator(BaseOperator):
    """Send `subject` / `html_content` to `to` (plus `cc`, `bcc`, attached `files`)."""

    template_fields: ClassVar[Sequence[str]] = (
        "to",
        "from_email",
        "subject",
        "html_content",
        "files",
        "cc",
        "bcc",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"html_content": "html"}
    template_ext: ClassVar[Sequence[str]] = (".html",)
    ui_color: ClassVar[str] = "#e6faf9"

    def __init__(
        self,
        *,
        to: str | Iterable[str],
        subject: str,
        html_content: str,
        from_email: str | None = None,
        files: list[str] | None = None,
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        conn_id: str = DEFAULT_CONN_ID,
        custom_headers: Mapping[str, Any] | None = None,
        auth_type: str = "basic",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.from_email = from_email
        self.files = list(files or [])
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.conn_id = conn_id
        self.custom_headers = dict(custom_headers or {})
        if auth_type != "basic":
            raise self._error(f"auth_type {auth_type!r} is not supported (only 'basic')")
        self.auth_type = auth_type

    def execute(self, context: Mapping[str, Any]) -> None:
        send_email_smtp(
            self.to,
            self.subject,
            self.html_content,
            files=self.files,
            cc=self.cc,
            bcc=self.bcc,
            mime_subtype=self.mime_subtype,
            mime_charset=self.mime_charset,
            conn_id=self.conn_id,
            from_email=self.from_email,
            custom_headers=self.custom_headers,
        )
        self.log.info("Sent an e-mail to %s", self.to)
