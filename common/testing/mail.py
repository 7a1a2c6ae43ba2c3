"""Test support for e-mail: a mail provider that is down (the one boundary tests fake)."""

from django.core.mail.backends.base import BaseEmailBackend

REFUSING_BACKEND = "common.testing.mail.RefusingEmailBackend"
WORKING_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class RefusingEmailBackend(BaseEmailBackend):
    """An e-mail provider that is down: every send raises as an unreachable SMTP server does."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("smtp down")
