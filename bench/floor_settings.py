"""The floor: the bench's production settings (same apps, middleware, database, cache, logging)
with a URLconf holding one trivial view, so the gap to it is what our own views cost."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
