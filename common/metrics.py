"""Prometheus counters for what the database does not record, and the ``record_*`` calls that
move them. Business figures the database does hold (checkouts, revenue, webhooks, LMS syncs,
coupons, affiliates) are read at scrape time by ``ops.collectors`` instead.

Other apps may call the ``record_*`` functions (this module imports no model, so importing it
creates no cycle); they are cheap, never raise on an odd label, and keep every label bounded:

    record_coupon_refusal(reason)        grants: a CouponRefused was raised (pass its ``reason``)
    record_cache(hit=…, cache_name=…)    courses: a cached read hit or missed (a constant name)

The counters live in process memory. Under gunicorn with several workers, set
``PROMETHEUS_MULTIPROC_DIR`` (see docs/runbook.md) so /metrics adds up every worker's counts.
"""

import os
import re

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

HTTP_REQUESTS = Counter(
    "maaledu_http_requests",
    "HTTP requests by method, URL route name and status class.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "maaledu_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and URL route name.",
    ["method", "route"],
)
COUPON_REFUSALS = Counter(
    "maaledu_coupon_refusals",
    "Grant coupons refused at checkout, by reason (grants.services.CouponRefused.reason).",
    ["reason"],
)
CACHE_REQUESTS = Counter(
    "maaledu_cache_requests",
    "Reads of cached pages and objects, by cache name and result (hit or miss).",
    ["cache", "result"],
)

_LABEL = re.compile(r"^[a-z0-9_]{1,40}$")


def _bounded(value: str) -> str:
    """A label value as given when it looks like a code, else ``other``: a caller passing free
    text by mistake must not create a new time series per value."""
    return value if isinstance(value, str) and _LABEL.match(value) else "other"


def record_request(*, method: str, route: str, status_code: int, seconds: float) -> None:
    """One answered request; ``route`` is a URL pattern name, never a path."""
    HTTP_REQUESTS.labels(method=method, route=route, status=f"{status_code // 100}xx").inc()
    HTTP_REQUEST_DURATION.labels(method=method, route=route).observe(seconds)


def record_coupon_refusal(reason: str) -> None:
    """A grant coupon was refused at checkout; ``reason`` is ``CouponRefused.reason``."""
    COUPON_REFUSALS.labels(reason=_bounded(reason)).inc()


def record_cache(*, hit: bool, cache_name: str) -> None:
    """A cached read: ``hit`` True when the cache answered. ``cache_name`` is a constant such
    as ``catalog_page`` or ``course_detail``, never a key."""
    CACHE_REQUESTS.labels(cache=_bounded(cache_name), result="hit" if hit else "miss").inc()


def live_registry() -> CollectorRegistry:
    """The registry holding the counters above: this process's, or in multiprocess mode the sum
    over every process that wrote to ``PROMETHEUS_MULTIPROC_DIR``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
