"""Tests: development's settings (its secret key, ``SERVE_MEDIA``, the demo staff password),
the database and Redis from the environment (CI points them at PostgreSQL and Redis), fast
hashing, e-mail kept in memory, tasks run in-process unless a test starts a real worker."""

from .development import *  # noqa: F403

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "accounts.hashers.LegacyBCryptPasswordHasher",  # imported users (legacy app)
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STRIPE_SECRET_KEY = "sk_test_maaledu"
STRIPE_WEBHOOK_SECRET = "whsec_test_maaledu"
STRIPE_API_BASE = "http://127.0.0.1:9"  # a closed port: a test that talks to Stripe brings a fake
FRAPPE_URL = ""
STAFF_NOTIFICATION_EMAILS = ["staff@maaledu.test"]
SITE_URL = "http://testserver"
WHITENOISE_AUTOREFRESH = True  # serve from the finders; tests never run collectstatic
# Suites post many checkouts from one client; the rate-limit tests lower these explicitly.
CHECKOUT_RATE_PER_IP = CHECKOUT_RATE_PER_EMAIL = "100000/m"
# Redis is emptied between tests behind the process's back; the feed's own tests turn it on.
VERSION_FEED = False
