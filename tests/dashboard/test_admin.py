"""The operators' admin: every model listed and searchable, key revocation, job retry, the
django-q2 task monitor."""

import re
from unittest import mock

import pytest
from django.contrib import admin

from accounts.admin import MSG_KEYS_REVOKED
from accounts.authentication import MSG_REVOKED_KEY, mask
from accounts.models import ApiKey
from tests.audio import JFK, JFK_TEXT, words
from tests.conftest import assert_error
from tests.dashboard.conftest import transcribe
from transcriptions.admin import MSG_NOT_RETRIED, MSG_RETRIED
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def changelist(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


def test_every_model_has_a_working_searchable_list(staff_client, jfk_job):
    assert admin.site._registry, "models are registered"
    for model, model_admin in admin.site._registry.items():
        url = changelist(model)
        assert staff_client.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert staff_client.get(url, {"q": "acme"}).status_code == 200, url
        if model_admin.date_hierarchy:
            assert (
                staff_client.get(url, {f"{model_admin.date_hierarchy}__year": "2026"}).status_code
                == 200
            )


@pytest.mark.inference
def test_job_list_answers_who_what_and_how_long(staff_client, jfk_job):
    html = staff_client.get(changelist(Job)).content.decode()
    for column in ("tenant", "status", "requested_model", "audio_duration", "created_at"):
        assert f"column-{column}" in html
    assert jfk_job.public_id in html and "acme" in html and "11.0 s" in html
    # filters and search
    assert (
        staff_client.get(changelist(Job), {"status__exact": "failed"})
        .content.decode()
        .count(jfk_job.public_id)
        == 0
    )
    found = staff_client.get(changelist(Job), {"q": "fellow americans"}).content.decode()
    assert jfk_job.public_id in found
    page = staff_client.get(f"{changelist(Job)}{jfk_job.pk}/change/")
    assert page.status_code == 200
    assert f"/transcripts/{jfk_job.public_id}/" in page.content.decode()


def test_revoke_action(staff_client, api_a, client):
    response = staff_client.post(
        changelist(ApiKey),
        {"action": "revoke_keys", "_selected_action": [api_a.api_key.pk]},
        follow=True,
    )
    assert MSG_KEYS_REVOKED.format(count=1) in response.content.decode()
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.revoked_at is not None
    assert_error(
        client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {api_a.key}"),
        401,
        code="invalid_api_key",
        message=MSG_REVOKED_KEY.format(masked=mask(api_a.key)),
    )


def test_a_key_added_in_the_admin_is_shown_once_and_works(staff_client, tenant_a, client):
    response = staff_client.post(
        f"{changelist(ApiKey)}add/",
        {"tenant": tenant_a.pk, "name": "ops", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    html = response.content.decode()
    keys = re.findall(r"sk-[A-Za-z0-9]{52}", html)
    assert len(keys) == 1
    api_key = ApiKey.objects.get(name="ops")
    assert api_key.tenant == tenant_a and keys[0].startswith(api_key.prefix)
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {keys[0]}").status_code == 200
    assert (
        keys[0]
        not in staff_client.get(f"{changelist(ApiKey)}{api_key.pk}/change/").content.decode()
    )


@pytest.mark.inference
@pytest.mark.backend
def test_retry_runs_a_failed_job_again(staff_client, api_a, settings):
    settings.RETAIN_AUDIO = True  # a job can only run again while its audio is stored
    with (
        mock.patch("speech.transcribe", side_effect=RuntimeError("injected")),
        JFK.open("rb") as fh,
    ):
        response = api_a.client.post(
            "/v1/audio/transcriptions", {"file": fh, "model": "tiny.en"}, format="multipart"
        )
    assert response.status_code == 500
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and job.audio

    response = staff_client.post(
        changelist(Job), {"action": "retry_jobs", "_selected_action": [job.pk]}, follow=True
    )
    assert MSG_RETRIED.format(count=1) in response.content.decode()
    job.refresh_from_db()  # the retried task ran inline (test settings: sync queue)
    assert job.status == Job.Status.SUCCEEDED
    assert words(job.text) == words(JFK_TEXT)
    assert job.error_code == "" and job.error_message == ""


def test_retry_skips_jobs_that_cannot_run_again(staff_client, api_a):
    done = transcribe(api_a)  # succeeded, and its audio is gone (RETAIN_AUDIO off)
    response = staff_client.post(
        changelist(Job), {"action": "retry_jobs", "_selected_action": [done.pk]}, follow=True
    )
    assert MSG_NOT_RETRIED.format(count=1) in response.content.decode()
    done.refresh_from_db()
    assert done.status == Job.Status.SUCCEEDED


def test_deleting_a_job_in_the_admin_removes_its_audio(staff_client, api_a, settings):
    settings.RETAIN_AUDIO = True
    job = transcribe(api_a)
    path = job.audio.path
    import os

    assert os.path.exists(path)
    response = staff_client.post(f"{changelist(Job)}{job.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not os.path.exists(path)


def test_the_task_monitor_is_reachable(staff_client, jfk_job, settings):
    index = staff_client.get("/admin/").content.decode()
    assert "/admin/django_q/" in index
    # Queued tasks are listed with the ORM broker only (CI's second pass uses Redis).
    monitors = ["success", "failure", "schedule"]
    if "orm" in settings.Q_CLUSTER:
        monitors.append("ormq")
    for model in monitors:
        assert staff_client.get(f"/admin/django_q/{model}/").status_code == 200
    successful = staff_client.get("/admin/django_q/success/").content.decode()
    assert jfk_job.public_id in successful  # the task that ran it


def test_members_cannot_open_the_admin(alice_client):
    response = alice_client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_every_model_of_the_platform_is_in_the_admin():
    from django.apps import apps

    for app in ("accounts", "transcriptions"):
        for model in apps.get_app_config(app).get_models():
            assert admin.site.is_registered(model), model.__name__


def test_usage_rows_are_read_only(staff_client, api_a):
    from billing.models import UsageRecord

    transcribe(api_a)
    record = UsageRecord.objects.get()
    url = changelist(UsageRecord)
    listing = staff_client.get(url).content.decode()
    assert record.request_id[:12] in listing or record.endpoint in listing
    assert f"{url}add/" not in listing
    page = staff_client.get(f"{url}{record.pk}/change/")
    assert page.status_code == 200  # viewable...
    html = page.content.decode()
    assert 'name="_save"' not in html and "/delete/" not in html  # ...but not editable
    assert staff_client.post(f"{url}{record.pk}/change/", {"status_code": 500}).status_code == 403
    assert staff_client.post(f"{url}{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert staff_client.get(f"{url}add/").status_code == 403
    record.refresh_from_db()
    assert record.status_code == 200


def test_billing_report_in_the_admin(staff_client, api_a):
    from django.utils import timezone

    from billing.reports import billing_csv, billing_report

    transcribe(api_a)
    today = timezone.now().date()
    assert (
        "/admin/accounts/tenant/billing/"
        in staff_client.get("/admin/accounts/tenant/").content.decode()
    )
    page = staff_client.get("/admin/accounts/tenant/billing/", {"month": f"{today:%Y-%m}"})
    assert page.status_code == 200
    html = page.content.decode()
    rows = billing_report(year=today.year, month=today.month)
    acme = next(row for row in rows if row.tenant == "acme")
    assert acme.billed_seconds == 11
    assert f"<td>acme</td><td>{acme.plan}</td><td>1</td>" in html
    csv_response = staff_client.get(
        "/admin/accounts/tenant/billing/", {"month": f"{today:%Y-%m}", "format": "csv"}
    )
    assert csv_response.content.decode() == billing_csv(rows)
