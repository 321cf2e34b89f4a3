"""API keys: format, hashing, authentication and the operator commands."""

import hashlib
import hmac
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Tenant
from accounts.selectors import api_key_find
from accounts.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_key_is_prefixed_high_entropy_and_stored_only_as_hmac(tenant_a):
    api_key, key = api_key_create(tenant=tenant_a, name="ci")
    assert key.startswith("sk-") and len(key) == 55
    assert key[3:].isalnum()
    assert api_key.prefix == key[:15]
    expected = hmac.new(settings.API_KEY_PEPPER.encode(), key.encode(), hashlib.sha256).hexdigest()
    assert api_key.hashed_key == expected
    stored = ApiKey.objects.filter(pk=api_key.pk).values_list()[0]
    assert key not in [str(v) for v in stored], "the plain key is never stored"
    assert api_key_find(key=key) == api_key
    assert api_key_find(key=key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert api_key_find(key="sk-short") is None


def test_two_keys_differ(tenant_a):
    keys = {api_key_create(tenant=tenant_a)[1] for _ in range(20)}
    assert len(keys) == 20


def test_revoke_is_idempotent_and_keeps_first_time(tenant_a):
    api_key, _ = api_key_create(tenant=tenant_a)
    first = api_key_revoke(prefix=api_key.prefix).revoked_at
    assert api_key_revoke(prefix=api_key.prefix).revoked_at == first


def test_last_used_is_recorded(api_a):
    assert api_a.client.get("/v1/models").status_code == 200
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.last_used_at is not None


def test_keys_of_a_deactivated_tenant_are_refused(api_a):
    Tenant.objects.filter(pk=api_a.tenant.pk).update(is_active=False)
    response = api_a.client.get("/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The organization of this API key is deactivated."


def test_create_tenant_prints_slug_and_refuses_duplicates():
    assert run("create_tenant", "initech", "--name", "Initech") == "initech\n"
    assert Tenant.objects.get(slug="initech").name == "Initech"
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "initech")


def test_create_api_key_prints_the_key_alone(tenant_a, client):
    out = run("create_api_key", tenant_a.slug, "--name", "deploy")
    key = out.strip()
    assert out == key + "\n" and key.startswith("sk-")
    api_key = api_key_find(key=key)
    assert api_key.tenant == tenant_a and api_key.name == "deploy"
    response = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200


def test_create_api_key_with_expiry(tenant_a):
    key = run("create_api_key", tenant_a.slug, "--expires-in-days", "7").strip()
    assert api_key_find(key=key).expires_at is not None


def test_create_api_key_for_unknown_tenant():
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        run("create_api_key", "nope")


def test_revoke_api_key_command_makes_the_api_refuse_it(tenant_a, client):
    key = run("create_api_key", tenant_a.slug).strip()
    assert run("revoke_api_key", key[:15]) == key[:15] + "\n"
    response = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401
    assert "has been revoked" in response.json()["error"]["message"]
    with pytest.raises(CommandError, match="No API key with prefix"):
        run("revoke_api_key", "sk-doesnotexist")


def test_ensure_demo_keeps_one_working_key(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    first = run("ensure_demo").strip()
    assert run("ensure_demo").strip() == first, "a restart keeps the demo key"
    assert (tmp_path / "demo-api-key").stat().st_mode & 0o777 == 0o600
    api_key_revoke(prefix=first[:15])
    second = run("ensure_demo").strip()
    assert second != first
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_ensure_demo_login_gives_a_dashboard_sign_in(settings, tmp_path, client):
    """`make run` prints the demo key and a working dashboard login for a demo owner."""
    settings.VAR_DIR = tmp_path
    out = run("ensure_demo", "--login", "--url", "http://127.0.0.1:8123/")
    key = (tmp_path / "demo-api-key").read_text().strip()
    password = (tmp_path / "demo-password").read_text().strip()
    assert f"kept in {tmp_path / 'demo-api-key'}" in out and key in out
    assert f"Dashboard: http://127.0.0.1:8123/  user demo, password {password}" in out
    assert (tmp_path / "demo-password").stat().st_mode & 0o777 == 0o600
    assert run("ensure_demo", "--login") == out.replace("8123", "8000"), "kept across restarts"
    # Through the sign-in page: the login throttle (django-axes) judges real requests.
    signed_in = client.post("/accounts/login/", {"username": "demo", "password": password})
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/")
    assert client.get("/transcripts/").status_code == 200
    # Once the owner changes the password, the stale file is no longer shown as the password.
    User = get_user_model()
    user = User.objects.get(username="demo")
    user.set_password("a new secret 123")
    user.save()
    assert password not in run("ensure_demo", "--login")
