"""New transcription: a person uploads a file from the dashboard. It goes through the API's
submission service (the same checks, quota and queue) and leaves a usage-log row whose endpoint
says it came from the dashboard; the person is then taken to the transcript as it runs."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from billing.errors import BillingError
from billing.selectors import tenant_limits
from transcriptions.errors import TranscriptionError
from transcriptions.services import audio_request_build, job_submit_recorded

from ..forms import TranscriptionCreateForm
from ..tenancy import TenantScope, scoped_view

MSG_SUBMITTED = "“{name}” is being transcribed; this page follows it."


# The upload is probed and its seconds reserved before anything is committed: no request-wide
# transaction (the service commits the job with its usage row, then queues it).
@transaction.non_atomic_requests
@scoped_view
def transcript_new_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    limits = tenant_limits(tenant=scope.current)
    form = TranscriptionCreateForm(
        request.POST or None, request.FILES or None, max_file_bytes=limits.max_file_bytes
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = job_submit_recorded(
                    tenant=scope.current,
                    params=audio_request_build(
                        task=form.cleaned_data["task"],
                        data=form.audio_request_data(),
                        is_async=True,
                    ),
                    upload=upload,
                )
            except (TranscriptionError, BillingError) as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, MSG_SUBMITTED.format(name=upload.name))
                return redirect("dashboard:transcript", public_id=job.public_id)
    return render(
        request,
        "dashboard/transcripts/new.html",
        {"scope": scope, "form": form, "limits": limits, "nav": "new-transcription"},
        status=status,
    )
