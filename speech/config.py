"""The engine's settings, handed in once at its edge (`speech.configure`), so that the engine
reads no framework's settings: the Django project builds them from its own
(transcriptions/engine_config.py) and hands them in again when a test changes one."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EngineConfig:
    # The registry: model id -> {"source", "multilingual", "sha256", "compute_type"}.
    models: Mapping[str, Mapping[str, Any]]
    # Where reassembled models and the speaker encoder's weights are kept.
    cache_dir: Path
    # Requested model ids (OpenAI's names) -> registry ids.
    aliases: Mapping[str, str] = field(default_factory=dict)
    preload_models: tuple[str, ...] = ()
    device: str = "auto"  # auto | cpu | cuda
    cpu_threads: int = 0  # 0: CTranslate2's own choice
    # Overrides of the speaker encoder's pinned source (speaker_encoder.DEFAULT_ENCODER).
    diarization_encoder: Mapping[str, str] = field(default_factory=dict)


_config: EngineConfig | None = None


def configure(config: EngineConfig) -> None:
    global _config
    _config = config


def current() -> EngineConfig:
    if _config is None:
        raise RuntimeError("speech.configure(EngineConfig(...)) was not called")
    return _config
