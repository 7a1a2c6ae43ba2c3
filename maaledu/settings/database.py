"""The database, chosen by ``DATABASE_URL`` alone: SQLite (the zero-setup default), PostgreSQL
(``postgres://…``, production and CI) or MongoDB (``mongodb://…`` or ``mongodb+srv://…`` for
Atlas) through django-mongodb-backend.

MongoDB needs ObjectId primary keys everywhere, so it brings its own migrations (each app's
``mongo_migrations``, and ``maaledu/mongo_migrations`` for the contrib and allauth apps), app
configs for the contrib apps (``maaledu/mongo_apps.py``) and an ObjectId ``SITE_ID``. What differs
and why: docs/mongodb.md.
"""

from urllib.parse import urlsplit

from .environment import BASE_DIR, env

DATABASE_URL = env("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
ON_MONGODB = urlsplit(DATABASE_URL).scheme in {"mongodb", "mongodb+srv"}

# The apps with models; each has ``migrations`` (SQL) and ``mongo_migrations`` (MongoDB).
PROJECT_APPS_WITH_MODELS = [
    "accounts",
    "affiliates",
    "common",
    "courses",
    "enrollments",
    "grants",
    "legacy",
    "lms_sync",
    "ops",
]
# Contrib and third-party apps whose models use AutoField: their MongoDB migrations live here.
CONTRIB_APPS_WITH_MODELS = ["account", "admin", "auth", "contenttypes", "sites"]

if ON_MONGODB:
    from bson import ObjectId

    DATABASES = {
        "default": {
            "ENGINE": "django_mongodb_backend",
            # The whole URI (hosts, replica set, credentials, options); the path names the database.
            "HOST": DATABASE_URL,
            "NAME": urlsplit(DATABASE_URL).path.strip("/") or "maaledu",
            "CONN_MAX_AGE": None,  # one pymongo client (its own pool) per process
        }
    }
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
    ALLAUTH_DEFAULT_AUTO_FIELD = DEFAULT_AUTO_FIELD
    MIGRATION_MODULES = {
        **{label: f"{label}.mongo_migrations" for label in PROJECT_APPS_WITH_MODELS},
        **{label: f"maaledu.mongo_migrations.{label}" for label in CONTRIB_APPS_WITH_MODELS},
    }
    SITE_ID = ObjectId("000000000000000000000001")
    SILENCED_SYSTEM_CHECKS = [
        "sites.E101",  # SITE_ID is an ObjectId on MongoDB, by design
        # CHECK constraints (W027) and the Lower("email") unique index (W044) do not exist on
        # MongoDB: the services enforce those rules on every backend (docs/mongodb.md).
        "models.W027",
        "models.W044",
    ]
    # allauth signs an e-mail address's primary key into its HMAC confirmation key with Django's
    # JSON signer, which cannot encode an ObjectId: confirmations are stored rows instead, each
    # with a random 64-character key.
    ACCOUNT_EMAIL_CONFIRMATION_HMAC = False
else:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["ATOMIC_REQUESTS"] = False
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    SITE_ID = 1
