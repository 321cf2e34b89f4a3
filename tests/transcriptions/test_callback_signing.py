"""Job callbacks, continued: signatures over a timestamp and the body (replays refused), the
operator's secret command, and the callbacks cluster kept apart from the inference workers.

No test here sends traffic anywhere but loopback (`loopback_only`)."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django_q.conf import Conf

from ops.models import WorkerHeartbeat
from tests.audio import JFK_TEXT, words
from transcriptions import signals
from transcriptions.services import callbacks

from .conftest import shown_attempts, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("loopback_only"),
    pytest.mark.fake_engine,
]


@pytest.mark.inference
def test_callback_is_signed_over_timestamp_and_body(api_a, receiver, private_allowed):
    listener = receiver()
    before = int(time.time())
    job_id = submit(api_a, callback_url=listener.url).json()["id"]
    [record] = listener.received
    payload = json.loads(record.body)
    assert payload["id"] == job_id and payload["status"] == "succeeded"
    assert words(payload["result"]["text"]) == words(JFK_TEXT)

    timestamp = record.headers["X-Signature-Timestamp"]
    assert before <= int(timestamp) <= time.time()
    secret = callbacks.callback_secret_get(tenant=api_a.tenant)
    # What the README's receiver computes, independently of the platform's code.
    signed = timestamp.encode() + b"." + record.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(record.headers["X-Signature"], expected)
    assert callbacks.callback_signature_verify(
        secret=secret, body=record.body, timestamp=timestamp, signature=expected
    )
    readme_verify = readme_receiver()
    assert readme_verify(secret, record.body, record.headers)
    assert not readme_verify(secret, record.body + b" ", record.headers)
    attempts = [(a["status_code"], a["delivered"]) for a in shown_attempts(api_a, job_id)]
    assert attempts == [(200, True)]


def readme_receiver():
    """The receiver example of docs/api/jobs.md, as printed there."""
    readme = (Path(django_settings.BASE_DIR) / "docs" / "api" / "jobs.md").read_text()
    [code] = [block for block in readme.split("```python")[1:] if "def verify(" in block]
    namespace: dict = {}
    exec(code.split("```")[0], namespace)
    return namespace["verify"]


def test_the_readme_receiver_refuses_a_replay_after_five_minutes(monkeypatch):
    verify = readme_receiver()
    body, secret, ts = b'{"id": "job_1"}', "whsec_x", int(time.time())
    headers = {
        "X-Signature-Timestamp": str(ts),
        "X-Signature": callbacks.callback_sign(secret=secret, body=body, timestamp=ts),
    }
    assert verify(secret, body, headers)
    monkeypatch.setattr(time, "time", lambda: ts + 301)
    assert not verify(secret, body, headers)


def test_a_replayed_or_forged_callback_fails_verification(tenant_a):
    secret = callbacks.callback_secret_get(tenant=tenant_a)
    body = b'{"status": "succeeded"}'
    ts = int(time.time())
    signature = callbacks.callback_sign(secret=secret, body=body, timestamp=ts)

    def verify(**overrides):
        fields = {"secret": secret, "body": body, "timestamp": str(ts), "signature": signature}
        return callbacks.callback_signature_verify(**{**fields, **overrides})

    assert verify()
    assert not verify(body=b'{"status": "failed"}'), "a forged body"
    assert not verify(timestamp=str(ts + 1)), "the signature covers the timestamp"
    assert not verify(now=ts + callbacks.SIGNATURE_TOLERANCE_SECONDS + 1), "a replay, later"
    assert not verify(timestamp="soon")
    assert callbacks.callback_secret_rotate(tenant=tenant_a) != secret
    assert not verify(secret=callbacks.callback_secret_get(tenant=tenant_a))


def test_callback_secret_command(tenant_a):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("callback_secret", tenant_a.slug, stdout=out)
    assert out.getvalue().strip() == callbacks.callback_secret_get(tenant=tenant_a)
    call_command("callback_secret", tenant_a.slug, "--rotate", stdout=out)
    assert out.getvalue().split()[-1] == callbacks.callback_secret_get(tenant=tenant_a)


# --- Hole 3: callbacks never on inference workers ----------------------------------------------


def test_a_callbacks_process_loads_no_model_and_is_no_worker(monkeypatch):
    def preload():
        raise AssertionError("a callbacks process loaded a model")

    monkeypatch.setattr(signals.engine, "preload", preload)
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", django_settings.CALLBACK_CLUSTER)
    signals.on_worker_spawn(sender=None, proc_name="Process-1")
    assert not WorkerHeartbeat.objects.exists(), "no heartbeat: not counted as a worker"


def test_the_callbacks_cluster_is_configured_apart():
    alt = django_settings.Q_CLUSTER["ALT_CLUSTERS"][django_settings.CALLBACK_CLUSTER]
    assert django_settings.Q_CLUSTER["name"] != django_settings.CALLBACK_CLUSTER
    assert alt["timeout"] < alt["retry"]
    assert alt["timeout"] >= django_settings.CALLBACK_TIMEOUT


def _settings_error(**env) -> str:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", **env}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
        timeout=60,
    )
    return done.stderr


def test_settings_refuse_a_bad_allow_private_or_an_unknown_cluster():
    assert "CALLBACK_ALLOW_PRIVATE='maybe' is not a boolean" in _settings_error(
        CALLBACK_ALLOW_PRIVATE="maybe"
    )
    error = _settings_error(Q_SITE_NAME="site", Q_CLUSTER_NAME="elsewhere")
    assert "Q_CLUSTER_NAME='elsewhere' is neither the site" in error
    assert _settings_error(Q_SITE_NAME="site", Q_CLUSTER_NAME="site-callbacks") == ""


def test_production_files_run_the_callbacks_cluster_of_the_site():
    platform_dir = Path(django_settings.BASE_DIR) / "platform"
    env = dict(
        line.split("=", 1)
        for line in (platform_dir / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert "Q_CLUSTER_NAME" not in env, "set per service, not for every process"
    name = f"{env['Q_SITE_NAME']}-callbacks"
    compose = (platform_dir / "compose.yaml").read_text()
    assert f"Q_CLUSTER_NAME: {name}" in compose
    unit = (platform_dir / "systemd" / "whisper-callbacks.service").read_text()
    assert f"Environment=Q_CLUSTER_NAME={name}" in unit
    assert "ExecStart=/opt/whisper-platform/.venv/bin/python manage.py qcluster" in unit
    assert env["CALLBACK_ALLOW_PRIVATE"] == "false"
