from django.apps import AppConfig


class LmsSyncConfig(AppConfig):
    name = "lms_sync"
    verbose_name = "LMS sync"
