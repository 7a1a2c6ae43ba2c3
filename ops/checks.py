"""``manage.py check`` refuses a METRICS_ALLOWED_IPS entry that is not an address or network,
so a typo fails the deploy instead of silently locking the scraper out."""

import ipaddress

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_metrics_allowed_ips(app_configs, **kwargs) -> list[Error]:
    errors = []
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"METRICS_ALLOWED_IPS entry {entry!r} is not an IP address or network.",
                    hint="Use addresses or CIDR networks, e.g. 10.0.0.5,10.1.0.0/16.",
                    id="ops.E001",
                )
            )
    return errors
