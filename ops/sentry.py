"""What leaves for Sentry: no e-mail address, no secret, and the request id to find the log lines.

``before_send`` runs on every error event (``sentry_sdk.init(before_send=…)`` in settings, only
when ``SENTRY_DSN`` is set). ``send_default_pii=False`` already keeps cookies, user ids and IPs
out; this hook covers what the SDK cannot know is personal or secret: the learner's address in a
Stripe webhook body or an ``IntegrityError`` message, a Frappe ``token key:secret`` header, an
``sk_live_…`` key in a frame's local variables.

Imported by settings, so it must not import models.
"""

import re
from typing import Any

from common.logging import EMAIL_RE, request_id_var

FILTERED = "[Filtered]"
EMAIL_PLACEHOLDER = "[email]"

# Keys whose value is a secret wherever they appear: headers, cookies, form fields, JSON bodies,
# ``extra``, breadcrumb data, a frame's local variables (``FRAPPE_API_SECRET``, ``api_key``…).
_SECRET_KEY = re.compile(
    r"authorization|cookie|signature|secret|passw|token|api[_-]?key|apikey|private[_-]?key"
    r"|credential|dsn",
    re.IGNORECASE,
)
# Keys holding a person's details in Stripe objects and request metadata (the SDK adds no IP with
# send_default_pii=False; a proxy header in a frame's locals may still carry one).
_PERSONAL_KEY = re.compile(
    r"^(?:customer_details|billing_details|shipping(?:_details)?|customer_email|receipt_email"
    r"|phone|address|full_name|first_name|last_name|ip_address|remote_addr"
    r"|(?:http_)?x[_-]forwarded[_-]for|(?:http_)?x[_-]real[_-]ip)$",
    re.IGNORECASE,
)

# Secrets recognisable by their shape, inside any string.
_SECRET_VALUES = [
    # Stripe keys (secret, restricted, publishable) and webhook signing secrets.
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"),
    # A Stripe-Signature header value: t=…,v1=…
    re.compile(r"\bt=\d+,v1=[0-9a-f]+(?:,v0=[0-9a-f]+)?"),
]
# ``Authorization: Bearer …`` / ``token key:secret`` (Frappe) / ``Basic …``: keep the scheme.
_AUTH_SCHEME = re.compile(r"\b(Bearer|token|Basic)\s+[A-Za-z0-9._~+/:=-]{6,}", re.IGNORECASE)
# ``password=…``, ``"api_key": "…"``, ``token: …`` in messages, query strings and JSON text.
_SECRET_ASSIGNMENT = re.compile(
    r"""(\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|signature)[\w-]*["']?\s*[=:]\s*["']?)"""
    r"""[^\s&"',;}]+""",
    re.IGNORECASE,
)


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses and recognisable secrets replaced."""
    text = EMAIL_RE.sub(EMAIL_PLACEHOLDER, text)
    for pattern in _SECRET_VALUES:
        text = pattern.sub(FILTERED, text)
    text = _AUTH_SCHEME.sub(lambda match: f"{match.group(1)} {FILTERED}", text)
    return _SECRET_ASSIGNMENT.sub(lambda match: match.group(1) + FILTERED, text)


def scrub(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, strings, nested) with secrets and e-mails removed."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED if _sensitive(key, item) else scrub(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def _sensitive(key: Any, item: Any) -> bool:
    if not isinstance(key, str) or item is None or item == "":
        return False  # an empty header or field is worth seeing and hides nothing
    return bool(_SECRET_KEY.search(key) or _PERSONAL_KEY.match(key))


def before_send(event: dict, hint: dict) -> dict:
    """Scrub the whole event and tag it with the request id of the log lines around it."""
    event = scrub(event)
    request_id = request_id_var.get()
    if request_id != "-":
        event.setdefault("tags", {})["request_id"] = request_id
    return event
