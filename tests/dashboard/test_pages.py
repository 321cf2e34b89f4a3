"""Sign-in with CSRF, the error pages in the dashboard's style, and the staff overview."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import Client

from dashboard.views.overview import MSG_STAFF_ONLY
from ops.models import WorkerHeartbeat
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

STYLESHEET = "/static/dashboard/dashboard.css"


def csrf_token(response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())[1]


def test_sign_in_and_out_with_csrf(alice):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/?next=/keys/")
    assert page.status_code == 200 and STYLESHEET in page.content.decode()
    token = csrf_token(page)

    refused = browser.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert refused.status_code == 403
    assert "This form has expired" in refused.content.decode()

    wrong = browser.post(
        "/accounts/login/",
        {"username": "alice", "password": "wrong", "csrfmiddlewaretoken": token},
    )
    assert wrong.status_code == 200
    assert "Please enter a correct username and password." in wrong.content.decode()

    signed_in = browser.post(
        "/accounts/login/",
        {
            "username": "alice",
            "password": "correct horse battery",
            "csrfmiddlewaretoken": token,
            "next": "/keys/",
        },
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/keys/"
    keys = browser.get("/keys/")
    assert keys.status_code == 200 and "alice" in keys.content.decode()

    out = browser.post("/accounts/logout/", {"csrfmiddlewaretoken": csrf_token(keys)})
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert browser.get("/keys/").status_code == 302


def test_a_signed_in_person_skips_the_login_page(alice_client):
    response = alice_client.get("/accounts/login/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_404_page_is_in_the_dashboard_style(alice_client):
    response = alice_client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist" in html and STYLESHEET in html
    assert "/no/such/page/" in html


def test_api_paths_still_answer_404_in_json(client):
    response = client.get("/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


def test_500_page_renders_without_a_request():
    # Django renders 500.html with no context at all (the failure may be in the context).
    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html and STYLESHEET in html


def test_overview_is_for_staff_only(alice_client):
    response = alice_client.get("/overview/")
    assert response.status_code == 403
    assert MSG_STAFF_ONLY in response.content.decode()
    assert "/overview/" not in alice_client.get("/transcripts/").content.decode()


def test_overview_shows_jobs_per_status_queue_and_workers(staff_client, jfk_job):
    import os
    import socket

    from tests.dashboard.conftest import clone

    clone(jfk_job, status=Job.Status.FAILED, error_code="engine_error", error_message="boom")
    clone(jfk_job, status=Job.Status.QUEUED)
    from datetime import timedelta

    from django.utils import timezone

    here, long_ago = socket.gethostname(), timezone.now() - timedelta(minutes=5)
    WorkerHeartbeat.objects.create(hostname=here, pid=os.getpid())  # alive
    WorkerHeartbeat.objects.create(hostname=here, pid=2**22 + 7)  # no such process
    WorkerHeartbeat.objects.create(hostname="elsewhere", pid=1)  # fresh heartbeat: alive
    WorkerHeartbeat.objects.create(hostname="elsewhere", pid=2, last_seen=long_ago)  # silent
    response = staff_client.get("/overview/")
    assert response.status_code == 200
    html = response.content.decode()

    def stat(status: str) -> str:
        block = re.search(rf'data-status="{status}">.*?class="value">(\d+)<', html, re.S)
        return block[1]

    assert (stat("succeeded"), stat("failed"), stat("queued"), stat("running")) == (
        "1",
        "1",
        "1",
        "0",
    )
    workers = re.search(r'data-testid="workers-alive">.*?class="value">(\d+)<', html, re.S)
    assert workers[1] == "2"
    assert "of 4 registered" in html
    assert re.search(r'data-testid="queue-depth">.*?class="value">(\d+)<', html, re.S)
    assert "boom" in html  # recent failures
    assert "Acme" in html and "Globex" in html  # every tenant
    assert "/admin/django_q/success/" in html and "/admin/django_q/failure/" in html
