"""Members of an organization in the dashboard: owners invite people (a set-password link,
never a password on screen), change roles and remove members; members cannot (403); nobody
acts on another tenant's members (404); an organization always keeps an owner."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from accounts.models import Membership
from accounts.services import MSG_LAST_OWNER
from dashboard.views.members import MSG_OWNERS_ONLY

pytestmark = pytest.mark.django_db

User = get_user_model()


def invite(client, **fields):
    return client.post("/members/", {"role": "member", "email": "", **fields}, follow=True)


def link_on(html: str) -> str:
    match = re.search(r'data-testid="invite-link">', html) and re.search(
        r'value="(http://testserver/accounts/password/set/[^"]+)"', html
    )
    assert match, "no set-password link on the page"
    return match.group(1)


def test_an_owner_invites_and_the_link_sets_a_password_once(alice_client, tenant_a):
    response = invite(alice_client, username="dana", email="dana@example.com", role="member")
    html = response.content.decode()
    assert "dana is now a member of Acme." in html
    link = link_on(html)
    dana = User.objects.get(username="dana")
    assert not dana.has_usable_password()
    assert Membership.objects.get(tenant=tenant_a, user=dana).role == "member"
    # Emailed through the console backend as well, with the same link.
    (message,) = mail.outbox
    assert message.to == ["dana@example.com"] and link in message.body
    # Shown once: a reload does not show it again.
    assert 'data-testid="invite-link"' not in alice_client.get("/members/").content.decode()

    browser = Client()
    form = browser.get(link.removeprefix("http://testserver"), follow=True)
    assert form.status_code == 200 and "Set your password" in form.content.decode()
    target = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = browser.post(
        target,
        {"new_password1": "a fine passphrase 42", "new_password2": "a fine passphrase 42"},
        follow=True,
    )
    assert "Your password is set" in done.content.decode()
    dana.refresh_from_db()
    assert dana.check_password("a fine passphrase 42")
    signed_in = Client().post(
        "/accounts/login/", {"username": "dana", "password": "a fine passphrase 42"}
    )
    assert signed_in.status_code == 302
    again = Client().get(link.removeprefix("http://testserver"), follow=True)
    assert "This link no longer works" in again.content.decode()


def test_an_existing_account_gets_no_link(alice_client, charlie, tenant_a):
    response = invite(alice_client, username="charlie", role="owner")
    html = response.content.decode()
    assert "already had an account" in html
    assert 'data-testid="invite-link"' not in html
    assert Membership.objects.get(tenant=tenant_a, user=charlie).role == "owner"
    assert charlie.memberships.count() == 2  # still in Globex too


def test_inviting_a_member_twice_is_an_error_on_the_form(alice_client, bob):
    html = invite(alice_client, username="bob").content.decode()
    assert "bob is already a member of Acme." in html
    assert Membership.objects.filter(user=bob).count() == 1


def test_an_owner_changes_a_role_and_removes_a_member(alice_client, bob, tenant_a):
    membership = Membership.objects.get(user=bob, tenant=tenant_a)
    response = alice_client.post(f"/members/{membership.pk}/role/", {"role": "owner"}, follow=True)
    assert "bob is now an owner of Acme." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == "owner"
    response = alice_client.post(f"/members/{membership.pk}/remove/", follow=True)
    assert "bob is no longer a member of Acme." in response.content.decode()
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert User.objects.filter(username="bob").exists()  # the account stays


def test_the_last_owner_cannot_be_demoted_or_removed(alice_client, alice, tenant_a):
    own = Membership.objects.get(user=alice, tenant=tenant_a)
    response = alice_client.post(f"/members/{own.pk}/role/", {"role": "member"}, follow=True)
    assert MSG_LAST_OWNER.format(tenant="Acme") in response.content.decode()
    response = alice_client.post(f"/members/{own.pk}/remove/", follow=True)
    assert MSG_LAST_OWNER.format(tenant="Acme") in response.content.decode()
    own.refresh_from_db()
    assert own.role == "owner"


def test_a_member_sees_the_list_but_changes_nothing(bob_client, alice, bob, tenant_a):
    html = bob_client.get("/members/").content.decode()
    assert 'data-username="alice"' in html and 'data-username="bob"' in html
    assert "Add member" not in html and ">Remove</button>" not in html
    alice_membership = Membership.objects.get(user=alice, tenant=tenant_a)
    refused = [
        bob_client.post("/members/", {"username": "eve", "role": "owner"}),
        bob_client.post(f"/members/{alice_membership.pk}/role/", {"role": "member"}),
        bob_client.post(f"/members/{alice_membership.pk}/remove/"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert MSG_OWNERS_ONLY.format(tenant="Acme") in refused[0].content.decode()
    assert not User.objects.filter(username="eve").exists()
    alice_membership.refresh_from_db()
    assert alice_membership.role == "owner"


def test_another_tenant_s_members_are_a_404(charlie_client, bob, tenant_a):
    membership = Membership.objects.get(user=bob, tenant=tenant_a)
    assert (
        charlie_client.post(f"/members/{membership.pk}/role/", {"role": "owner"}).status_code == 404
    )
    assert charlie_client.post(f"/members/{membership.pk}/remove/").status_code == 404
    membership.refresh_from_db()
    assert membership.role == "member"
    html = charlie_client.get("/members/").content.decode()
    assert 'data-username="bob"' not in html and 'data-username="charlie"' in html


def test_invalid_input_is_refused(alice_client):
    html = invite(alice_client, username="no spaces please").content.decode()
    assert "Enter a valid value." in html
    assert not User.objects.filter(username="no spaces please").exists()
    html = invite(alice_client, username="eve", role="admin").content.decode()
    assert "Select a valid choice." in html


def test_staff_manage_the_members_of_the_organization_they_act_for(staff_client, bob, tenant_a):
    staff_client.post("/organization/switch/", {"tenant": tenant_a.pk, "next": "/members/"})
    membership = Membership.objects.get(user=bob, tenant=tenant_a)
    response = staff_client.post(f"/members/{membership.pk}/role/", {"role": "owner"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "owner"
