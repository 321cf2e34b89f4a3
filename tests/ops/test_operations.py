"""Operations: /healthz, /readyz, Prometheus metrics, JSON request logs, deploy settings."""

import json
import logging
import os
import secrets
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.settings.base import BASE_DIR
from ops.workers import worker_heartbeat
from tests.audio import JFK

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


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
    assert sample(families, "whisper_audio_seconds", "_total", kind="billed") == 11
    assert sample(families, "whisper_job_duration_seconds", "_count", model="tiny.en") == 1
    assert 0 < sample(families, "whisper_job_duration_seconds", "_sum", model="tiny.en") < 60


def test_metrics_token(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


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
    assert "SECRETWORD" not in everything and "fellow Americans" not in everything


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
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
