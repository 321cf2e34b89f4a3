"""The production topology on this machine, on the harness's own servers: PostgreSQL, the
Redis broker and cache, two web processes (gunicorn, WEB_CONCURRENCY=2) and two qclusters
(`serve --clusters 2`, as two worker machines), and three tenants with keys. The platform is
tools.live_platform's, as the e2e tests and the benchmark start it."""

import contextlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tools.live_platform import BASE_DIR, LivePlatform

from .servers import PostgresServer, RedisServer, temp_root

if TYPE_CHECKING:
    from .scenarios import Fault

TENANTS = ("north", "south", "east")
# Workers per cluster: one batch worker and one kept for waiting clients (settings.workers).
Q_WORKERS = 1
CLUSTERS = 2


@dataclass
class Topology:
    root: Path
    postgres: PostgresServer
    redis: RedisServer
    platform: LivePlatform
    # slug -> API key
    keys: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.platform.stop()
        self.redis.destroy()
        self.postgres.destroy()
        shutil.rmtree(self.root, ignore_errors=True)  # the platform's var dir (media, logs)


def topology_start(
    *, job_timeout: int = 120, env: dict[str, str] | None = None, faults: Sequence["Fault"] = ()
) -> Topology:
    """Everything started and ready (readyz 200, every worker holding its model), or nothing
    left running. `job_timeout`: the platform's JOB_TIMEOUT, the longest a client may wait;
    `env`: more settings for the platform; `faults`: those to be run, whose `prepare` may add
    to the platform's environment."""
    root = temp_root()
    postgres = PostgresServer(root / "postgres")
    redis = RedisServer(root / "redis")
    platform = None
    cleanups = []
    try:
        postgres.init()
        postgres.start()
        redis.start()
        database = f"whisper_faults_{uuid.uuid4().hex[:8]}"
        postgres.sql(f'CREATE DATABASE "{database}"')
        overrides = env or {}
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "WHISPER_CACHE_DIR": str(BASE_DIR / "var" / "models"),
            "DATABASE_URL": postgres.url(database),
            "REDIS_URL": redis.url,
            "WEB_CONCURRENCY": "2",
            "Q_WORKERS": str(Q_WORKERS),
            "INTERACTIVE_WORKERS": "1",
            "WHISPER_PRELOAD_MODELS": "tiny.en",
            "JOB_TIMEOUT": str(job_timeout),
            # Heartbeats and the dead-worker check on the short side: a fault's aftermath is
            # visible within the run.
            "WORKER_STALE_SECONDS": "30",
            # Its own temp folder (uploads spooled to disk, lane files): the soak counts them.
            "TMPDIR": str(root / "platform" / "tmp"),
            **overrides,
        }
        (root / "platform" / "tmp").mkdir(parents=True, exist_ok=True)
        for fault in faults:
            if fault.prepare:
                env.update(fault.prepare(root))
            if fault.cleanup:
                cleanups.append(fault.cleanup)
        platform = LivePlatform(var_dir=root / "platform", env=env)
        platform.cleanups += [lambda cleanup=cleanup: cleanup(root) for cleanup in cleanups]
        platform.clusters = CLUSTERS
        platform.env["STATIC_ROOT"] = str(platform.var_dir / "static")
        platform.prepare(tenant=TENANTS[0], name=TENANTS[0])
        commands = []
        for slug in TENANTS[1:]:
            commands += [["create_tenant", slug, "--name", slug]]
            commands += [["create_api_key", slug, "--name", slug]]
        limits = ["--requests-per-minute=1200", "--concurrent-jobs=50"]
        limits += ["--monthly-audio-seconds=100000000"]
        commands += [["set_tenant_limits", slug, *limits] for slug in TENANTS]
        outputs = platform.manage_many(*commands)
        keys = {TENANTS[0]: platform.key}
        # The others' (create_tenant, create_api_key) outputs come first, in pairs.
        made = outputs[: 2 * len(TENANTS[1:])]
        keys.update(zip(TENANTS[1:], made[1::2], strict=True))
        platform.start(workers_ready=CLUSTERS * (Q_WORKERS + 1), model="tiny.en")
    except BaseException:
        if platform is not None:
            platform.stop()
        else:
            for cleanup in cleanups:
                cleanup(root)
        redis.destroy()
        postgres.destroy()
        raise
    return Topology(root=root, postgres=postgres, redis=redis, platform=platform, keys=keys)
