"""The e2e tests' platform: the shared harness (tools/live_platform.py) over a fresh database,
embedded (SQLite, ORM broker) by default, or PostgreSQL and Redis when the environment points
at them (CI's second pass).

Every platform of a test session starts from one template, migrated, with its static files
collected and the e2e tenant and its key made by the operator commands once: a copy of the
SQLite file, or a PostgreSQL database created from the template database. Each platform still
gets a database of its own (the same tenant and key in each: no two platforms share a
database, a cache prefix or a queue). Under pytest-xdist the SQLite template is made once for
the whole run, by the first process that needs it (the others wait for it): each of
`make test`'s processes made its own, three times the same work while every process was
starting its first platform.
"""

import atexit
import fcntl
import json
import os
import shutil
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


# The session's templates, by the directory they live in.
_templates: dict[Path, LivePlatform] = {}
TENANT, TENANT_NAME = "e2e", "E2E"


def _template(root: Path, env: dict[str, str]) -> LivePlatform:
    """The template for the platforms under `root` (pytest's basetemp of this process), made
    once; the template's environment is the base one (no platform's overrides: migrations read
    none). An embedded one is shared by the run's processes (pytest-xdist)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run and not production_like():
        # The processes' basetemps are folders of one run's folder: its template is theirs.
        root = root.parent
    if root in _templates:
        return _templates[root]
    template = LivePlatform(var_dir=root / "platform-template", env=env)
    template.env["STATIC_ROOT"] = str(template.var_dir / "static")
    if production_like():
        _template_postgres(template)
    else:
        template.env.pop("DATABASE_URL", None)
        template.env.pop("REDIS_URL", None)
        with (root / "platform-template.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process of the run may be making it
            _template_sqlite(template)
    _templates[root] = template
    return template


def _template_sqlite(template: LivePlatform) -> None:
    """Made in a folder of its own and renamed into place when done, its tenant and key kept
    beside it: a process that finds it finds it whole."""
    if not template.var_dir.exists():
        building = template.var_dir.with_name(f"{template.var_dir.name}-{uuid.uuid4().hex[:8]}")
        try:
            maker = LivePlatform(var_dir=building, env=template.env)
            maker.env["STATIC_ROOT"] = str(building / "static")
            maker.prepare(tenant=TENANT, name=TENANT_NAME)
            made = {"tenant": maker.tenant, "key": maker.key}
            (building / "made.json").write_text(json.dumps(made))
            building.rename(template.var_dir)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    entry = json.loads((template.var_dir / "made.json").read_text())
    template.tenant, template.key = entry["tenant"], entry["key"]


def _template_postgres(template: LivePlatform) -> None:
    name = f"whisper_e2e_template_{uuid.uuid4().hex[:10]}"
    _postgres_admin(f'CREATE DATABASE "{name}"')
    atexit.register(_postgres_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    template.env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    template.database = name
    template.prepare(tenant=TENANT, name=TENANT_NAME)


def make_platform(tmp_dir: Path, **env_overrides: str) -> LivePlatform:
    """A fresh database (a copy of the session's template, its tenant and key made with the
    operator commands). If that fails half-way, what was made is removed again."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "WHISPER_CACHE_DIR": str(BASE_DIR / "var" / "models"),
        "WEB_CONCURRENCY": "1",
        # One decoding thread per worker: the suite runs several platforms and test processes
        # on the machine's cores at once, where a second thread per decode costs more CPU than
        # it saves time. No test here is about a decode's threads (the benchmark's own
        # platform keeps the product's default).
        "WHISPER_CPU_THREADS": "1",
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
        platform.var_dir.mkdir(parents=True, exist_ok=True)
        if not production_like():
            # sqlite3's backup: a consistent copy whatever the journal mode.
            with (
                closing(sqlite3.connect(template.var_dir / "db.sqlite3")) as source,
                closing(sqlite3.connect(platform.var_dir / "db.sqlite3")) as copy,
            ):
                source.backup(copy)
        platform.tenant, platform.key = template.tenant, template.key
    except BaseException:
        platform.stop()
        raise
    return platform
