"""The model registry (`EngineConfig.models`) and the model files: where each model's
CTranslate2 files come from, verified against their pinned SHA-256 digests."""

import hashlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import current

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


class ModelUnavailable(Exception):
    """The model's files are missing or do not match their pinned digests."""


@dataclass(frozen=True)
class ModelSpec:
    id: str
    source: dict[str, Any]
    multilingual: bool
    sha256: dict[str, str]
    compute_type: str | None = None


def registry() -> dict[str, ModelSpec]:
    return {
        model_id: ModelSpec(
            id=model_id,
            source=conf["source"],
            multilingual=conf.get("multilingual", True),
            sha256=conf.get("sha256", {}),
            compute_type=conf.get("compute_type"),
        )
        for model_id, conf in current().models.items()
    }


def resolve_model_id(requested: str) -> str | None:
    """The registry id for a requested model id or alias; None when unknown."""
    config = current()
    model_id = config.aliases.get(requested, requested)
    return model_id if model_id in config.models else None


# --- Model files ------------------------------------------------------------------------------


def _package_dir(module: str, subdir: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"model package {module!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / subdir


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(directory: Path, spec: ModelSpec) -> None:
    for name, expected in spec.sha256.items():
        path = directory / name
        if not path.exists():
            raise ModelUnavailable(f"{spec.id}: {path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelUnavailable(f"{spec.id}: {path} has SHA-256 {actual}, expected {expected}")


def _reassemble(spec: ModelSpec, parts: Iterable[tuple[str, str]]) -> Path:
    """Concatenate model.bin.partN from several packages into the cache, once per machine.

    Written to a temporary name and renamed, so a worker killed half-way (or two workers
    starting together) never leaves a truncated model.bin that looks complete.
    """
    target = Path(current().cache_dir) / spec.id
    model_bin = target / "model.bin"
    part_dirs = [_package_dir(module, subdir) for module, subdir in parts]
    if model_bin.exists() and sha256_file(model_bin) == spec.sha256.get("model.bin"):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES[1:]:
        for part_dir in part_dirs:
            if (part_dir / name).exists():
                shutil.copyfile(part_dir / name, target / name)
                break
    tmp = target / f"model.bin.tmp-{os.getpid()}-{threading.get_ident()}"
    with tmp.open("wb") as out:
        for index, part_dir in enumerate(part_dirs, start=1):
            with (part_dir / f"model.bin.part{index}").open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, model_bin)
    return target


def model_directory(spec: ModelSpec) -> Path | str:
    """Where the model's CTranslate2 files are, verified against their pinned digests."""
    source = spec.source
    if "path" in source:
        directory = Path(source["path"])
    elif "package" in source:
        directory = _package_dir(source["package"], source.get("subdir", ""))
    elif "parts" in source:
        directory = _reassemble(spec, source["parts"])
    elif "hf_repo" in source:
        return source["hf_repo"]  # faster-whisper downloads it; only where the network allows
    else:
        raise ModelUnavailable(f"{spec.id}: unknown source {source!r}")
    _verify(directory, spec)
    return directory
