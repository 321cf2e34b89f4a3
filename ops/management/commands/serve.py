"""Run the web server and the django-q2 clusters together in the foreground (`make run`): the
inference workers and the callbacks cluster.

Production runs them as separate services (platform/); this is the one-command local setup.
Ctrl-C, SIGINT or SIGTERM to the process group, or SIGTERM (or SIGHUP) to `serve` alone stop
everything within STOP_SECONDS; if a child dies, the others are stopped too.

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches `serve`
only, and `serve` stops each child the way it expects: SIGTERM to gunicorn's master, SIGTERM to
the qcluster process (django-q2's Cluster then stops its sentinel, which stops its workers).
Anything of a child's group still there at the deadline (a worker busy with a long job, a
sentinel whose parent died) is killed as a group; a job cut short that way is retried by the
platform's dead-worker recovery, as after any crash.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# Graceful stop first; whatever is left at this point is killed, so the whole stop stays well
# under 5 s (a test holds it to that).
GRACE_SECONDS = 2.0
STOP_SECONDS = 3.5


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. A killed worker whose sentinel died with it is
    an orphan zombie until init reaps it, which some inits do late or never; signal 0 counts it,
    so on Linux the group's members are read from /proc and zombies left out."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit() and _running_in_group(entry / "stat", pgid):
            return True
    return False


def _running_in_group(stat_path: Path, pgid: int) -> bool:
    try:
        stat = stat_path.read_text()
    except OSError:
        return False  # gone meanwhile
    # After the command's name (which may hold spaces or parentheses): state, ppid, pgrp.
    state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
    return state != "Z" and int(group) == pgid


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def children_stop(children: list[subprocess.Popen]) -> None:
    """SIGTERM to each child, wait for its whole group, SIGKILL the group at the deadline."""
    start = time.monotonic()
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for limit, final in ((GRACE_SECONDS, False), (STOP_SECONDS, True)):
        while time.monotonic() - start < limit:
            for child in children:
                child.poll()  # reap a leader that exited, or its zombie keeps the group "alive"
            if not any(group_alive(child.pid) for child in children):
                return
            time.sleep(0.05)
        if not final:
            for child in children:
                _killpg(child.pid, signal.SIGKILL)
    for child in children:
        child.wait()


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
        # (command, the cluster it runs): the web server, the site's clusters, then one
        # cluster per queue of its own (ALT_CLUSTERS: the callbacks), which django-q2 picks
        # by Q_CLUSTER_NAME.
        commands = [
            ([sys.executable, "-m", "gunicorn", "-c", str(config)], site),
            *[(qcluster, site)] * clusters,
            *[(qcluster, name) for name in settings.Q_CLUSTER.get("ALT_CLUSTERS", {})],
        ]
        stopping = threading.Event()

        def on_signal(signum, frame) -> None:
            stopping.set()

        # Before the first child exists, so a signal during start-up is not lost.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, on_signal)
        children: list[subprocess.Popen] = []
        try:
            for command, cluster in commands:
                if stopping.is_set():
                    break
                children.append(
                    subprocess.Popen(
                        command,
                        env={**env, "Q_CLUSTER_NAME": cluster},
                        cwd=settings.BASE_DIR,
                        process_group=0,
                    )
                )
            workers = settings.Q_WORKERS * clusters
            kept = settings.INTERACTIVE_WORKERS * clusters
            self.stdout.write(
                f"Serving on http://{host}:{port}/ with {workers} worker(s)"
                f" and {kept} more for requests with a client waiting."
            )
            self.stdout.flush()
            while not stopping.wait(0.2):
                if any(child.poll() is not None for child in children):
                    self.stderr.write("A child process exited; stopping the others.")
                    break
        finally:
            children_stop(children)
