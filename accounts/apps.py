from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users"

    def ready(self):
        from . import receivers  # noqa: F401 (connects the user-version receivers)
