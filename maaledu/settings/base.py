"""Settings shared by every environment, read from the environment with django-environ.

Every variable is documented in ``.env.example``. The defaults here give a working site with no
external service: SQLite, a local-memory cache, Celery tasks run eagerly, e-mail to the console.
"""

from datetime import date
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="django-insecure-local-development-key-do-not-use-in-production"
)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL of the site, used in e-mails and in Stripe's success/cancel URLs.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # django.contrib.admin, with an admin site that refuses malformed action selections.
    "maaledu.apps.MaalEduAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "csp",
    "allauth",
    "allauth.account",
    "maaledu.apps.MaalEduConfig",
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
SITE_ID = 1

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
    "allauth.account.middleware.AccountMiddleware",
    # Turns django-ratelimit's Ratelimited (from @ratelimit(block=True)) into RATELIMIT_VIEW's 429.
    "django_ratelimit.middleware.RatelimitMiddleware",
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

# --- Database -------------------------------------------------------------------------------
# SQLite is the zero-setup default; PostgreSQL (postgres://…) is production and CI.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker the site still works: tasks run in-process, right after commit.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
# A task is acknowledged only after it ran; a worker that dies mid-task gives it back to Redis.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "maaledu"
CELERY_TIMEZONE = "UTC"
# How often course outlines are read from the LMS: a change there shows within this period.
LMS_OUTLINE_SYNC_SECONDS = env.int("LMS_OUTLINE_SYNC_SECONDS", default=10 * 60)
CELERY_BEAT_SCHEDULE = {
    # Three-way reconciliation of the last week (ops.reconciliation), every night.
    "ops-nightly-reconcile": {
        "task": "ops.tasks.nightly_reconcile",
        "schedule": crontab(hour=2, minute=30),
    },
    # Alert checks (ops.alerts): each alert e-mails staff once per incident.
    "ops-check-alerts": {"task": "ops.tasks.check_alerts", "schedule": 5 * 60},
    "enrollments-expire-stale-checkouts": {
        "task": "enrollments.tasks.expire_stale_checkouts",
        "schedule": 15 * 60,
    },
    "enrollments-sweep-unsent-confirmations": {
        "task": "enrollments.tasks.sweep_unsent_confirmations",
        "schedule": 10 * 60,
    },
    # Receipt links of Stripe invoices whose fetch after payment was lost.
    "enrollments-sweep-missing-invoice-links": {
        "task": "enrollments.tasks.sweep_missing_invoice_links",
        "schedule": 10 * 60,
    },
    # Refund notices, payment-failed notices and dispute alerts whose message was lost.
    "enrollments-sweep-unsent-notices": {
        "task": "enrollments.tasks.sweep_unsent_notices",
        "schedule": 10 * 60,
    },
    # The LMS sweep: creates jobs a lost signal missed, starts due sync jobs and jobs whose
    # worker died (lease expired).
    "lms-sync-sweep-due-jobs": {"task": "lms_sync.tasks.sweep_due_jobs", "schedule": 60},
    # Deleted accounts: their LMS users are removed by these jobs.
    "lms-sync-sweep-user-erasures": {"task": "lms_sync.tasks.sweep_user_erasures", "schedule": 60},
    "lms-sync-pull-progress": {"task": "lms_sync.tasks.pull_progress", "schedule": 30 * 60},
    # Affiliate welcome e-mails whose task message was lost.
    "affiliates-resend-unsent-welcomes": {
        "task": "affiliates.tasks.resend_unsent_welcomes",
        "schedule": 10 * 60,
    },
    # Commissions a crash, a migration or an import left out of the daily totals.
    "affiliates-refresh-stale-earnings": {
        "task": "affiliates.tasks.refresh_stale_earnings",
        "schedule": 10 * 60,
    },
    # Pending commissions past COMMISSION_REFUND_WINDOW_DAYS become approved.
    "affiliates-approve-matured-commissions": {
        "task": "affiliates.tasks.approve_matured_commissions",
        "schedule": 60 * 60,
    },
    # Cover thumbnails a lost message or dead worker left unmade (courses.tasks).
    "courses-sweep-stale-covers": {"task": "courses.tasks.sweep_stale_covers", "schedule": 60 * 60},
    # Chapters, lessons and instructors of every mapped LMS course, for the course pages.
    "lms-sync-course-outlines": {
        "task": "lms_sync.tasks.sync_course_outlines",
        "schedule": LMS_OUTLINE_SYNC_SECONDS,
    },
    # Approved, unused grant coupons past their expiry become expired (checkout checks the
    # expiry itself; this keeps the admin's status filter truthful).
    "grants-expire-coupons": {
        "task": "grants.tasks.expire_coupons",
        "schedule": 60 * 60,
    },
    # Grant e-mails (received, staff notice, decision) whose task message was lost.
    "grants-resend-unsent-emails": {
        "task": "grants.tasks.resend_unsent_emails",
        "schedule": 10 * 60,
    },
}

