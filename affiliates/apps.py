from django.apps import AppConfig


class AffiliatesConfig(AppConfig):
    name = "affiliates"
    verbose_name = "Affiliates"

    def ready(self):
        from . import receivers  # noqa: F401 (connects the user-version receivers)
