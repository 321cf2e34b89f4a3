"""The model registry: pinned digests, reassembly of split weights, aliases, the model cache."""

import pytest

import speech as engine


def test_whisper_1_is_the_multilingual_model():
    assert engine.resolve_model_id("whisper-1") == "base"
    assert engine.registry()["base"].multilingual
    assert not engine.registry()["tiny.en"].multilingual
    assert engine.resolve_model_id("large-v3") is None


def test_split_model_is_reassembled_once_and_verified(settings, tmp_path):
    settings.WHISPER_CACHE_DIR = tmp_path
    spec = engine.registry()["base"]
    directory = engine.model_directory(spec)
    assert directory == tmp_path / "base"
    model_bin = directory / "model.bin"
    assert engine.sha256_file(model_bin) == spec.sha256["model.bin"]
    mtime = model_bin.stat().st_mtime_ns
    engine.model_directory(spec)
    assert model_bin.stat().st_mtime_ns == mtime, "a verified cache is not rebuilt"


def test_corrupted_reassembly_is_rebuilt(settings, tmp_path):
    settings.WHISPER_CACHE_DIR = tmp_path
    spec = engine.registry()["base"]
    model_bin = engine.model_directory(spec) / "model.bin"
    model_bin.write_bytes(b"truncated")
    engine.model_directory(spec)
    assert engine.sha256_file(model_bin) == spec.sha256["model.bin"]


def test_digest_mismatch_refuses_to_load(settings, tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a model")
    spec = engine.ModelSpec(
        id="bad",
        source={"path": str(tmp_path)},
        multilingual=False,
        sha256={"model.bin": "0" * 64},
    )
    with pytest.raises(engine.ModelUnavailable, match="has SHA-256"):
        engine.model_directory(spec)


def test_missing_package_is_reported():
    spec = engine.ModelSpec(
        id="gone",
        source={"package": "no_such_model_package", "subdir": "m"},
        multilingual=False,
        sha256={},
    )
    with pytest.raises(engine.ModelUnavailable, match="not installed"):
        engine.model_directory(spec)


def test_model_is_loaded_once_per_process():
    assert engine.get_model("tiny.en") is engine.get_model("tiny.en")
    assert "tiny.en" in engine.loaded_models()
