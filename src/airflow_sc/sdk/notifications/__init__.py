"""Notifiers shipped with airflow-sc."""

from .smtp import SmtpNotifier, send_smtp_notification

__all__ = ["SmtpNotifier", "send_smtp_notification"]
