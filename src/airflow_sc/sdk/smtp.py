"""Sending e-mail through an ``smtp`` connection (``EmailOperator``, ``SmtpNotifier``,
``email_on_failure``).

The connection (``smtp_default`` unless told otherwise) gives host, port, login and
password; its extras follow Airflow's SMTP provider: ``from_email``, ``disable_ssl``
(SMTP over TLS from the first byte unless true), ``disable_tls`` (STARTTLS on a plain
connection unless true), ``timeout`` (seconds, 30) and ``retry_limit`` (5 connection
attempts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .connection import Connection
from .exceptions import AirflowException

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["build_message", "recipients", "send_email_smtp"]

DEFAULT_CONN_ID = "smtp_default"


def recipients(value: str | Iterable[str] | None) -> list[str]:
    """Addresses from a string (comma or semicolon separated) or an iterable of them."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        out.extend(a.strip() for a in str(item).replace(";", ",").split(",") if a.strip())
    return out


def build_message(
    *,
    from_email: str,
    to: list[str],
    subject: str,
    html_content: str,
    cc: list[str] = (),  # type: ignore[assignment]
    files: Iterable[str] = (),
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    custom_headers: Mapping[str, Any] | None = None,
) -> EmailMessage:
    """The MIME message: HTML body, optional attachments, Airflow's headers."""
    import mimetypes
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_email
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid()
    for name, value in (custom_headers or {}).items():
        message[name] = str(value)
    message.set_content(html_content, subtype="html", charset=mime_charset)
    attachments = list(files or ())
    if attachments:
        message.make_mixed() if mime_subtype == "mixed" else message.make_related()
        for name in attachments:
            path = Path(name)
            kind, _ = mimetypes.guess_type(path.name)
            maintype, _, subtype = (kind or "application/octet-stream").partition("/")
            message.add_attachment(
                path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
            )
    return message


def _flag(extra: Mapping[str, Any], name: str) -> bool:
    value = extra.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


def send_email_smtp(
    to: str | Iterable[str],
    subject: str,
    html_content: str,
    *,
    files: Iterable[str] | None = None,
    cc: str | Iterable[str] | None = None,
    bcc: str | Iterable[str] | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    conn_id: str = DEFAULT_CONN_ID,
    from_email: str | None = None,
    custom_headers: Mapping[str, Any] | None = None,
) -> None:
    """Send one message through the SMTP server of connection `conn_id`."""
    import smtplib
    import ssl

    conn = Connection.get(conn_id)
    extra = conn.extra_dejson
    sender = from_email or extra.get("from_email") or conn.login
    if not sender:
        raise AirflowException(
            f"no sender: pass from_email or set the 'from_email' extra of connection {conn_id!r}"
        )
    to_list, cc_list, bcc_list = recipients(to), recipients(cc), recipients(bcc)
    if not to_list:
        raise AirflowException("an e-mail needs at least one recipient in 'to'")
    message = build_message(
        from_email=str(sender),
        to=to_list,
        subject=subject,
        html_content=html_content,
        cc=cc_list,
        files=files or (),
        mime_subtype=mime_subtype,
        mime_charset=mime_charset,
        custom_headers=custom_headers,
    )
    timeout = float(extra.get("timeout", 30))
    attempts = max(1, int(extra.get("retry_limit", 5)))
    host = conn.host or "localhost"
    use_ssl = not _flag(extra, "disable_ssl")
    port = conn.port or (465 if use_ssl else 25)
    for attempt in range(1, attempts + 1):
        try:
            client: smtplib.SMTP
            if use_ssl:
                client = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(host, port, timeout=timeout)
            break
        except OSError:
            if attempt == attempts:
                raise
    with client:
        if not use_ssl and not _flag(extra, "disable_tls"):
            client.starttls(context=ssl.create_default_context())
        if conn.login:
            client.login(conn.login, conn.password or "")
        client.send_message(message, to_addrs=[*to_list, *cc_list, *bcc_list])
