import logging

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin.apps import AdminConfig

logger = logging.getLogger(__name__)


class MaalEduConfig(AppConfig):
    """Project-wide pieces: templates for errors and e-mail, health checks, start-up notices."""

    name = "maaledu"
    verbose_name = "MaalEdu"

    def ready(self) -> None:
        if not settings.REDIS_URL:
            logger.warning(
                "event=startup.no_redis detail=%s",
                "REDIS_URL is not set: using a local-memory cache and running Celery tasks "
                "in-process (fine for development, not for production)",
            )


class MaalEduAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the site's own default admin site."""

    default_site = "common.admin.MaalEduAdminSite"
