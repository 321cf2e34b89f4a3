from django.apps import AppConfig


class TranscriptionsConfig(AppConfig):
    name = "transcriptions"
    verbose_name = "Transcriptions"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (worker start-up: preload models)
