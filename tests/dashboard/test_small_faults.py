"""Small faults of issue 15 in the usage, keys and account pages: the logout URL answers a
GET with a page, staff start on their own organization, a 404 keeps the navigation, the
tenant admin names the default plan, and the admin counts "active-jobs counters"."""

import re

import pytest
from django.test import Client

from accounts.models import Membership, Tenant
from billing.models import ActiveJobs
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_get_logout_gives_a_page_with_a_sign_out_button(alice_client):
    response = alice_client.get("/accounts/logout/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Signed in as alice." in html
    assert re.search(r'<form method="post" action="/accounts/logout/">', html)
    assert alice_client.get("/keys/").status_code == 200  # a GET signs nobody out
    out = alice_client.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert "You are signed out" in Client().get("/accounts/logout/").content.decode()


def test_staff_start_on_their_own_organization(db):
    TenantFactory(slug="aaa-first", name="AAA First")
    own = TenantFactory(slug="zeta", name="Zeta Org")
    operator = UserFactory(username="otto", is_staff=True)
    MembershipFactory(tenant=own, user=operator, role=Membership.Role.OWNER)
    client = Client()
    client.force_login(operator)
    html = client.get("/usage/").content.decode()
    assert re.search(rf'<option value="{own.pk}" selected>Zeta Org</option>', html)
    assert Tenant.objects.order_by("slug").first().slug == "aaa-first"


def test_staff_of_no_organization_start_on_the_first(staff_client, tenant_a):
    html = staff_client.get("/usage/").content.decode()
    assert re.search(rf'<option value="{tenant_a.pk}" selected>Acme</option>', html)


def test_a_404_keeps_the_navigation(alice_client):
    response = alice_client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'href="/transcripts/"' in html and 'href="/usage/"' in html
    assert 'href="/members/"' in html and 'href="/requests/"' in html
    assert '<span class="org">Acme</span>' in html


def test_a_404_for_someone_signed_out_has_no_navigation(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'href="/usage/"' not in response.content.decode()


def test_the_tenant_admin_names_the_default_plan(staff_client, tenant_a):
    html = staff_client.get("/admin/accounts/tenant/").content.decode()
    cell = re.search(r'<td class="field-plan_or_default">([^<]*)</td>', html)
    assert cell and cell.group(1) == "default (no plan chosen)"


def test_the_active_jobs_counter_is_named_for_its_count():
    assert str(ActiveJobs._meta.verbose_name) == "active-jobs counter"
    assert str(ActiveJobs._meta.verbose_name_plural) == "active-jobs counters"
