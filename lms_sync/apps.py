from django.apps import AppConfig


class LmsSyncConfig(AppConfig):
    name = "lms_sync"
    verbose_name = "LMS sync"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the enrollment signals)
