from django.apps import AppConfig


class TranscriptionsConfig(AppConfig):
    name = "transcriptions"
    verbose_name = "Transcriptions"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401  (worker start-up: preload models)
        from .engine_config import configure_engine

        # The engine reads no Django settings: they are handed to it here, once per process.
        configure_engine()

        post_migrate.connect(_install_schedules, sender=self)


def _install_schedules(sender, **kwargs) -> None:
    # The periodic tasks live in code (services.recovery.SCHEDULES); every migrate brings the
    # database's django-q2 schedules in line with it.
    from .services import schedules_install

    schedules_install()
