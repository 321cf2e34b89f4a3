"""The speech engine: the model registry and its files (registry.py), loading and decoding
(decoding.py), probing uploads (audio.py), chunking, the speech a transcript left out
(coverage.py), diarization, languages and live audio.
It imports neither Django nor any app of the platform: its settings are handed in once at its
edge (`speech.configure(EngineConfig(...))`, done by transcriptions/apps.py).

Callers use the package (`engine.transcribe`, `engine.registry()`): one name to patch when a
test injects a fault into the engine.
"""

from .config import EngineConfig, configure
from .constants import SAMPLE_RATE
from .decoding import (
    BEAM_SIZE,
    TEMPERATURE_LADDER,
    WARM_UP_CLIP,
    TranscriptionResult,
    compute_device,
    decode_options,
    detect_language,
    get_model,
    loaded_models,
    output_token_count,
    preload,
    text_token_count,
    transcribe,
)
from .fallback import SeededBudget
from .registry import (
    MODEL_FILES,
    ModelSpec,
    ModelUnavailable,
    model_directory,
    registry,
    resolve_model_id,
    sha256_file,
)
from .windows import MIN_WINDOW_SECONDS, window_seconds_for

__all__ = [
    "BEAM_SIZE",
    "MIN_WINDOW_SECONDS",
    "MODEL_FILES",
    "SAMPLE_RATE",
    "TEMPERATURE_LADDER",
    "WARM_UP_CLIP",
    "EngineConfig",
    "ModelSpec",
    "ModelUnavailable",
    "SeededBudget",
    "TranscriptionResult",
    "compute_device",
    "configure",
    "decode_options",
    "detect_language",
    "get_model",
    "loaded_models",
    "model_directory",
    "output_token_count",
    "preload",
    "registry",
    "resolve_model_id",
    "sha256_file",
    "text_token_count",
    "transcribe",
    "window_seconds_for",
]
