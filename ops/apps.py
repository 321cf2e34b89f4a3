from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Before any cluster starts (qcluster runs after every app is ready).
        from .worker_queues import queues_install

        queues_install()
