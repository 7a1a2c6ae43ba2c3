"""The one way we send e-mail: a template trio rendered into a text + HTML message.

``emails/<name>_subject.txt``, ``emails/<name>.txt`` and ``emails/<name>.html`` extend the base
layouts ``emails/base.txt`` / ``emails/base.html``. The backend is SendGrid (anymail) when
``SENDGRID_API_KEY`` is set, the console otherwise. Call it from Celery tasks, never in a request.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def send_templated_email(*, to: list[str], template: str, context: dict) -> None:
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    message.send()
