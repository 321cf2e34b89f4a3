"""/v1/audio/jobs: submit a job and answer 202 at once, list them, fetch one, delete one (the
seed page's "submit task", "fetch task")."""

from django.db import transaction
from django.utils.decorators import method_decorator
from rest_framework.response import Response
from rest_framework.views import APIView

from transcriptions.representations import JobSerializer
from transcriptions.selectors import job_get, job_page
from transcriptions.services import job_delete

from ..parsers import SizeLimitedMultiPartParser
from ..serializers.requests import JobListQuerySerializer, JobRequestSerializer
from ..serializers.responses import JobDeletedSerializer, JobPageSerializer
from ..suspend import SuspendingApi
from .audio import submit


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class JobCollectionApi(SuspendingApi):
    """POST: submit a job and answer 202 at once. GET: the tenant's jobs, newest first."""

    parser_classes = [SizeLimitedMultiPartParser]

    def post(self, request):
        serializer = JobRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return submit(
            self,
            request,
            task=data["task"],
            data=data,
            is_async=True,
            answer=lambda job: Response(
                JobSerializer(job, context={"include_result": False}).data, status=202
            ),
        )

    def get(self, request):
        query = JobListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        jobs, has_more = job_page(tenant=request.user.tenant, **query.validated_data)
        page = {"jobs": jobs, "has_more": has_more}
        return Response(JobPageSerializer(page, context={"include_result": False}).data)


class JobDetailApi(APIView):
    """GET: status, progress and, when done, the result. DELETE: cancel and delete the job
    with its audio and transcript."""

    def get(self, request, job_id: str):
        job = job_get(tenants=[request.user.tenant], public_id=job_id)
        return Response(JobSerializer(job).data)

    def delete(self, request, job_id: str):
        job = job_get(tenants=[request.user.tenant], public_id=job_id)
        job_delete(job=job)
        return Response(JobDeletedSerializer({"id": job_id, "deleted": True}).data)
