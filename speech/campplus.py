"""CAM++, the speaker encoder of the diarization engine, run in numpy: 3D-Speaker's network
(Apache-2.0; Wang et al., "CAM++: A Fast and Efficient Network for Speaker Verification Using
Context-Aware Masking", 2023) with the weights of its Chinese-English model, read from a torch
checkpoint by speaker_encoder.py. A 2-D convolutional front end over 80 log mel filterbanks, a
densely connected TDNN whose layers are masked by their context (the whole input's mean and
2-s segments'), statistics pooling and a 192-d embedding.

The network is written here rather than run by torch or onnxruntime: torch would be a
dependency of several hundred megabytes for one small model, and the weights come as a torch
state dict that no ONNX file on a reachable registry holds. Layer for layer it follows
3D-Speaker's `speakerlab/models/campplus` (eval mode: batch norms use their running figures).
"""

from __future__ import annotations

import numpy as np

from .constants import SAMPLE_RATE

# Kaldi's filterbank as 3D-Speaker computes it (torchaudio.compliance.kaldi.fbank's defaults):
# 25 ms Povey windows every 10 ms, no dither, DC removed, pre-emphasis 0.97, a 512-point power
# spectrum, 80 triangular bins on the mel scale from 20 Hz to the Nyquist frequency, log.
FRAME = 400
SHIFT = 160
N_FFT = 512
N_MELS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
BN_EPS = 1e-5
SEGMENT_FRAMES = 100  # the context masks' segments, in the network's 20 ms frames
# The dense TDNN blocks: (layers, dilation); each layer adds GROWTH channels.
BLOCKS = ((12, 1), (24, 2), (16, 2))
EMBEDDING_SIZE = 192


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_banks() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular weights, as Kaldi's MelBanks (the Nyquist bin 0)."""
    bins = N_FFT // 2
    fft_mel = _mel(np.arange(bins) * SAMPLE_RATE / N_FFT)
    low, high = _mel(LOW_HZ), _mel(SAMPLE_RATE / 2)
    delta = (high - low) / (N_MELS + 1)
    left = low + np.arange(N_MELS) * delta
    centre, right = left + delta, left + 2 * delta
    rising = (fft_mel[None, :] - left[:, None]) / (centre - left)[:, None]
    falling = (right[:, None] - fft_mel[None, :]) / (right - centre)[:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((0, 0), (0, 1))).astype(np.float32)


_BANKS = _mel_banks()
_WINDOW = ((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85).astype(
    np.float32
)


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) log mel filterbank of 16 kHz samples, one frame every 10 ms (frame k
    covers samples [160 k, 160 k + 400)); no frame for under 25 ms."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    count = 1 + (len(samples) - FRAME) // SHIFT if len(samples) >= FRAME else 0
    if count == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(samples, FRAME)[::SHIFT][:count]
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = np.empty_like(frames)
    emphasised[:, 1:] = frames[:, 1:] - PREEMPHASIS * frames[:, :-1]
    emphasised[:, 0] = frames[:, 0] * (1.0 - PREEMPHASIS)
    power = np.abs(np.fft.rfft(emphasised * _WINDOW, N_FFT, axis=1)) ** 2
    energies = power.astype(np.float32) @ _BANKS.T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


# --- Layers ---------------------------------------------------------------------------------


