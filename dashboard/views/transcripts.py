"""Transcript pages: the list (search and filters), one transcript, its downloads.

Thin views: reads come from transcriptions.selectors, every lookup filtered by the tenants the
person may see (another tenant's transcript is a 404), bodies of downloads from formats.render.
"""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from speech.languages import language_label
from transcriptions.errors import JobNotFound
from transcriptions.models import Job
from transcriptions.openai.formats import render as render_result
from transcriptions.selectors import job_cost, job_get, job_languages, job_models, job_search

from ..forms import TranscriptFilterForm
from ..tenancy import TenantScope, scoped_view, tenant_scope, tenant_select

PAGE_SIZE = 25
# Download name -> (formats.render format, content type of the file).
DOWNLOADS = {
    "txt": ("text", "text/plain; charset=utf-8"),
    "srt": ("srt", "application/x-subrip; charset=utf-8"),
    "vtt": ("vtt", "text/vtt; charset=utf-8"),
    "json": ("verbose_json", "application/json"),
}
MSG_NO_TRANSCRIPT = "No such transcript."


# Speakers' colours on the transcript page (dashboard.css .speaker-0 ... -7), given in order of
# first appearance, so that A is always the first colour and a speaker keeps one colour.
SPEAKER_COLOURS = 8


def speaker_colours(segments: list[dict]) -> list[dict]:
    """The segments, each with `colour`: its speaker's index (mod SPEAKER_COLOURS)."""
    order: dict[str, int] = {}
    return [
        {
            **segment,
            "colour": order.setdefault(segment["speaker"], len(order)) % SPEAKER_COLOURS,
        }
        if "speaker" in segment
        else segment
        for segment in segments
    ]


def has_speakers(result: dict) -> bool:
    return any("speaker" in segment for segment in result.get("segments") or ())


MSG_NO_DOWNLOAD = "No such download."


def _job(scope: TenantScope, public_id: str) -> Job:
    """The job selector every surface uses; not found is the dashboard's 404 page."""
    try:
        return job_get(tenants=scope.tenants, public_id=public_id)
    except JobNotFound:
        raise Http404(MSG_NO_TRANSCRIPT) from None


def job_for_page(
    request: HttpRequest, scope: TenantScope, public_id: str, *, switch: bool = True
) -> Job:
    """A job of any tenant this person sees. Opening one of another tenant than the one the
    dashboard acts for (staff following a link from the admin) switches to its tenant, so
    that the header, the figures and the next pages are that tenant's."""
    job = _job(scope, public_id)
    if switch and job.tenant_id != scope.current.pk:
        tenant_select(request=request, tenant_id=job.tenant_id)
        request.tenant_scope = tenant_scope(request)
    return job


@scoped_view
def home(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    return redirect("dashboard:transcripts")


@scoped_view
def transcript_list_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    tenant = scope.current
    form = TranscriptFilterForm(
        request.GET,
        models=job_models(tenant=tenant),
        languages=[(c, language_label(c)) for c in job_languages(tenant=tenant)],
    )
    filters = form.filters()
    jobs = job_search(tenant=tenant, **filters)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/transcripts/list.html",
        {
            "scope": scope,
            "form": form,
            "page": page,
            "is_filtered": any(filters.values()) or bool(form.errors),
            "nav": "transcripts",
        },
    )


@scoped_view
def transcript_detail_page(
    request: HttpRequest, public_id: str, *, scope: TenantScope
) -> HttpResponse:
    job = job_for_page(request, scope, public_id)
    scope = request.tenant_scope
    result = job.result or {}
    segments = speaker_colours(result.get("segments") or [])
    return render(
        request,
        "dashboard/transcripts/detail.html",
        {
            "scope": scope,
            "job": job,
            "segments": segments,
            # gpt-4o-transcribe-diarize: a speaker column.
            "has_speakers": has_speakers(result),
            "language": language_label(job.detected_language) if job.detected_language else "",
            "downloads": list(DOWNLOADS) if job.status == Job.Status.SUCCEEDED and result else [],
            "cost": job_cost(job=job),
            # RETAIN_AUDIO kept the file: a player, its segments seek it. (Without it, the
            # file is there only while the job runs, and the player would vanish as it lands.)
            "has_audio": bool(job.audio) and (settings.RETAIN_AUDIO or job.is_finished),
            "nav": "transcripts",
        },
    )


@scoped_view
def transcript_download(
    request: HttpRequest, public_id: str, fmt: str, *, scope: TenantScope
) -> HttpResponse:
    job = _job(scope, public_id)
    if fmt not in DOWNLOADS or job.status != Job.Status.SUCCEEDED or not job.result:
        raise Http404(MSG_NO_DOWNLOAD)
    response_format, content_type = DOWNLOADS[fmt]
    if response_format == "verbose_json" and has_speakers(job.result):
        response_format = "diarized_json"  # the JSON that carries the speakers
    granularities = ["segment", "word"] if job.result.get("words") else ["segment"]
    body, _ = render_result(
        job.result, response_format=response_format, task=job.task, granularities=granularities
    )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{job.public_id}.{fmt}"'
    return response
