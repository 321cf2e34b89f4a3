"""The speech engine's settings, built from Django's and handed to it (`speech.configure`) when
the app is ready, and again whenever a test changes one of them."""

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

import speech

ENGINE_SETTINGS = frozenset(
    {
        "WHISPER_MODELS",
        "WHISPER_MODEL_ALIASES",
        "WHISPER_PRELOAD_MODELS",
        "WHISPER_CACHE_DIR",
        "WHISPER_DEVICE",
        "WHISPER_CPU_THREADS",
        "DIARIZATION_ENCODER",
    }
)


def engine_config() -> speech.EngineConfig:
    return speech.EngineConfig(
        models=settings.WHISPER_MODELS,
        cache_dir=settings.WHISPER_CACHE_DIR,
        aliases=settings.WHISPER_MODEL_ALIASES,
        preload_models=tuple(settings.WHISPER_PRELOAD_MODELS),
        device=settings.WHISPER_DEVICE,
        cpu_threads=settings.WHISPER_CPU_THREADS,
        diarization_encoder=getattr(settings, "DIARIZATION_ENCODER", {}),
    )


def configure_engine() -> None:
    speech.configure(engine_config())


@receiver(setting_changed)
def _reconfigure(sender, setting: str, **kwargs) -> None:
    if setting in ENGINE_SETTINGS:
        configure_engine()
