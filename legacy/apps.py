from django.apps import AppConfig


class LegacyConfig(AppConfig):
    """The import from the old MaalEdu (Next.js/MongoDB): ``manage.py import_legacy``.

    Top of the layering beside ``ops``: it writes every app's state through that app's services
    and nothing imports it.
    """

    name = "legacy"
    verbose_name = "Old MaalEdu import"
