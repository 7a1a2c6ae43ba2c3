import time

from common import metrics
from common.routes import method_label, route_name


class RequestMetricsMiddleware:
    """Counts each request and times it, labelled by URL route name (never the raw path, which
    would make one time series per course slug, enrollment id or scanner's guess)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.record_request(
            method=method_label(request),
            route=route_name(request),
            status_code=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response
