"""API keys in the dashboard: created (shown once), listed by prefix, revoked; owners only."""

import re

import pytest

from accounts.authentication import MSG_REVOKED_KEY, mask
from accounts.models import ApiKey
from dashboard.views.keys import MSG_KEY_REVOKED, MSG_KEYS_OWNERS_ONLY
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

KEY = re.compile(r'value="(sk-[A-Za-z0-9]{52})"')


def create_key(client, name="production", **extra) -> str:
    response = client.post("/keys/", {"name": name, **extra})
    assert response.status_code == 302 and response["Location"] == "/keys/"
    page = client.get("/keys/").content.decode()
    found = KEY.findall(page)
    assert len(found) == 1, "the new key is on the page once"
    return found[0]


def call_api(client, key: str):
    return client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_empty_state(alice_client):
    html = alice_client.get("/keys/").content.decode()
    assert "No API keys yet." in html and "Create a key" in html


def test_a_new_key_is_shown_once_then_only_its_prefix(alice_client, alice, tenant_a, client):
    key = create_key(alice_client)
    api_key = ApiKey.objects.get()
    assert api_key.tenant == tenant_a and api_key.name == "production"
    assert api_key.created_by == alice
    assert key.startswith(api_key.prefix) and api_key.hashed_key != key
    assert key not in api_key.hashed_key
    again = alice_client.get("/keys/").content.decode()
    assert key not in again
    assert f"<code>{api_key.prefix}…</code>" in again
    assert call_api(client, key).status_code == 200


def test_last_used_is_shown(alice_client, client):
    key = create_key(alice_client)
    assert ">never<" in alice_client.get("/keys/").content.decode()
    call_api(client, key)
    html = alice_client.get("/keys/").content.decode()
    assert re.search(r'class="nowrap last-used" data-label="Last used">0\xa0minutes ago<', html)


def test_expiry_in_days(alice_client):
    create_key(alice_client, name="ci", expires_in_days="30")
    api_key = ApiKey.objects.get()
    assert api_key.expires_at is not None
    assert 29 <= (api_key.expires_at - api_key.created_at).days <= 30


def test_a_name_is_required(alice_client):
    response = alice_client.post("/keys/", {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoke_then_the_api_refuses_the_key(alice_client, client):
    key = create_key(alice_client)
    api_key = ApiKey.objects.get()
    response = alice_client.post(f"/keys/{api_key.pk}/revoke/", follow=True)
    html = response.content.decode()
    assert MSG_KEY_REVOKED.format(prefix=api_key.prefix) in html
    assert 'class="badge revoked"' in html
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert_error(
        call_api(client, key),
        401,
        code="invalid_api_key",
        message=MSG_REVOKED_KEY.format(masked=mask(key)),
    )


def test_revoke_is_a_post(alice_client, api_a):
    assert alice_client.get(f"/keys/{api_a.api_key.pk}/revoke/").status_code == 405


def test_a_member_sees_keys_but_cannot_create_or_revoke(bob_client, api_a):
    html = bob_client.get("/keys/").content.decode()
    assert f"<code>{api_a.api_key.prefix}…</code>" in html
    assert "Create a key" not in html and ">Revoke</button>" not in html
    assert "Save limits" not in html  # nor change a key's limits
    response = bob_client.post("/keys/", {"name": "mine"})
    assert response.status_code == 403
    assert MSG_KEYS_OWNERS_ONLY.format(tenant="Acme") in response.content.decode()
    assert bob_client.post(f"/keys/{api_a.api_key.pk}/revoke/").status_code == 403
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.revoked_at is None
    assert ApiKey.objects.count() == 1


def test_staff_manage_the_keys_of_any_tenant(staff_client, api_b):
    staff_client.post("/organization/switch/", {"tenant": api_b.tenant.pk, "next": "/keys/"})
    html = staff_client.get("/keys/").content.decode()
    assert f"<code>{api_b.api_key.prefix}…</code>" in html
    response = staff_client.post(f"/keys/{api_b.api_key.pk}/revoke/")
    assert response.status_code == 302
    api_b.api_key.refresh_from_db()
    assert api_b.api_key.revoked_at is not None


def no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives and response.get("Expires") is not None


def test_the_page_that_shows_a_new_key_is_never_cached(alice_client):
    """Issue 11, hole 8: the page that showed a new key in clear had no Cache-Control: a
    browser's cache (back button, a shared machine) or a proxy could keep the key."""
    response = alice_client.post("/keys/", {"name": "ci"})
    shown = alice_client.get(response["Location"])
    assert KEY.search(shown.content.decode()), "this is the page with the key"
    assert no_store(shown), shown.get("Cache-Control")
    assert no_store(alice_client.get("/keys/")), "the same page without a key, too"


def test_the_admin_page_that_shows_a_new_key_is_never_cached(staff_client, tenant_a):
    response = staff_client.post(
        "/admin/accounts/apikey/add/",
        {"tenant": tenant_a.pk, "name": "ops", "expires_at_0": "", "expires_at_1": ""},
    )
    shown = staff_client.get(response["Location"])
    assert re.search(r"sk-[A-Za-z0-9]{52}", shown.content.decode())
    assert no_store(shown), shown.get("Cache-Control")
