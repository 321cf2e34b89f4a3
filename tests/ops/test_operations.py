"""Operations: /healthz, /readyz, Prometheus metrics, JSON request logs, deploy settings."""

import hmac
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from api.middleware import UNKNOWN_ENDPOINT
from billing.models import UsageRecord
from config.settings.base import BASE_DIR
from ops import metrics as ops_metrics
from ops.workers import worker_heartbeat
from tests.audio import JFK
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_heartbeat_after_the_first_is_one_update():
    """It used to lock and read its row, then save it: a transaction holding SQLite's write
    lock, from a thread of a worker that may be decoding."""
    from ops.models import WorkerHeartbeat

    worker_heartbeat(models=["tiny.en"])
    first = WorkerHeartbeat.objects.get(pid=os.getpid())
    # The database's clock stamps a beat (SQLite's to the millisecond): let it move on.
    time.sleep(0.005)
    with CaptureQueriesContext(connection) as queries:
        worker_heartbeat(models=["tiny.en", "base"])
    sqls = [q["sql"] for q in queries.captured_queries]
    assert len(sqls) == 1 and sqls[0].startswith("UPDATE"), sqls
    beat = WorkerHeartbeat.objects.get(pid=os.getpid())
    assert beat.loaded_models == ["tiny.en", "base"] and beat.last_seen > first.last_seen
    assert beat.started_at == first.started_at and WorkerHeartbeat.objects.count() == 1


