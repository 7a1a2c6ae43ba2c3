"""App configs for the contrib apps with models when the database is MongoDB: every model there
needs an ObjectId primary key (django-mongodb-backend has no AutoField). settings/database.py
points their migrations at ``maaledu/mongo_migrations``; allauth's account app takes its key type
from ``ALLAUTH_DEFAULT_AUTO_FIELD`` instead."""

from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig
from django.contrib.sites.apps import SitesConfig

from maaledu.apps import MaalEduAdminConfig

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(MaalEduAdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoSitesConfig(SitesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
