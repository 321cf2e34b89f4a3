"""GET /v1/models and /v1/models/{id}: the registry's models and their aliases."""

from rest_framework.response import Response
from rest_framework.views import APIView

from transcriptions import engine
from transcriptions.errors import ModelNotFound

from ..serializers.responses import ModelListSerializer, ModelSerializer, model_ids

MSG_NO_SUCH_MODEL = "The model '{model}' does not exist"


class ModelListApi(APIView):
    def get(self, request):
        return Response(ModelListSerializer(model_ids()).data)


class ModelDetailApi(APIView):
    def get(self, request, model_id: str):
        if engine.resolve_model_id(model_id) is None:
            raise ModelNotFound(MSG_NO_SUCH_MODEL.format(model=model_id))
        return Response(ModelSerializer(model_id).data)
