"""The JSON bodies of OpenAI's `json`, `verbose_json` and `diarized_json` formats, as serializers: the same
classes render every answer (formats.render) and describe it in the OpenAPI schema
(api/schema/), so the document cannot drift from what clients receive."""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers


class UsageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["duration"])
    seconds = serializers.IntegerField(help_text="Audio seconds billed: the duration rounded up.")


class TokenDetails(serializers.Serializer):
    text_tokens = serializers.IntegerField(
        help_text="Tokens of the prompt and the keywords, as the decoder was given them."
    )
    audio_tokens = serializers.IntegerField(
        help_text="The audio in the positions of Whisper's encoder: 50 per second (20 ms each)."
    )


class TokensUsageSerializer(serializers.Serializer):
    """openai-python `UsageTokens`, as OpenAI reports gpt-4o-transcribe and
    gpt-4o-mini-transcribe; `seconds` is the platform's own: it bills audio seconds."""

    type = serializers.ChoiceField(choices=["tokens"])
    input_tokens = serializers.IntegerField()
    input_token_details = TokenDetails()
    output_tokens = serializers.IntegerField(help_text="Text tokens of the transcript decoded.")
    total_tokens = serializers.IntegerField()
    seconds = serializers.IntegerField(help_text="Audio seconds billed: the duration rounded up.")


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="TranscriptionUsage",
        serializers=[UsageSerializer, TokensUsageSerializer],
        resource_type_field_name="type",
    )
)
class UsageField(serializers.Field):
    """A `usage` of either shape: tokens for the gpt-4o-transcribe ids, else the duration."""

    def to_representation(self, value):
        shape = TokensUsageSerializer if value.get("type") == "tokens" else UsageSerializer
        return shape(value).data


class Logprob(serializers.Serializer):
    token = serializers.CharField(help_text="The token's text.")
    bytes = serializers.ListField(
        child=serializers.IntegerField(), help_text="The token's UTF-8 bytes."
    )
    logprob = serializers.FloatField(
        allow_null=True, help_text="The natural log of the probability the model gives the token."
    )


LOGPROBS_HELP = (
    "With `include[]=logprobs` (models gpt-4o-transcribe and gpt-4o-mini-transcribe, "
    "response_format json): the log probability of each token of the transcript, in order, per "
    "Whisper token (not per word). The values are the model's own: each window's kept tokens "
    "scored teacher-forced by the Whisper decoder (CTranslate2's align pass) after the exact "
    "prompt the decode used, over the text tokens (timestamps masked); CTranslate2 gives no "
    "per-step scores for beam search. Timestamp and special tokens are left out; the tokens' "
    "bytes join to the text (with the leading space Whisper writes before it)."
)


class Transcription(serializers.Serializer):
    """`logprobs` appears only when asked for (a key missing from the body is left out)."""

    text = serializers.CharField()
    logprobs = Logprob(many=True, required=False, help_text=LOGPROBS_HELP)
    usage = UsageField()


class Segment(serializers.Serializer):
    id = serializers.IntegerField()
    seek = serializers.IntegerField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()
    tokens = serializers.ListField(child=serializers.IntegerField())
    temperature = serializers.FloatField()
    avg_logprob = serializers.FloatField()
    compression_ratio = serializers.FloatField()
    no_speech_prob = serializers.FloatField()


class Word(serializers.Serializer):
    word = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()


class VerboseTranscription(serializers.Serializer):
    """`segments` and `words` appear as `timestamp_granularities[]` asks: a key missing from
    the body given to the serializer is left out (DRF skips a missing optional field)."""

    task = serializers.ChoiceField(choices=["transcribe", "translate"])
    language = serializers.CharField(help_text='Full lower-case name, e.g. "english".')
    duration = serializers.FloatField()
    text = serializers.CharField()
    segments = Segment(many=True, required=False)
    words = Word(many=True, required=False)
    usage = UsageSerializer()


class DiarizedSegment(serializers.Serializer):
    """openai-python `TranscriptionDiarizedSegment` (and, with `type`, the stream's
    `TranscriptionTextSegmentEvent`)."""

    type = serializers.ChoiceField(choices=["transcript.text.segment"])
    id = serializers.CharField(help_text='"seg_001", "seg_002", ... in order.')
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()
    speaker = serializers.CharField(
        help_text='"A", "B", ... in the order in which the speakers first speak, or the name '
        "of a known speaker (`known_speaker_names[]`) whose reference matches the voice."
    )


class DiarizedTranscription(serializers.Serializer):
    """`diarized_json` (model gpt-4o-transcribe-diarize): openai-python
    `TranscriptionDiarized`. Speakers come from diarizing the whole file once it is
    transcribed, so the letters agree across the chunks of long audio."""

    task = serializers.CharField(help_text='Always "transcribe".')
    duration = serializers.FloatField()
    text = serializers.CharField()
    segments = DiarizedSegment(many=True)
    usage = UsageSerializer()
