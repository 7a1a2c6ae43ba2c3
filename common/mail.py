"""The one way we send e-mail: a template trio rendered into a text + HTML message.

``emails/<name>_subject.txt``, ``emails/<name>.txt`` and ``emails/<name>.html`` extend the base
layouts ``emails/base.txt`` / ``emails/base.html``. The backend is SendGrid (anymail) when
``SENDGRID_API_KEY`` is set, the console otherwise. Domain e-mails are queued in the outbox
(``common.outbox``), which renders them here (when queued, or by the worker from the values it
stored) and sends them from a Celery task with ``send_rendered_email``; never send in a
request.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.utils.encoding import punycode

logger = logging.getLogger(__name__)


def validate_deliverable_email(value: str) -> None:
    """Django's e-mail validator accepts domains that the mail layer then cannot encode (IDNA
    refuses, say, a U+202E in ``example.com\u202eadmin``) and sending raises. Every form that
    takes an address we may write to checks it here, encoded the way sending will encode it."""
    validate_email(value)
    try:
        encoded = punycode(value.rpartition("@")[2])
    except UnicodeError:
        raise ValidationError(validate_email.message, code=validate_email.code) from None
    # What IDNA maps a domain to must itself be a domain ("example\u3000.com" → "example .com").
    validate_email(f"postmaster@{encoded}")


def deliverable(address: str) -> bool:
    """False for the reserved ``.invalid`` domain (RFC 2606), which can never receive mail: a
    deleted account's records carry such a placeholder, and e-mails queued for it are dropped."""
    return not address.strip().lower().rstrip(">").endswith(".invalid")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_templated_email(*, template: str, context: dict) -> RenderedEmail:
    """The subject, text and HTML of ``emails/<template>…`` for ``context``."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return RenderedEmail(subject=subject, text=text, html=html)


def send_rendered_email(*, to: list[str], email: RenderedEmail, template: str = "") -> None:
    """Send an already rendered message to the deliverable addresses among ``to``."""
    to = [address for address in to if deliverable(address)]
    if not to:
        logger.info("event=email.skipped template=%s reason=undeliverable", template)
        return
    message = EmailMultiAlternatives(email.subject, email.text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(email.html, "text/html")
    message.send()
