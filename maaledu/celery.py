"""The Celery application: reads ``CELERY_*`` settings and finds each app's ``tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maaledu.settings.base")

app = Celery("maaledu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
