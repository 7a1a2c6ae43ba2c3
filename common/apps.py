from django.apps import AppConfig


class CommonConfig(AppConfig):
    """The shared library. An installed app only for its one model, the e-mail outbox
    (``common.outbox``); it imports no app of ours."""

    name = "common"
    verbose_name = "Shared"

    def ready(self) -> None:
        # The outbox's admin page; ``common/admin.py`` is the admin base-class library, which
        # the project imports before the app registry is ready, so it cannot register models.
        from . import outbox_admin  # noqa: F401
        from .routes import register_converters

        # ``<pk:…>`` in URL patterns: an integer on SQL databases, an ObjectId on MongoDB.
        register_converters()
