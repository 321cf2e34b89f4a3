"""GET /v1/models and /v1/models/{id}: the registry's models and their aliases."""

from django.conf import settings
from rest_framework.response import Response
from rest_framework.views import APIView

from transcriptions import engine
from transcriptions.errors import ModelNotFound

# Models are listed with a fixed creation time: they are files, not events.
MODELS_CREATED = 1735689600
MODEL_OWNER = "faster-whisper"
MSG_NO_SUCH_MODEL = "The model '{model}' does not exist"


def _model_object(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": MODEL_OWNER}


def _model_ids() -> list[str]:
    return [*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS]


class ModelListApi(APIView):
    def get(self, request):
        return Response({"object": "list", "data": [_model_object(m) for m in _model_ids()]})


class ModelDetailApi(APIView):
    def get(self, request, model_id: str):
        if engine.resolve_model_id(model_id) is None:
            raise ModelNotFound(MSG_NO_SUCH_MODEL.format(model=model_id))
        return Response(_model_object(model_id))
