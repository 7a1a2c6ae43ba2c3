"""Load benchmarks: the site under gunicorn with production settings, loaded by wrk, beside a floor.

``make bench`` (or ``python -m bench``) runs them; ``bench/README.md`` explains the numbers.
"""
