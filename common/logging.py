"""Log records as one ``key=value`` line each, carrying the id of the request they belong to.

Business events are logged as ``event=<noun.verb> enrollment_id=…`` with ids, never raw e-mail
addresses: pass an address through ``mask_email`` when a line needs one. The formatter masks any
address that slips through anyway (an exception message quoting a row, a third-party log line).
"""

import contextvars
import logging
import re

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Also matches the URL-encoded form (``jane%40example.com``) found in query strings.
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def mask_email(email: str) -> str:
    """``John@Example.com`` → ``j***@example.com``: enough to recognise, not to contact."""
    local, at, domain = (email or "").strip().lower().replace("%40", "@").rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_emails(text: str) -> str:
    """Every e-mail address in ``text`` masked with ``mask_email``."""
    return EMAIL_RE.sub(lambda match: mask_email(match.group()), text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… request_id=… <message>``; messages are written as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname} "
            f"logger={record.name} request_id={getattr(record, 'request_id', '-')} "
            f"{record.getMessage()}"
        )
        if record.exc_info:
            line += " exc=" + repr(self.formatException(record.exc_info))
        return mask_emails(line)
