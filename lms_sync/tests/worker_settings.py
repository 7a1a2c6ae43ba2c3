"""Settings of the real Celery worker that ``test_worker_integration`` starts.

The test settings, except that tasks go through the Redis broker instead of running in-process,
and the LMS is the fake Frappe the test started (``FRAPPE_*`` from the worker's environment; the
test settings blank ``FRAPPE_URL`` so a developer's ``.env`` never reaches a real LMS).
"""

from maaledu.settings.test import *  # noqa: F403
from maaledu.settings.test import env

CELERY_TASK_ALWAYS_EAGER = False
FRAPPE_URL = env("FRAPPE_URL")