# --- Auth and accounts (django-allauth) -----------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's and allauth's backends, loading the user's affiliate row with the user (one query).
AUTHENTICATION_BACKENDS = [
    "affiliates.auth_backends.ModelBackendWithAffiliate",
    "affiliates.auth_backends.AllauthBackendWithAffiliate",
]
# Django's defaults, then the old MaalEdu's bcrypt hashes (accounts.hashers): an imported
# learner logs in with their old password, which is re-hashed with the first hasher then.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "accounts.hashers.LegacyBCryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
# Browsing and buying work before verification; verified-only features (affiliates, grant
# redemption) use allauth's ``verified_email_required``, which sends the link and explains.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[MaalEdu] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_RATE_LIMITS = {
    "login": env("RATE_LIMIT_LOGIN", default="30/m/ip"),
    "login_failed": env("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "signup": env("RATE_LIMIT_SIGNUP", default="20/m/ip"),
    "reset_password": env("RATE_LIMIT_RESET_PASSWORD", default="20/m/ip,5/m/key"),
    "confirm_email": "1/3m/key",
}

# --- E-mail -------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="MaalEdu <no-reply@maaledu.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
STAFF_NOTIFICATION_EMAILS = env.list("STAFF_NOTIFICATION_EMAILS", default=["staff@maaledu.local"])
SENDGRID_API_KEY = env("SENDGRID_API_KEY", default="")
if SENDGRID_API_KEY:
    EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    ANYMAIL = {"SENDGRID_API_KEY": SENDGRID_API_KEY}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Stripe -------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Points the SDK at another host (a local fake in tests and demos); empty = api.stripe.com.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# How long a Checkout Session stays open (Stripe allows 30 minutes to 24 hours).
