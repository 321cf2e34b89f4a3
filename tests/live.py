"""The e2e tests' platform: the shared harness (tools/live_platform.py) over a fresh database,
embedded (SQLite, ORM broker) by default, or PostgreSQL and Redis when the environment points
at them (CI's second pass)."""

import os
import uuid
from pathlib import Path

from tools.live_platform import BASE_DIR, LivePlatform

__all__ = ["LivePlatform", "make_platform", "production_like"]


def _postgres_admin(sql: str) -> None:
    import psycopg

    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def production_like() -> bool:
    """The CI's second pass: PostgreSQL and the Redis broker from the environment."""
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


def make_platform(tmp_dir: Path, **env_overrides: str) -> LivePlatform:
    """Migrate a fresh database, create a tenant and key with the operator commands. If that
    fails half-way, what was made is removed again."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "WHISPER_CACHE_DIR": str(BASE_DIR / "var" / "models"),
        "WEB_CONCURRENCY": "1",
        **env_overrides,
    }
    platform = LivePlatform(var_dir=tmp_dir, env=env)
    if production_like():
        # Its own database, queue name and cache prefix: nothing shared with the test run's
        # database or with another platform on the same Redis.
        name = f"whisper_e2e_{uuid.uuid4().hex[:10]}"
        _postgres_admin(f'CREATE DATABASE "{name}"')
        platform.cleanups.append(
            lambda: _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
        platform.env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        platform.env["Q_SITE_NAME"] = name
        platform.env["CACHE_KEY_PREFIX"] = name
    else:
        platform.env.pop("DATABASE_URL", None)
        platform.env.pop("REDIS_URL", None)
    try:
        platform.prepare(tenant="e2e", name="E2E")
    except BaseException:
        platform.stop()
        raise
    return platform
