"""The platform the benchmark starts for itself: the embedded setup as `make run` starts it
(tools/live_platform.py) over a temporary directory, with tenants and keys made by the operator
commands."""

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from .live_platform import LivePlatform

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_worker(workers: int) -> int:
    """WHISPER_CPU_THREADS as the settings derive it by default for `workers` workers."""
    return max(1, (settings.CPU_COUNT or 1) // workers)


class LocalPlatform(LivePlatform):
    """`manage.py serve` over a temporary directory; `workers`: Q_WORKERS (default: the
    settings'), each with the threads the settings give that many workers by default;
    `interactive_workers`: INTERACTIVE_WORKERS (default: the settings')."""

    TENANT = "benchmark"

    def __init__(
        self,
        *,
        model_id: str,
        preload_all: bool = False,
        workers: int | None = None,
        interactive_workers: int | None = None,
    ) -> None:
        env = dict(os.environ)
        # The embedded setup, whatever this shell points at: never an operator's database,
        # Redis queue or media directory.
        for name in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "STATIC_ROOT"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            # Reassembled model files are reused, not rebuilt in the temporary directory.
            WHISPER_CACHE_DIR=str(settings.WHISPER_CACHE_DIR),
            # The concurrent rounds are one tenant's requests at once: measured as throughput,
            # not refused by the per-tenant cap on waiting requests (a fairness policy between
            # tenants, of which the benchmark has one).
            SYNC_WAITS_PER_TENANT="64",
        )
        self.workers = settings.Q_WORKERS if workers is None else workers
        self.threads = settings.WHISPER_CPU_THREADS
        if workers is not None:
            # This process's settings set the BLAS/OpenMP variables for its own worker count:
            # the started platform gets those of its own, as its settings would derive them.
            self.threads = threads_per_worker(workers)
            env.update(Q_WORKERS=str(workers), WHISPER_CPU_THREADS=str(self.threads))
            env.update(dict.fromkeys(THREAD_VARIABLES, str(self.threads)))
        if interactive_workers is not None:
            env["INTERACTIVE_WORKERS"] = str(interactive_workers)
        if not preload_all:
            env["WHISPER_PRELOAD_MODELS"] = model_id
        super().__init__(var_dir=Path(tempfile.mkdtemp(prefix="whisper-benchmark-")), env=env)
        self.model_id = model_id
        self.preloaded = env.get("WHISPER_PRELOAD_MODELS") or ",".join(
            settings.WHISPER_PRELOAD_MODELS
        )
        self.cleanups.append(lambda: shutil.rmtree(self.var_dir, ignore_errors=True))

    def add_tenant(self, slug: str, *, name: str) -> str:
        """Another tenant, by the same operator commands as the first; returns its API key."""
        made, key = self.manage_many(
            ["create_tenant", slug, "--name", name], ["create_api_key", slug, "--name", slug]
        )
        if made != slug:
            raise RuntimeError(f"create_tenant did not print {slug!r}")
        return key

    def set_limits(self, slug: str, **limits: int) -> None:
        """`manage.py set_tenant_limits`: per-tenant overrides of the plan's limits."""
        args = [f"--{name.replace('_', '-')}={value}" for name, value in limits.items()]
        self.manage("set_tenant_limits", slug, *args)
