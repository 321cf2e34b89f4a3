from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live transcription"

    def ready(self) -> None:
        from transcriptions.services.retention import purger_register

        from .services.retention import live_rows_purge

        # The hourly purge is transcriptions' schedule; that app may not import this one, so
        # this one hands it the purge of its own rows.
        purger_register(live_rows_purge)