def _conv2d(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """x (C, B, F, T), a 3x3 kernel laid out (3 O, 3 C): rows (time tap, out channel), columns
    (frequency tap, in channel); padding 1, stride (stride, 1) -> (O, B, F', T). The three
    frequency taps are stacked (rows shifted, time padded) and one product gives every time
    tap at once; the time taps are then summed shifted. Stacking all nine taps would copy the
    input nine times, and that copy costs more than the product."""
    channels, batch, freq, time = x.shape
    out_freq = (freq - 1) // stride + 1
    columns = np.zeros((3, channels, batch, out_freq, time + 2), dtype=np.float32)
    for tap in range(3):  # output row f reads input row f * stride + tap - 1
        skip = 1 if tap == 0 else 0  # row -1 is padding
        rows = x[:, :, skip * stride + tap - 1 :: stride][:, :, : out_freq - skip]
        columns[tap, :, :, skip : skip + rows.shape[2], 1 : time + 1] = rows
    out = (weight @ columns.reshape(3 * channels, -1)).reshape(3, -1, batch, out_freq, time + 2)
    summed = out[0, ..., :time] + out[1, ..., 1 : time + 1]
    summed += out[2, ..., 2:]
    return summed


def _conv1d(x: np.ndarray, weight: np.ndarray, dilation: int = 1, stride: int = 1) -> np.ndarray:
    """x (B, C, T), weight (K, O, C), 'same' padding -> (B, O, T')."""
    kernel = weight.shape[0]
    pad = (kernel - 1) // 2 * dilation
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    length = (padded.shape[2] - dilation * (kernel - 1) - 1) // stride + 1
    out = None
    for k in range(kernel):
        start = k * dilation
        part = np.matmul(
            weight[k], padded[:, :, start : start + stride * (length - 1) + 1 : stride]
        )
        out = part if out is None else out + part
    return out


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


class CAMPPlus:
    """The network in eval mode. `frames` gives the features before pooling, 512 channels
    every 20 ms; `pool` turns a span of them into an embedding (not normalised)."""

    def __init__(self, state: dict[str, np.ndarray]):

        def bn(prefix: str, shape: tuple[int, ...], affine: bool = True):
            mean = state[f"{prefix}.running_mean"].astype(np.float64)
            scale = 1.0 / np.sqrt(state[f"{prefix}.running_var"].astype(np.float64) + BN_EPS)
            if affine:
                scale = scale * state[f"{prefix}.weight"]
                shift = state[f"{prefix}.bias"] - mean * scale
            else:
                shift = -mean * scale
            return (
                scale.astype(np.float32).reshape(shape),
                shift.astype(np.float32).reshape(shape),
            )

        def kernel2d(name: str, norm: tuple[np.ndarray, np.ndarray]):
            """A 3x3 kernel (O, C, freq, time) with its batch norm's scale folded in, laid
            out for _conv2d, and the norm's shift."""
            scale, shift = norm
            w = state[name].astype(np.float32) * scale.reshape(-1, 1, 1, 1)
            o, c = w.shape[:2]
            return np.ascontiguousarray(w.transpose(3, 0, 2, 1).reshape(3 * o, 3 * c)), shift

        def kernel1d(name: str) -> np.ndarray:
            return np.ascontiguousarray(state[name].astype(np.float32).transpose(2, 0, 1))

        four, three = (-1, 1, 1, 1), (1, -1, 1)

        weight, shift = kernel2d("head.conv1.weight", bn("head.bn1", four))
        self.head = [("conv", weight, 1, shift)]
        for layer, stride in (("layer1", 2), ("layer2", 2)):
            for index, block_stride in ((0, stride), (1, 1)):
                p = f"head.{layer}.{index}"
                shortcut = None
                if f"{p}.shortcut.0.weight" in state:
                    scale, shift = bn(f"{p}.shortcut.1", four)
                    weight = state[f"{p}.shortcut.0.weight"][:, :, 0, 0].astype(np.float32)
                    shortcut = (weight * scale.reshape(-1, 1), shift)
                self.head.append(
                    (
                        "block",
                        kernel2d(f"{p}.conv1.weight", bn(f"{p}.bn1", four)),
                        kernel2d(f"{p}.conv2.weight", bn(f"{p}.bn2", four)),
                        block_stride,
                        shortcut,
                    )
                )
        weight, shift = kernel2d("head.conv2.weight", bn("head.bn2", four))
        self.head.append(("conv", weight, 2, shift))
        self.tdnn = (
            kernel1d("xvector.tdnn.linear.weight"),
            bn("xvector.tdnn.nonlinear.batchnorm", three),
        )
        self.blocks = []
        for number, (layers, dilation) in enumerate(BLOCKS, 1):
            dense = []
            for n in range(1, layers + 1):
                p = f"xvector.block{number}.tdnnd{n}"
                cam = f"{p}.cam_layer"
                dense.append(
                    (
                        bn(f"{p}.nonlinear1.batchnorm", three),
                        state[f"{p}.linear1.weight"][:, :, 0].astype(np.float32),
                        bn(f"{p}.nonlinear2.batchnorm", three),
                        kernel1d(f"{cam}.linear_local.weight"),
                        state[f"{cam}.linear1.weight"][:, :, 0].astype(np.float32),
                        state[f"{cam}.linear1.bias"].astype(np.float32)[:, None],
                        state[f"{cam}.linear2.weight"][:, :, 0].astype(np.float32),
                        state[f"{cam}.linear2.bias"].astype(np.float32)[:, None],
                    )
                )
            transit = f"xvector.transit{number}"
            self.blocks.append(
                (
                    dilation,
                    dense,
                    bn(f"{transit}.nonlinear.batchnorm", three),
                    state[f"{transit}.linear.weight"][:, :, 0].astype(np.float32),
                )
            )
        self.out_bn = bn("xvector.out_nonlinear.batchnorm", three)
        self.dense = state["xvector.dense.linear.weight"][:, :, 0].astype(np.float32)
        self.dense_bn = bn("xvector.dense.nonlinear.batchnorm", (1, -1), affine=False)

    def _head(self, x: np.ndarray) -> np.ndarray:
        # Each convolution's batch norm scale is folded into its kernel (`kernel2d`): a product,
        # its shift added in place, the ReLU in place.
        for step in self.head:
            if step[0] == "conv":
                _, weight, stride, shift = step
                out = _conv2d(x, weight, stride)
                out += shift
                x = _relu(out)
                continue
            _, (w1, b1), (w2, b2), stride, shortcut = step
            out = _conv2d(x, w1, stride)
            out += b1
            out = _conv2d(_relu(out), w2, 1)
            out += b2
            if shortcut is None:
                out += x
            else:
                weight, shift = shortcut
                strided = x[:, :, ::stride, :]
                channels, batch, freq, time = strided.shape
                out += (weight @ strided.reshape(channels, -1)).reshape(-1, batch, freq, time)
                out += shift
            x = _relu(out)
        return x

    def frames(self, feats: np.ndarray) -> np.ndarray:
        """(B, T, 80) filterbank frames, each row's mean taken off -> (B, 512, ceil(T / 2))."""
        x = np.asarray(feats, dtype=np.float32).transpose(0, 2, 1)[None]  # (1, B, 80, T)
        x = self._head(x)
        channels, batch, freq, time = x.shape
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3).reshape(batch, channels * freq, time))
        weight, (scale, shift) = self.tdnn
        x = _relu(_conv1d(x, weight, stride=2) * scale + shift)
        for dilation, dense, (t_scale, t_shift), transit in self.blocks:
            width = x.shape[1] + sum(layer[3].shape[1] for layer in dense)
            grown = np.empty((x.shape[0], width, x.shape[2]), dtype=np.float32)
            grown[:, : x.shape[1]] = x
            filled = x.shape[1]
            for bn1, linear1, bn2, local, w1, b1, w2, b2 in dense:
                h = _relu(grown[:, :filled] * bn1[0] + bn1[1])
                h = _relu(np.matmul(linear1, h) * bn2[0] + bn2[1])
                y = _conv1d(h, local, dilation=dilation)
                z = _relu(np.matmul(w1, self._context(h)) + b1)
                z = np.matmul(w2, z) + b2
                y *= 1.0 / (1.0 + np.exp(-z))
                grown[:, filled : filled + y.shape[1]] = y
                filled += y.shape[1]
            x = np.matmul(transit, _relu(grown * t_scale + t_shift))
        scale, shift = self.out_bn
        return _relu(x * scale + shift)

    @staticmethod
    def _context(h: np.ndarray) -> np.ndarray:
        """The whole input's mean plus each 100-frame segment's mean, per frame."""
        length = h.shape[2]
        count = -(-length // SEGMENT_FRAMES)
        padded = np.zeros((*h.shape[:2], count * SEGMENT_FRAMES), dtype=np.float32)
        padded[:, :, :length] = h
        sizes = np.minimum(SEGMENT_FRAMES, length - SEGMENT_FRAMES * np.arange(count))
        segments = padded.reshape(*h.shape[:2], count, SEGMENT_FRAMES).sum(-1) / sizes
        spread = np.repeat(segments, SEGMENT_FRAMES, axis=-1)[:, :, :length]
        return spread + h.mean(-1, keepdims=True)

    def pool(self, frames: np.ndarray) -> np.ndarray:
        """(B, 512, T) -> (B, 192): mean and standard deviation over time, then the dense
        layer and its batch norm."""
        count = frames.shape[-1]
        std = frames.std(-1, ddof=1) if count > 1 else np.full(frames.shape[:2], 1e-2)
        stats = np.concatenate([frames.mean(-1), std], axis=1).astype(np.float32)
        return self.dense_layer(stats)

    def dense_layer(self, stats: np.ndarray) -> np.ndarray:
        """(B, 1024) means and standard deviations -> (B, 192)."""
        scale, shift = self.dense_bn
        return (stats @ self.dense.T) * scale + shift

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        return self.pool(self.frames(feats))
