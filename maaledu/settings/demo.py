"""``make demo``: the site on SQLite with the local fake Stripe and fake Frappe LMS, tasks run
in-process, a "demo payments" banner on every page. Started by ``python -m maaledu.demo``, which
sets the fakes' addresses; never for a real shop."""

from django.core.exceptions import ImproperlyConfigured

from .development import *  # noqa: F403
from .development import DATABASES, STRIPE_SECRET_KEY

DEMO_MODE = True
DEBUG = True
SERVE_MEDIA = True
# No Redis: a local-memory cache, and each task runs right after the commit that enqueued it.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True

if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    raise ImproperlyConfigured("The demo runs on its own SQLite file only (DATABASE_URL=sqlite:…).")
if not STRIPE_SECRET_KEY.startswith("sk_test_"):
    raise ImproperlyConfigured("The demo only talks to the fake Stripe, with a test key.")
