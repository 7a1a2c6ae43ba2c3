"""Django itself: debug and hosts, the installed apps and middleware, templates, the database,
language and time zone, sessions."""

from .database import ON_MONGODB
from .environment import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# No default: empty, Django refuses to start (development.py and test.py bring their own).
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL of the site, used in e-mails and in Stripe's success/cancel URLs.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")


def _keyed(sql_app: str, mongo_config: str) -> str:
    """A contrib app with models; on MongoDB, its config in maaledu/mongo_apps.py."""
    return f"maaledu.mongo_apps.{mongo_config}" if ON_MONGODB else sql_app


INSTALLED_APPS = [
    # django.contrib.admin, with an admin site that refuses malformed action selections.
    _keyed("maaledu.apps.MaalEduAdminConfig", "MongoAdminConfig"),
    _keyed("django.contrib.auth", "MongoAuthConfig"),
    _keyed("django.contrib.contenttypes", "MongoContentTypesConfig"),
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    _keyed("django.contrib.sites", "MongoSitesConfig"),
    "django.contrib.humanize",
    "csp",
    "allauth",
    "allauth.account",
    "maaledu.apps.MaalEduConfig",
    "common.apps.CommonConfig",
    "accounts",
    "courses",
    "grants",
    "affiliates",
    "enrollments",
    "lms_sync",
    # Observability and operations: metrics, alerts, the ops page. Reads every app above.
    "ops",
    # The import from the old MaalEdu (manage.py import_legacy): writes through every app above.
    "legacy",
]

MIDDLEWARE = [
    "maaledu.middleware.RequestIdMiddleware",
    # Outermost after the request id: they see the final status and the whole duration.
    "maaledu.middleware.RequestLogMiddleware",
    "ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "maaledu.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, the first to read a form body: undecodable bodies and NUL → 400.
    "maaledu.middleware.RequestInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # ?ref=<code> visits: counts the click and sets the signed attribution cookie.
    "affiliates.middleware.ReferralMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "maaledu.middleware.CacheUnavailableMiddleware",
    # Deletes the anonymous checkout cookie when the browser signs in or out.
    "enrollments.middleware.CheckoutCookieMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "maaledu.urls"
WSGI_APPLICATION = "maaledu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "maaledu.context_processors.site",
            ],
        },
    },
]

# --- Database: database.py (SQLite, PostgreSQL or MongoDB, by DATABASE_URL alone) ------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
# Django's database sessions read through the cache (cached_db), created with one INSERT (no
# look-up of the new key first); a logout deletes the cached copy before the row.
SESSION_ENGINE = "common.sessions"
