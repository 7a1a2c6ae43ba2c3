"""Test support for concurrency claims: real threads against PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection


@pytest.fixture
def postgresql_only():
    """Skip on SQLite, which serialises every writer: threads there prove nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite serialises every writer)")


def race(call, threads: int) -> list:
    """Run ``call`` in ``threads`` threads released at the same instant; their results, in order.
    Each thread closes its own database connection."""
    barrier = threading.Barrier(threads)

    def run(_):
        try:
            barrier.wait()
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(threads)))
