"""Settings of the site and worker under browser test: ``maaledu.settings.base``, plus what the
browser tests need that base.py does not read from the environment.

- E-mail goes to files in ``EMAIL_FILE_PATH`` (one per message), so a test can open the
  confirmation link or read the grant coupon code that the site and the worker sent. Once
  base.py reads ``EMAIL_BACKEND`` and ``EMAIL_FILE_PATH`` from the environment, this module can
  go and the stack can run ``maaledu.settings.base`` itself.
- Every browser of a run comes from 127.0.0.1, so the per-IP rate limits (sized for one real
  client) would count the whole suite as one visitor and refuse a late test's checkout; they are
  lifted here. The per-e-mail and per-account limits stay as in production.
- With ``DEBUG`` off (as in production), whitenoise serves ``static/`` from the finders, so no
  ``collectstatic`` is needed (the same choice as ``maaledu.settings.test``); the site serves
  the course covers from the run's ``MEDIA_ROOT`` too.
"""

from maaledu.settings.base import *  # noqa: F403
from maaledu.settings.base import env

# base has no secret key of its own; the stack's processes share this one (a throw-away site).
SECRET_KEY = env("DJANGO_SECRET_KEY", default="e2e-only-secret-key-never-deployed-0123456789abcdef")

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH")
WHITENOISE_USE_FINDERS = True
SERVE_MEDIA = True  # course covers from the run's own MEDIA_ROOT
WHITENOISE_AUTOREFRESH = True
CHECKOUT_RATE_PER_IP = COUPON_RATE_PER_IP = GRANT_APPLY_RATE_PER_IP = "100000/m"