CHECKOUT_SESSION_MINUTES = env.int("CHECKOUT_SESSION_MINUTES", default=60)
STRIPE_WEBHOOK_MAX_BYTES = env.int("STRIPE_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Stripe Tax: tax computed by Stripe inside our (tax-inclusive) prices, and a tax-ID field for
# business buyers at checkout. Needs Stripe Tax set up in the Stripe dashboard.
STRIPE_AUTOMATIC_TAX = env.bool("STRIPE_AUTOMATIC_TAX", default=False)

# --- Frappe LMS ---------------------------------------------------------------------------
FRAPPE_URL = env("FRAPPE_URL", default="").rstrip("/")
FRAPPE_API_KEY = env("FRAPPE_API_KEY", default="")
FRAPPE_API_SECRET = env("FRAPPE_API_SECRET", default="")
# For benches reached by IP: the site's domain, sent as the Host header.
FRAPPE_HOST_HEADER = env("FRAPPE_HOST_HEADER", default="")
FRAPPE_CONNECT_TIMEOUT = env.float("FRAPPE_CONNECT_TIMEOUT", default=5.0)
FRAPPE_READ_TIMEOUT = env.float("FRAPPE_READ_TIMEOUT", default=20.0)
FRAPPE_SEND_WELCOME_EMAIL = env.bool("FRAPPE_SEND_WELCOME_EMAIL", default=True)
# Public URL learners open; defaults to FRAPPE_URL.
FRAPPE_PUBLIC_URL = env("FRAPPE_PUBLIC_URL", default=FRAPPE_URL).rstrip("/")

# --- LMS sync jobs (lms_sync.services) ----------------------------------------------------
# Transient failures back off from BASE doubling to MAX (each delay jittered to 75–100 %); a job
# fails after MAX_ATTEMPTS. 25 attempts span more than 3 days even with the shortest jitter.
LMS_SYNC_MAX_ATTEMPTS = env.int("LMS_SYNC_MAX_ATTEMPTS", default=25)
LMS_SYNC_BASE_DELAY_SECONDS = env.int("LMS_SYNC_BASE_DELAY_SECONDS", default=60)
LMS_SYNC_MAX_DELAY_SECONDS = env.int("LMS_SYNC_MAX_DELAY_SECONDS", default=6 * 3600)
# How long a worker holds a job: longer than the slowest sync (about four Frappe calls of up to
# FRAPPE_CONNECT_TIMEOUT + FRAPPE_READ_TIMEOUT each). A dead worker's job restarts after it.
LMS_SYNC_LEASE_SECONDS = env.int("LMS_SYNC_LEASE_SECONDS", default=300)
# Rejected credentials or an unknown site: jobs wait and try again this often.
LMS_SYNC_CONFIG_RETRY_SECONDS = env.int("LMS_SYNC_CONFIG_RETRY_SECONDS", default=15 * 60)
# Synced enrollments whose progress one pull reads, least recently read first.
LMS_PROGRESS_BATCH = env.int("LMS_PROGRESS_BATCH", default=500)

# --- Business rules -----------------------------------------------------------------------
AFFILIATE_COOKIE_DAYS = env.int("AFFILIATE_COOKIE_DAYS", default=30)
# Old MaalEdu links (?ref=<affiliate e-mail>) resolve to the affiliate until this day
# (YYYY-MM-DD) inclusive; empty = not at all. Set it when importing (README, "Moving from the old
# MaalEdu"), e.g. 90 days after the switch.
_legacy_ref_until = env("LEGACY_REF_LINKS_UNTIL", default="")
LEGACY_REF_LINKS_UNTIL = date.fromisoformat(_legacy_ref_until) if _legacy_ref_until else None
AFFILIATE_DEFAULT_RATE_PERCENT = env.int("AFFILIATE_DEFAULT_RATE_PERCENT", default=10)
# The refund window learners are promised (common.refund_policy); commissions are approved
# after it.
COMMISSION_REFUND_WINDOW_DAYS = env.int("COMMISSION_REFUND_WINDOW_DAYS", default=14)
# Where learners write for help and refunds (shown on the course and checkout pages).
SUPPORT_EMAIL = env("SUPPORT_EMAIL", default="support@maaledu.local")
PAYOUT_MINIMUM_CENTS = env.int("PAYOUT_MINIMUM_CENTS", default=5000)
GRANT_COUPON_VALID_DAYS = env.int("GRANT_COUPON_VALID_DAYS", default=30)
# Password of the demo staff account that `seed_demo` creates (development only).
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="maaledu-demo-admin")

# --- Client IP and rate limits ------------------------------------------------------------
# The META key holding the client address. Behind a proxy set it to the header that proxy
# overwrites (e.g. HTTP_X_REAL_IP); X-Forwarded-For is never trusted as sent by the client.
CLIENT_IP_META_KEY = env("CLIENT_IP_META_KEY", default="REMOTE_ADDR")
RATELIMIT_IP_META_KEY = "common.client_ip.client_ip"
RATELIMIT_VIEW = "common.ratelimits.rate_limited"
RATELIMIT_USE_CACHE = "default"
# Per client IP: ?ref= visits that may record a referral click; per user: affiliate join posts.
REFERRAL_CLICK_RATE = env("REFERRAL_CLICK_RATE", default="60/m")
AFFILIATE_JOIN_RATE = env("AFFILIATE_JOIN_RATE", default="10/h")
# Grant applications (POSTs of /grants/apply/) per client IP and per applicant e-mail.
GRANT_APPLY_RATE_PER_IP = env("GRANT_APPLY_RATE_PER_IP", default="5/h")
GRANT_APPLY_RATE_PER_EMAIL = env("GRANT_APPLY_RATE_PER_EMAIL", default="3/h")
# Checkout submissions per client IP and per buyer e-mail.
CHECKOUT_RATE_PER_IP = env("CHECKOUT_RATE_PER_IP", default="30/m")
CHECKOUT_RATE_PER_EMAIL = env("CHECKOUT_RATE_PER_EMAIL", default="10/m")
# Checkout attempts with a grant coupon per user and per client IP (brute force of codes).
COUPON_RATE_PER_USER = env("COUPON_RATE_PER_USER", default="10/h")
COUPON_RATE_PER_IP = env("COUPON_RATE_PER_IP", default="30/h")
# The account page: data exports per user, and deletion attempts (password checks) per user.
ACCOUNT_EXPORT_RATE = env("ACCOUNT_EXPORT_RATE", default="10/h")
ACCOUNT_DELETE_RATE = env("ACCOUNT_DELETE_RATE", default="5/h")