def test_readyz_needs_a_worker_with_models_loaded(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["broker"]["ok"]
    assert checks["workers"] == {"ok": False, "detail": "0 worker(s) with models loaded"}
    worker_heartbeat(models=["tiny.en"])
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def metrics(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    return families


def sample(families, name, suffix="", **labels):
    for s in families[name].samples:
        if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no sample {name}{suffix} {labels}")


def test_metrics_count_requests_jobs_and_audio(client, api_a):
    with JFK.open("rb") as f:
        assert (
            api_a.client.post(
                "/v1/audio/transcriptions", {"file": f, "model": "tiny.en"}, format="multipart"
            ).status_code
            == 200
        )
    api_a.client.post("/v1/audio/transcriptions", {"model": "tiny.en"}, format="multipart")
    families = metrics(client)
    endpoint = "/v1/audio/transcriptions"
    assert sample(families, "whisper_api_requests", "_total", endpoint=endpoint, status="200") == 1
    assert sample(families, "whisper_api_requests", "_total", endpoint=endpoint, status="400") == 1
    assert (
        sample(
            families,
            "whisper_api_request_duration_seconds",
            "_count",
            endpoint=endpoint,
            status_code="200",
        )
        == 1
    )
    assert sample(families, "whisper_jobs", status="succeeded") == 1
    assert sample(families, "whisper_queue_depth") == 0
    assert sample(families, "whisper_chunks", status="queued") == 0
    assert sample(families, "whisper_chunks", status="running") == 0
    assert sample(families, "whisper_audio_seconds", "_total", kind="billed") == 11
    assert sample(families, "whisper_job_duration_seconds", "_count", model="tiny.en") == 1
    assert 0 < sample(families, "whisper_job_duration_seconds", "_sum", model="tiny.en") < 60


def test_metrics_token(client, settings, monkeypatch):
    settings.METRICS_TOKEN = "s3cret"
    compared = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(ops_metrics.hmac, "compare_digest", spy)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cre").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cretX").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    assert len(compared) == 4, "every token compared in constant time, never with =="
    assert compared[-1] == (b"Bearer s3cret", b"Bearer s3cret")


def scrape_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        metrics(client)
    # Times in the queries (a worker's heartbeat deadline) change between scrapes.
    return [re.sub(r"'[^']*'", "?", q["sql"]) for q in queries.captured_queries]


def test_a_scrape_costs_the_same_at_any_size_of_the_usage_log(client, api_a):
    """Issue 11, hole 7: each scrape aggregated the whole usage table (0.42 s and 3 MB at 200k
    rows). Now it reads the request counters: the same queries at 10 rows as at 5,000 more,
    and none of them touches the usage table."""
    for _ in range(5):
        api_a.client.get("/v1/models")
        client.get("/v1/models")  # no key: counted only
    small = scrape_queries(client)

    UsageRecord.objects.bulk_create(
        UsageRecord(
            tenant=api_a.tenant,
            request_id=f"req_bulk_{i}",
            method="GET",
            endpoint="/v1/models",
            status_code=200,
        )
        for i in range(5_000)
    )
    large = scrape_queries(client)
    assert large == small, "the same queries, whatever the size of the log"
    assert len(large) <= 8
    assert not [sql for sql in large if UsageRecord._meta.db_table in sql]
    families = metrics(client)
    assert (
        sample(families, "whisper_api_requests", "_total", endpoint="/v1/models", status="200") == 5
    )
    assert (
        sample(families, "whisper_api_requests", "_total", endpoint="/v1/models", status="401") == 5
    )


def test_unknown_paths_share_one_metric_label(client):
    for i in range(25):
        assert client.get(f"/v1/probe/{i}").status_code == 404
    families = metrics(client)
    labels = {s.labels["endpoint"] for s in families["whisper_api_requests"].samples}
    assert labels == {UNKNOWN_ENDPOINT}
    assert (
        sample(families, "whisper_api_requests", "_total", endpoint=UNKNOWN_ENDPOINT, status="404")
        == 25
    )


def test_one_json_log_line_per_request_without_content(api_a, caplog):
    caplog.set_level(logging.INFO, logger="platform.requests")
    with JFK.open("rb") as f:
        response = api_a.client.post(
            "/v1/audio/transcriptions",
            {"file": f, "model": "tiny.en", "prompt": "SECRETWORD"},
            format="multipart",
        )
    records = [r for r in caplog.records if r.name == "platform.requests"]
    assert len(records) == 1
    from config.logging import JsonFormatter

    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == response["x-request-id"]
    assert line["status"] == 200 and line["tenant"] == api_a.tenant.slug
    assert line["api_key"] == api_a.api_key.prefix
    everything = " ".join(
        r.getMessage() + json.dumps(getattr(r, "json", {})) for r in caplog.records
    )
    transcript = Job.objects.get(request_id=response["x-request-id"]).text
    assert transcript and transcript not in everything
    assert "SECRETWORD" not in everything


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "API_KEY_PEPPER": secrets.token_urlsafe(40),
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "DJANGO_ALLOWED_HOSTS": "stt.example.com",
        "PLATFORM_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [
            sys.executable,
            str(BASE_DIR / "manage.py"),
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "System check identified no issues" in done.stdout


def test_production_settings_refuse_a_missing_secret_key(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "PLATFORM_VAR_DIR": str(tmp_path),
    }
    env.pop("DJANGO_SECRET_KEY", None)
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in done.stderr


def test_a_bad_boolean_is_a_configuration_error(tmp_path):
    env = {**os.environ, "DJANGO_DEBUG": "flase", "PLATFORM_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "DJANGO_DEBUG='flase' is not a boolean" in done.stderr


def production_check(tmp_path, **variables: str) -> subprocess.CompletedProcess:
    """`manage.py check` with the production settings and a valid environment, changed by
    `variables` (an empty value removes the variable)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "API_KEY_PEPPER": secrets.token_urlsafe(40),
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "PLATFORM_VAR_DIR": str(tmp_path),
    }
    for name, value in variables.items():
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_require_a_metrics_token(tmp_path):
    """Issue 11, hole 7: /metrics was open unless a token was set."""
    done = production_check(tmp_path, METRICS_TOKEN="")
    assert done.returncode != 0
    assert "METRICS_TOKEN must be set to 16+ random characters" in done.stderr
    assert production_check(tmp_path, METRICS_TOKEN="short").returncode != 0


def env_example() -> dict[str, str]:
    """The variables platform/env.example sets (comments and commented-out lines left out)."""
    variables = {}
    for line in (BASE_DIR / "platform" / "env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            variables[name.strip()] = value.strip()
    return variables


def test_production_refuses_the_placeholder_secrets_of_env_example(tmp_path):
    """Issue 11, hole 8: compose started production with the placeholder secrets of
    env.example, which anyone who read the repository knows. Started with the example's
    values, the production settings refuse, naming every placeholder still in place."""
    example = env_example()
    done = production_check(tmp_path, **{**example, "PLATFORM_VAR_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert (
        "DJANGO_SECRET_KEY, API_KEY_PEPPER, DATABASE_URL, METRICS_TOKEN still set to the "
        "placeholder of platform/env.example: set secrets of your own"
    ) in done.stderr
    # One left is enough to refuse: here the pepper, with everything else replaced.
    done = production_check(
        tmp_path,
        API_KEY_PEPPER=example["API_KEY_PEPPER"],
        DATABASE_URL="",
        PLATFORM_VAR_DIR=str(tmp_path),
    )
    assert done.returncode != 0
    assert "API_KEY_PEPPER still set to the placeholder" in done.stderr
    # Every secret the example shows is one the settings watch.
    commented = (BASE_DIR / "platform" / "env.example").read_text()
    for name in production_settings_secrets():
        assert f"{name}=" in commented
        assert f"{name}=change-me" in commented or ":change-me@" in commented


def production_settings_secrets() -> tuple[str, ...]:
    """The secret variables the production settings check (config/settings/secrets.py)."""
    from config.settings.secrets import SECRET_VARIABLES

    return tuple(SECRET_VARIABLES)


def test_compose_takes_the_secrets_from_the_operator(tmp_path):
    """platform/compose.yaml no longer feeds env.example: each secret must come from the
    operator's environment (compose refuses to start without it)."""
    compose = (BASE_DIR / "platform" / "compose.yaml").read_text()
    assert "env.example" not in compose.replace("placeholders of env.example", "")
    for name in ("DJANGO_SECRET_KEY", "API_KEY_PEPPER", "METRICS_TOKEN", "POSTGRES_PASSWORD"):
        assert f"${{{name}:?" in compose, name
    assert "whisper:whisper@" not in compose and "POSTGRES_PASSWORD: whisper" not in compose
