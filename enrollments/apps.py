from django.apps import AppConfig


class EnrollmentsConfig(AppConfig):
    name = "enrollments"
    verbose_name = "Enrollments and payments"

    def ready(self):
        from . import receivers  # noqa: F401 (connects the sign-in and sign-out receivers)
