"""GET /v1/models and /v1/models/{id}: the registry's models and their aliases."""

from django.db import transaction
from django.utils.decorators import method_decorator
from rest_framework.response import Response
from rest_framework.views import APIView

import speech as engine
from transcriptions.errors import ModelNotFound

from ..serializers.responses import ModelListSerializer, ModelSerializer, model_ids

MSG_NO_SUCH_MODEL = "The model '{model}' does not exist"


# Reads only: outside the request-wide transaction (ATOMIC_REQUESTS), which on SQLite takes the
# database's one write lock (transaction_mode IMMEDIATE) for the whole view, so that a model list
# would wait behind a worker ending a job, and hold up the next one.
read_only = method_decorator(transaction.non_atomic_requests, name="dispatch")


@read_only
class ModelListApi(APIView):
    def get(self, request):
        return Response(ModelListSerializer(model_ids()).data)


@read_only
class ModelDetailApi(APIView):
    def get(self, request, model_id: str):
        if engine.resolve_model_id(model_id) is None:
            raise ModelNotFound(MSG_NO_SUCH_MODEL.format(model=model_id))
        return Response(ModelSerializer(model_id).data)
