"""What a transcript page does besides showing it: its progress for the page's bar (polled as
JSON), cancel and delete (the services of DELETE /v1/audio/jobs/{id}), and its retained audio
for the page's player. Every lookup goes through the tenant-filtered job selector: another
tenant's transcript is a 404."""

import re

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from transcriptions.selectors import job_progress_list
from transcriptions.services import job_cancel, job_delete

from ..tenancy import TenantScope, scoped_view
from .transcripts import job_for_page

MAX_POLLED = 100  # ids per progress request (a page shows 25)
MSG_CANCELLED = "The transcription was cancelled."
MSG_NOT_CANCELLED = "This transcription had already ended."
MSG_DELETED = "The transcript “{name}” was deleted with its audio."
MSG_NO_AUDIO = "This transcript's audio was not kept."
# The only types audio is served as, by the container the probe found (FFmpeg's demuxer names,
# as stored in Job.audio_format). Never from the uploaded name: a valid Matroska file called
# x.html would be served as a page, its tags' script run with the rights of whoever opens it.
AUDIO_TYPES = {
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "matroska,webm": "audio/webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
}
# On every media answer: should a browser still render it, nothing in it runs or loads.
MEDIA_CSP = "default-src 'none'; sandbox"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# At most this much per range answer (a range may be answered shorter than asked): a player's
# open-ended "bytes=0-" must not read a whole file into memory.
MAX_RANGE_BYTES = 1 << 20


@require_GET
@scoped_view
def transcript_progress(request: HttpRequest, *, scope: TenantScope) -> JsonResponse:
    """`?ids=job_a,job_b`: status and progress of each of the tenant's jobs named."""
    ids = [i for i in request.GET.get("ids", "").split(",") if i][:MAX_POLLED]
    jobs = job_progress_list(tenants=scope.current_tenants, public_ids=ids)
    response = JsonResponse({"jobs": jobs})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@scoped_view
def transcript_cancel(request: HttpRequest, public_id: str, *, scope: TenantScope):
    job = job_for_page(request, scope, public_id)
    if job_cancel(job=job):
        messages.success(request, MSG_CANCELLED)
    else:
        messages.info(request, MSG_NOT_CANCELLED)
    return redirect("dashboard:transcript", public_id=job.public_id)


@require_POST
@scoped_view
def transcript_delete(request: HttpRequest, public_id: str, *, scope: TenantScope):
    job = job_for_page(request, scope, public_id)
    name = job.audio_filename or job.public_id
    job_delete(job=job)
    messages.success(request, MSG_DELETED.format(name=name))
    return redirect("dashboard:transcripts")


@scoped_view
def transcript_audio(request: HttpRequest, public_id: str, *, scope: TenantScope):
    """The job's retained audio (RETAIN_AUDIO), with byte ranges: the player seeks with them."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    job = job_for_page(request, scope, public_id, switch=False)
    if not job.audio:
        raise Http404(MSG_NO_AUDIO)
    try:
        size = job.audio.size
        handle = job.audio.open("rb")
    except FileNotFoundError:
        raise Http404(MSG_NO_AUDIO) from None
    content_type = AUDIO_TYPES.get(job.audio_format, "application/octet-stream")
    match = RANGE.match(request.headers.get("Range", ""))
    if match and (match[1] or match[2]):
        if match[1]:
            start = int(match[1])
            end = min(int(match[2]), size - 1) if match[2] else size - 1
            end = min(end, start + MAX_RANGE_BYTES - 1)
        else:  # the last N bytes
            start, end = max(0, size - int(match[2])), size - 1
        if start >= size or start > end:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle.seek(start)
        response = HttpResponse(handle.read(end - start + 1), status=206, content_type=content_type)
        handle.close()
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(handle, content_type=content_type)
    # Named by the job, never by the upload; off the list it is a download, not a page.
    disposition = "inline" if content_type in AUDIO_TYPES.values() else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{job.public_id}"'
    response["Content-Security-Policy"] = MEDIA_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    return response
