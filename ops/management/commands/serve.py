"""Run the web server and the django-q2 workers together in the foreground (`make run`).

Production runs them as separate services (platform/); this is the one-command local setup.
Ctrl-C (or SIGTERM) stops both; if either dies, the other is stopped too.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start gunicorn and the django-q2 cluster; stop both on Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--clusters",
            type=int,
            default=1,
            help="separate qcluster processes to start (as separate worker machines would be)",
        )

    def handle(self, *args, port: int, host: str, clusters: int, **options) -> None:
        env = {**os.environ, "BIND": f"{host}:{port}"}
        config = settings.BASE_DIR / "platform" / "gunicorn.conf.py"
        commands = [
            [sys.executable, "-m", "gunicorn", "-c", str(config)],
            *[[sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]] * clusters,
        ]
        children = [subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for cmd in commands]
        workers = settings.Q_WORKERS * clusters
        self.stdout.write(f"Serving on http://{host}:{port}/ with {workers} worker(s).")

        def stop(signum=None, frame=None) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            stop()
            deadline = time.monotonic() + 30
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
