"""Run the web server and the django-q2 clusters together in the foreground (`make run`): the
inference workers and the callbacks cluster.

Production runs them as separate services (platform/); this is the one-command local setup.
Ctrl-C, SIGINT or SIGTERM to the process group, or SIGTERM (or SIGHUP) to `serve` alone stop
everything within ops.children.STOP_SECONDS. A child that exits on its own is started again,
as the systemd units restart theirs (ops.children); one that keeps exiting at its start stops
everything, `serve` exiting 1.

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches `serve`
only, and `serve` stops each child the way it expects: SIGTERM to gunicorn's master, SIGTERM to
the qcluster process (django-q2's Cluster then stops its sentinel, which stops its workers).
Anything of a child's group still there at the deadline (a worker busy with a long job, a
sentinel whose parent died) is killed as a group; a job cut short that way is retried by the
platform's dead-worker recovery, as after any crash.
"""

import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ops.children import Child, children_stop


def static_files_ensure(stdout) -> None:
    """Collect the static files when STATIC_ROOT has none: the web process serves CSS and JS
    only from there (WhiteNoise), so a first `serve` without `collectstatic` would give pages
    without them. `make run` and the e2e harness collect first; this is for a bare `serve`."""
    root = Path(settings.STATIC_ROOT)
    if root.is_dir() and any(path.is_file() for path in root.rglob("*")):
        return
    stdout.write(f"No static files in {root}: collecting them first (manage.py collectstatic).")
    call_command("collectstatic", interactive=False, verbosity=0)


def cluster_environment(base: Mapping[str, str], *, clusters: int) -> dict[str, str]:
    """The children's environment. Spare turns are for another cluster's free workers
    (settings.SPARE_TURNS): with one cluster they only cost each job a second queue insert,
    take and task, beside its first chunk's start. An operator's own value is kept."""
    env = dict(base)
    if clusters == 1:
        env.setdefault("SPARE_TURNS", "0")
    return env


class Command(BaseCommand):
    help = "Start gunicorn and the django-q2 clusters; stop them all on Ctrl-C."

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
        static_files_ensure(self.stdout)
        site = settings.Q_CLUSTER["name"]
        env = cluster_environment(os.environ, clusters=clusters)
        env.update(BIND=f"{host}:{port}", Q_SITE_NAME=site)
        config = settings.BASE_DIR / "platform" / "gunicorn.conf.py"
        qcluster = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
        # (name, command, the cluster it runs): the web server, the site's clusters, then one
        # cluster per queue of its own (ALT_CLUSTERS: the callbacks), which django-q2 picks
        # by Q_CLUSTER_NAME.
        commands = [
            ("gunicorn", [sys.executable, "-m", "gunicorn", "-c", str(config)], site),
            *[(f"qcluster {site}", qcluster, site)] * clusters,
            *[
                (f"qcluster {name}", qcluster, name)
                for name in settings.Q_CLUSTER.get("ALT_CLUSTERS", {})
            ],
        ]
        stopping = threading.Event()

        def on_signal(signum, frame) -> None:
            stopping.set()

        # Before the first child exists, so a signal during start-up is not lost.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, on_signal)
        children: list[Child] = []
        given_up = False
        try:
            for name, command, cluster in commands:
                if stopping.is_set():
                    break
                child = Child(name, command, {**env, "Q_CLUSTER_NAME": cluster}, settings.BASE_DIR)
                child.start()
                children.append(child)
            workers = settings.Q_WORKERS * clusters
            kept = settings.INTERACTIVE_WORKERS * clusters
            self.stdout.write(
                f"Serving on http://{host}:{port}/ with {workers} worker(s)"
                f" and {kept} more for requests with a client waiting."
            )
            self.stdout.flush()
            while not stopping.wait(0.2):
                ended = [child for child in children if child.exited()]
                if not all(child.restart(self._say) for child in ended):
                    self._say("Stopping the others.")
                    given_up = True
                    break
        finally:
            children_stop([child.process for child in children if child.process])
        if given_up:
            sys.exit(1)

    def _say(self, line: str) -> None:
        self.stderr.write(line)
        self.stderr.flush()
