"""The cache (Redis when ``REDIS_URL`` is set, local memory otherwise) and cached pages."""

from .environment import env

# --- Redis: cache and Celery broker ---------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="maaledu"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=300)
# Web processes keep shared pages in memory and learn of data changes over Redis pub/sub
# (maaledu/version_feed.py), instead of a Redis round trip per page view.
VERSION_FEED = env.bool("VERSION_FEED", default=True)
