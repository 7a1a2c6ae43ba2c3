"""Single requests around each load: one over HTTP to the server under test, to check it answers
as expected before wrk's numbers are believed; one in this process with every SQL query
captured, to say what a request costs when a target is missed."""

import functools
import http.client
import time

from django.db import connection
from django.test import Client

from .endpoints import Endpoint, Request
from .site import BenchError


def check_over_http(url: str, endpoint: Endpoint, request: Request) -> None:
    host, port = url.removeprefix("http://").split(":")
    client = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        client.request(request.method, request.path, body=request.body, headers=request.headers)
        response = client.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        client.close()
    _check(endpoint, request, response.status, body)


def _check(endpoint: Endpoint, request: Request, status: int, body: str) -> None:
    if status != endpoint.expect_status or endpoint.expect_text not in body:
        expected = f"{endpoint.expect_status} {endpoint.expect_text}".strip()
        raise BenchError(
            f"{endpoint.name}: {request.method} {request.path} answered {status}, expected "
            f"{expected}:\n{body[:800]}"
        )


@functools.cache
def _client() -> Client:
    """One client for every probe: a new one loads the middleware again on its first request."""
    return Client(headers={"Host": "127.0.0.1"})


def in_process(endpoint: Endpoint, request: Request, *, host: str) -> dict:
    """The request through Django's full stack in this process: its wall time, the CPU Python
    spent on it, its queries with their round-trip times, the slowest of them.

    ``host`` is the server's ``host:port``, sent as wrk sends it, so the probe finds what the
    load left in the cache (page keys carry the host).
    """
    headers = {"Host": host, **request.headers}
    content_type = headers.pop("Content-Type", "application/octet-stream")
    client = _client()
    client.cookies.clear()  # only the request's own Cookie header counts
    queries: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            executed = connection.ops.last_executed_query(context["cursor"].cursor, sql, params)
            queries.append((elapsed_ms, executed or sql))

    with connection.execute_wrapper(timed):
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = client.generic(
            request.method,
            request.path,
            data=request.body,
            content_type=content_type,
            headers=headers,
        )
        wall_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.thread_time() - started_cpu) * 1000
    _check(endpoint, request, response.status_code, response.content.decode(errors="replace"))
    slowest_ms, slowest_sql = max(queries, default=(0.0, ""))
    return {
        "wall_ms": round(wall_ms, 2),
        # Python's own work (this thread's CPU): templates, ORM, middleware; not the waits.
        "python_cpu_ms": round(cpu_ms, 2),
        "queries": len(queries),
        "sql_ms": round(sum(ms for ms, _sql in queries), 2),
        "slowest_query_ms": round(slowest_ms, 2),
        "slowest_query": slowest_sql,
    }


def explain(sql: str) -> list[str]:
    """PostgreSQL's plan of a read, with real timings; nothing for a write (ANALYZE runs it)."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]
