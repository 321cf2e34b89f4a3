"""The e2e tests' platform: the shared harness (tools/live_platform.py) over a fresh database,
embedded (SQLite, ORM broker) by default, or PostgreSQL and Redis when the environment points
at them (CI's second pass).

Every platform of a test session starts from one template, migrated and with its static files
collected once: a copy of the SQLite file, or a PostgreSQL database created from the template
database. Each platform still gets a database of its own.
"""

import atexit
import os
import sqlite3
import uuid
from contextlib import closing
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


# The session's templates, by the directory they live in (pytest's basetemp).
_templates: dict[Path, LivePlatform] = {}


def _template(root: Path, env: dict[str, str]) -> LivePlatform:
    """Migrate a template database and collect the static files, once per test session; the
    template's environment is the base one (no platform's overrides: migrations read none)."""
    if root in _templates:
        return _templates[root]
    template = LivePlatform(var_dir=root / "platform-template", env=env)
    template.env["STATIC_ROOT"] = str(template.var_dir / "static")
    if production_like():
        name = f"whisper_e2e_template_{uuid.uuid4().hex[:10]}"
        _postgres_admin(f'CREATE DATABASE "{name}"')
        atexit.register(_postgres_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        template.env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        template.database = name
    else:
        template.env.pop("DATABASE_URL", None)
        template.env.pop("REDIS_URL", None)
    template.var_dir.mkdir(parents=True, exist_ok=True)
    template.manage("migrate", "--noinput")
    template.manage("collectstatic", "--noinput", "--verbosity", "0")
    _templates[root] = template
    return template


def make_platform(tmp_dir: Path, **env_overrides: str) -> LivePlatform:
    """A fresh database (a copy of the session's migrated template), a tenant and key made
    with the operator commands. If that fails half-way, what was made is removed again."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "WHISPER_CACHE_DIR": str(BASE_DIR / "var" / "models"),
        "WEB_CONCURRENCY": "1",
    }
    template = _template(Path(tmp_dir).parent, env)
    platform = LivePlatform(var_dir=tmp_dir, env={**env, **env_overrides})
    platform.env["STATIC_ROOT"] = template.env["STATIC_ROOT"]
    if production_like():
        # Its own database, queue name and cache prefix: nothing shared with the test run's
        # database or with another platform on the same Redis.
        name = f"whisper_e2e_{uuid.uuid4().hex[:10]}"
        _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"')
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
        if not production_like():
            platform.var_dir.mkdir(parents=True, exist_ok=True)
            # sqlite3's backup: a consistent copy whatever the journal mode.
            with (
                closing(sqlite3.connect(template.var_dir / "db.sqlite3")) as source,
                closing(sqlite3.connect(platform.var_dir / "db.sqlite3")) as copy,
            ):
                source.backup(copy)
        platform.prepare(tenant="e2e", name="E2E", migrated=True)
    except BaseException:
        platform.stop()
        raise
    return platform
