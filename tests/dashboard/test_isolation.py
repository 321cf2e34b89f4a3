"""A member of tenant B (charlie) gets a 404 on every page and download of tenant A; staff
see every tenant."""

import pytest

from dashboard.tenancy import SESSION_TENANT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

NOT_FOUND = "This page does not exist"


def tenant_a_urls(job, api_key) -> list[tuple[str, str]]:
    """(method, url) of everything in the dashboard that names one of tenant A's objects."""
    return [
        ("get", f"/transcripts/{job.public_id}/"),
        *(
            ("get", f"/transcripts/{job.public_id}/download.{fmt}")
            for fmt in ("txt", "srt", "vtt", "json")
        ),
        ("post", f"/keys/{api_key.pk}/revoke/"),
    ]


def test_every_page_and_download_of_tenant_a_is_a_404_for_tenant_b(
    alice_client, charlie_client, jfk_job, api_a
):
    urls = tenant_a_urls(jfk_job, api_a.api_key)
    for method, url in urls:
        mine = getattr(alice_client, method)(url)
        assert mine.status_code in (200, 302), url  # they exist, for tenant A
    for method, url in urls:
        response = getattr(charlie_client, method)(url)
        assert response.status_code == 404, url
        assert NOT_FOUND in response.content.decode(), url
        assert jfk_job.text[:20] not in response.content.decode()


def test_tenant_b_revoking_a_key_of_tenant_a_changes_nothing(charlie_client, api_a):
    assert charlie_client.post(f"/keys/{api_a.api_key.pk}/revoke/").status_code == 404
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.revoked_at is None


def test_lists_show_only_the_own_tenant(charlie_client, jfk_job, api_a, api_b):
    transcripts = charlie_client.get("/transcripts/", {"q": "americans"}).content.decode()
    assert jfk_job.public_id not in transcripts
    keys = charlie_client.get("/keys/").content.decode()
    assert api_a.api_key.prefix not in keys and api_b.api_key.prefix in keys


def test_tenant_b_cannot_switch_to_tenant_a(charlie_client, tenant_a, tenant_b, jfk_job):
    response = charlie_client.post(
        "/organization/switch/", {"tenant": tenant_a.pk, "next": "/transcripts/"}, follow=True
    )
    assert "No such organization." in response.content.decode()
    assert charlie_client.session[SESSION_TENANT] == tenant_b.pk
    assert jfk_job.public_id not in response.content.decode()


def test_a_session_pointing_at_another_tenant_falls_back_to_the_own(
    charlie_client, tenant_a, tenant_b, jfk_job
):
    session = charlie_client.session
    session[SESSION_TENANT] = tenant_a.pk  # e.g. a membership removed since
    session.save()
    html = charlie_client.get("/transcripts/").content.decode()
    assert jfk_job.public_id not in html
    assert charlie_client.session[SESSION_TENANT] == tenant_b.pk


def test_someone_in_no_tenant_sees_nothing(client, db, jfk_job):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    response = client.get("/transcripts/")
    assert response.status_code == 403
    assert "You are not in an organization yet" in response.content.decode()
    assert client.get(f"/transcripts/{jfk_job.public_id}/").status_code == 403


def test_staff_see_every_tenant(staff_client, jfk_job, tenant_a, tenant_b):
    html = staff_client.get("/transcripts/").content.decode()
    assert "Acme" in html and "Globex" in html  # both in the organization switcher
    assert staff_client.get(f"/transcripts/{jfk_job.public_id}/").status_code == 200
    staff_client.post("/organization/switch/", {"tenant": tenant_a.pk, "next": "/transcripts/"})
    assert jfk_job.public_id in staff_client.get("/transcripts/").content.decode()
    staff_client.post("/organization/switch/", {"tenant": tenant_b.pk, "next": "/transcripts/"})
    assert jfk_job.public_id not in staff_client.get("/transcripts/").content.decode()


def test_a_member_of_two_tenants_switches_between_them(bob, bob_client, tenant_b, jfk_job):
    from accounts.services import membership_create

    membership_create(tenant=tenant_b, user=bob)
    assert jfk_job.public_id in bob_client.get("/transcripts/").content.decode()
    response = bob_client.post(
        "/organization/switch/",
        {"tenant": tenant_b.pk, "next": f"/transcripts/{jfk_job.public_id}/"},
    )
    assert response["Location"] == "/transcripts/"  # not the other tenant's transcript
    assert jfk_job.public_id not in bob_client.get("/transcripts/").content.decode()
