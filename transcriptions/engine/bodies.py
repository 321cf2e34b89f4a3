"""The JSON bodies of OpenAI's `json` and `verbose_json` formats, as serializers: the same
classes render every answer (formats.render) and describe it in the OpenAPI schema
(api/schema.py), so the document cannot drift from what clients receive."""

from rest_framework import serializers


class UsageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["duration"])
    seconds = serializers.IntegerField(help_text="Audio seconds billed: the duration rounded up.")


class Transcription(serializers.Serializer):
    text = serializers.CharField()
    usage = UsageSerializer()


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
