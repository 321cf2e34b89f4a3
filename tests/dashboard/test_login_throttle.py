"""Password guessing on the dashboard and /admin/ sign-in pages (issue 11, hole 8): throttled
by django-axes per username and client address together, and per client address, through real requests (the test client
posting the forms as a browser does)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.factories.UserFactory
DASHBOARD_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LOCKED_HEADING = "Too many failed sign-in attempts"
LOCKED_TEXT = (
    f"Signing in is locked for 15 minutes after {settings.AXES_FAILURE_LIMIT} wrong passwords "
    "from this address."
)


def sign_in(url: str, username: str, password: str, *, address: str = "203.0.113.7", **extra):
    client = Client(REMOTE_ADDR=address)
    response = client.post(url, {"username": username, "password": password}, **extra)
    return client, response


def guess(url: str, username: str, *, times: int, address: str = "203.0.113.7") -> list[int]:
    return [
        sign_in(url, username, f"wrong guess {i}", address=address)[1].status_code
        for i in range(times)
    ]


def assert_locked(response) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    content = response.content.decode()
    assert LOCKED_HEADING in content and LOCKED_TEXT in content


def assert_signed_in(client, response, *, home: str = "/") -> None:
    assert (response.status_code, response["Location"]) == (302, home)
    assert client.session.get("_auth_user_id")


def test_25_wrong_passwords_then_the_right_one_is_refused_on_the_dashboard(alice):
    """The attack of the issue: 25 wrong passwords, then the right one, was accepted."""
    statuses = guess(DASHBOARD_LOGIN, "alice", times=25)
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1), "the form again, with its error"
    assert statuses[limit - 1 :] == [429] * (25 - limit + 1), "locked from the limit on"

    client, response = sign_in(DASHBOARD_LOGIN, "alice", PASSWORD)
    assert_locked(response)
    assert "_auth_user_id" not in client.session, "the right password opens nothing"
    assert client.get("/transcripts/")["Location"].startswith(DASHBOARD_LOGIN)


def test_25_wrong_passwords_then_the_right_one_is_refused_on_the_admin(db):
    UserFactory(username="olga", is_staff=True, is_superuser=True)
    statuses = guess(ADMIN_LOGIN, "olga", times=25)
    assert statuses[-1] == 429 and 200 in statuses
    client, response = sign_in(ADMIN_LOGIN, "olga", PASSWORD)
    assert_locked(response)
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302, "still sent to sign in"


def test_the_two_logins_share_one_count(alice):
    """Guessing on the admin's page locks the dashboard's too: one user, one count."""
    guess(ADMIN_LOGIN, "alice", times=settings.AXES_FAILURE_LIMIT)
    assert_locked(sign_in(DASHBOARD_LOGIN, "alice", PASSWORD)[1])


def test_a_locked_address_refuses_every_user(alice, bob):
    """Many usernames from one machine: the address is locked, whoever signs in from it."""
    for name in ("nobody", "root", "admin", "alice"):
        guess(DASHBOARD_LOGIN, name, times=3)
    assert_locked(sign_in(DASHBOARD_LOGIN, "bob", PASSWORD)[1])
    client, response = sign_in(DASHBOARD_LOGIN, "bob", PASSWORD, address="198.51.100.20")
    assert_signed_in(client, response)


def test_guessing_the_operator_s_password_does_not_lock_the_operator_out(db):
    """Issue 25: ten wrong passwords for `admin` from anywhere locked `admin` out from every
    address for 15 minutes. A username is locked only together with the address guessing it."""
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    attacker, operator = "198.51.100.66", "192.0.2.10"
    guess(ADMIN_LOGIN, "admin", times=settings.AXES_FAILURE_LIMIT, address=attacker)
    assert_locked(sign_in(ADMIN_LOGIN, "admin", PASSWORD, address=attacker)[1])
    client, response = sign_in(ADMIN_LOGIN, "admin", PASSWORD, address=operator)
    assert_signed_in(client, response)
    assert client.get("/admin/").status_code == 200


def test_many_usernames_from_one_address_lock_that_address_only(alice, bob):
    """The per-address count (any username) is separate: spraying one password over many
    usernames locks the sprayer's address, for every username, and no other address."""
    for i in range(settings.AXES_FAILURE_LIMIT):
        guess(DASHBOARD_LOGIN, f"user{i}", times=1, address="198.51.100.7")
    assert_locked(sign_in(DASHBOARD_LOGIN, "alice", PASSWORD, address="198.51.100.7")[1])
    client, response = sign_in(DASHBOARD_LOGIN, "alice", PASSWORD, address="192.0.2.55")
    assert_signed_in(client, response)


def test_a_success_before_the_limit_clears_the_count(alice):
    guess(DASHBOARD_LOGIN, "alice", times=settings.AXES_FAILURE_LIMIT - 1)
    assert_signed_in(*sign_in(DASHBOARD_LOGIN, "alice", PASSWORD))
    assert guess(DASHBOARD_LOGIN, "alice", times=settings.AXES_FAILURE_LIMIT - 1)[-1] == 200


def test_a_lock_ends_after_the_cool_off(alice):
    guess(DASHBOARD_LOGIN, "alice", times=25)
    assert_locked(sign_in(DASHBOARD_LOGIN, "alice", PASSWORD)[1])
    # Attempts during the lock do not extend it: it ends 15 minutes after it was set.
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=16)
        attempt.save()
    assert_signed_in(*sign_in(DASHBOARD_LOGIN, "alice", PASSWORD))


def test_behind_a_proxy_the_client_address_counts_not_a_forged_one(alice, bob, settings):
    """With one proxy in front (TRUSTED_PROXY_COUNT=1), the address is the one the proxy
    appended to X-Forwarded-For: a guesser who writes a new address of their own each time
    is still the same address; every client is not the proxy's one address."""
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(
            DASHBOARD_LOGIN,
            f"user{i}",
            "wrong",
            address=proxy,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.66",
        )
    locked = sign_in(
        DASHBOARD_LOGIN, "bob", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.66"
    )[1]
    assert_locked(locked)
    client, response = sign_in(
        DASHBOARD_LOGIN, "bob", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.67"
    )
    assert_signed_in(client, response)