# --- Static files, i18n -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# The site itself serves MEDIA_URL from MEDIA_ROOT (development, the demo, the browser tests);
# in production a file storage (S3) or the proxy serves it.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)
# Uploaded media (course images): an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, …)
# through django-storages when MEDIA_S3_BUCKET is set, the local file system otherwise. The
# bucket (or MEDIA_S3_PREFIX in it) must be publicly readable: cached pages keep image URLs for
# as long as they are cached, so they are plain URLs, never expiring signed ones.
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")
MEDIA_S3_ENDPOINT_URL = env("MEDIA_S3_ENDPOINT_URL", default="").rstrip("/")
MEDIA_S3_CUSTOM_DOMAIN = env("MEDIA_S3_CUSTOM_DOMAIN", default="")
if MEDIA_S3_BUCKET:
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": MEDIA_S3_ENDPOINT_URL or None,
            "region_name": env("MEDIA_S3_REGION", default="") or None,
            "access_key": env("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "custom_domain": MEDIA_S3_CUSTOM_DOMAIN or None,
            "location": env("MEDIA_S3_PREFIX", default="media"),
            "querystring_auth": False,
            "file_overwrite": False,
            "default_acl": None,  # the bucket's policy decides (public read for images)
        },
    }
    if MEDIA_S3_CUSTOM_DOMAIN:
        MEDIA_ORIGIN = f"https://{MEDIA_S3_CUSTOM_DOMAIN}"
    elif MEDIA_S3_ENDPOINT_URL:
        MEDIA_ORIGIN = MEDIA_S3_ENDPOINT_URL  # path-style URLs: <endpoint>/<bucket>/…
    else:
        MEDIA_ORIGIN = f"https://{MEDIA_S3_BUCKET}.s3.amazonaws.com"
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    MEDIA_ORIGIN = ""
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security headers (production.py adds HTTPS-only settings) ----------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
PERMISSIONS_POLICY = "geolocation=(), microphone=(), camera=()"
# Content-Security-Policy (django-csp): our pages need no inline script or style. Forms post to
# ourselves; checkout then redirects to Stripe's hosted page, which form-action must allow.
_STRIPE_CHECKOUT_ORIGINS = ["https://checkout.stripe.com"]
if STRIPE_API_BASE:
    _STRIPE_CHECKOUT_ORIGINS.append(STRIPE_API_BASE.rstrip("/"))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *([MEDIA_ORIGIN] if MEDIA_ORIGIN else [])],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", *_STRIPE_CHECKOUT_ORIGINS],
    }
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Logging: one line per event, key=value, with the request id ----------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.logging.RequestIdFilter"}},
    "formatters": {"kv": {"()": "common.logging.KeyValueFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "kv",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}

SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
# Django's database sessions, created with one INSERT (no look-up of the new key first).
SESSION_ENGINE = "common.sessions"

# --- Errors: Sentry, only when SENTRY_DSN is set --------------------------------------------
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from ops.sentry import before_send

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=env("SENTRY_ENVIRONMENT", default="development"),
        release=env("SENTRY_RELEASE", default="") or None,
        # No cookies, user ids or IP addresses; before_send scrubs e-mails and secrets. (sentry-sdk
        # 2.75 prefers data_collection={...}; send_default_pii=False still means the same.)
        send_default_pii=False,
        before_send=before_send,
        before_send_transaction=before_send,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Metrics: /metrics for Prometheus (ops.views.metrics) ------------------------------------
# Off (404) while both are empty; each one that is set must be satisfied by the scraper.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# --- Alerts (ops.alerts, every 5 minutes, e-mailed to STAFF_NOTIFICATION_EMAILS) -------------
# LMS sync jobs failing within one hour that open an incident.
ALERT_LMS_FAILED_PER_HOUR = env.int("ALERT_LMS_FAILED_PER_HOUR", default=5)
# Minutes after payment a paid enrollment may wait for its LMS enrolment.
ALERT_LMS_PENDING_MINUTES = env.int("ALERT_LMS_PENDING_MINUTES", default=30)
