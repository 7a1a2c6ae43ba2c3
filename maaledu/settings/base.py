"""Settings shared by every environment, read from the environment with django-environ.

Neutral and safe on their own: ``DEBUG`` is off and there is no built-in secret key (Django
refuses to start while ``DJANGO_SECRET_KEY`` is empty). Pick a module that says where it runs:
``development`` (``manage.py``, ``make run``), ``production`` (``wsgi``, ``asgi``, ``celery``),
``test`` or ``demo``.

Every variable is documented in ``.env.example``. The defaults here need no external service:
SQLite, a local-memory cache, Celery tasks run eagerly, e-mail to the console.
"""

# One module per topic; each imports the few settings of another that it reads (security.py
# reads STRIPE_API_BASE and MEDIA_ORIGIN), so the order below does not matter.
from .accounts import *  # noqa: F403
from .alerts import *  # noqa: F403
from .business_rules import *  # noqa: F403
from .caches import *  # noqa: F403
from .celery import *  # noqa: F403
from .core import *  # noqa: F403
from .database import *  # noqa: F403
from .environment import BASE_DIR, env  # noqa: F401 (development/production import env)
from .integrations import *  # noqa: F403
from .lms_jobs import *  # noqa: F403
from .observability import *  # noqa: F403
from .ratelimits import *  # noqa: F403
from .security import *  # noqa: F403
from .storage import *  # noqa: F403
