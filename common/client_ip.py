"""The client's address, read only from the META key a trusted proxy sets.

``CLIENT_IP_META_KEY`` names it; X-Forwarded-For as sent by a client is never believed.
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    value = request.META.get(settings.CLIENT_IP_META_KEY) or request.META.get("REMOTE_ADDR", "")
    # A proxy header may hold a list; the proxy appends the address it saw last.
    return value.split(",")[-1].strip()
