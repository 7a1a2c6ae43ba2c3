"""Development (``manage.py`` and ``make run``): ``DEBUG`` on, a built-in secret key, the site
serves media, and ``seed_demo`` creates the staff login it prints. The defaults of base need no
external service (SQLite, a local-memory cache, tasks in-process, e-mail to the console).

Never for a deployed site: ``wsgi``, ``asgi`` and ``celery`` default to ``production``."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="django-insecure-local-development-key-do-not-use-in-production"
)
# The site serves MEDIA_URL from MEDIA_ROOT (course covers) while DEBUG is on.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)
# Password of the demo staff account that `seed_demo` creates and prints.
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="maaledu-demo-admin")
