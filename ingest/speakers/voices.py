"""Voice embeddings: a vector per stretch of speech, close for one voice, far for two.

Resemblyzer's GE2E speaker encoder (a 3-layer LSTM over 40 mel bands; 256-dim, L2-normed):
its 17 MB of weights come inside its PyPI wheel, so nothing downloads at run time. It was
trained on 1.6-s partial utterances, and a stretch of any length is embedded as those: partials
one after another over it (the last one ending where the stretch ends), their mean, normed. A
stretch shorter than one partial is tiled to fill it, so the network hears only that voice.
Every partial of a call goes through the network in one batch: an LSTM over a batch costs on a
CPU little more than over one (BENCHMARKS.md, "Speakers").
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import ModelLoadError, first_line
from rag.models import load_once

SAMPLE_RATE = 16000  # what the encoder was trained on, and what ingest.audio decodes to
PARTIAL_FRAMES = 160  # mel frames of 10 ms: 1.6 s
HOP = 160  # samples per mel frame
PACKAGED = "resemblyzer"  # VIDRAG_SPEAKER_MODEL for the weights in the wheel
DIM = 256


def voice_model_installed() -> bool:
    return importlib.util.find_spec("resemblyzer") is not None


def load_voice_encoder(name_or_path: str, device: str):
    """The encoder, loaded on first use and kept for the process. `name_or_path`: "resemblyzer"
    for the packaged weights, or a checkpoint file of the same network."""
    return load_once(("voice", name_or_path, device), lambda: _load(name_or_path, device))


def _load(name_or_path: str, device: str):
    if not voice_model_installed():
        raise ModelLoadError("the speaker model is not installed (pip install --no-deps resemblyzer==0.1.4)")
    weights = None
    if name_or_path != PACKAGED:
        weights = Path(name_or_path).expanduser()
        if not weights.is_file():
            raise ModelLoadError(f"speaker model {name_or_path}: no such checkpoint file "
                                 f"(use {PACKAGED!r} for the packaged weights)")
    try:
        from resemblyzer import VoiceEncoder

        encoder = VoiceEncoder(device, verbose=False, weights_fpath=weights)
    except Exception as e:  # a file that isn't this network's checkpoint: torch, pickle or key errors
        raise ModelLoadError(f"speaker model {name_or_path}: {first_line(e)}") from e
    return encoder.eval()


def embed_stretches(encoder, stretches: Sequence[np.ndarray]) -> np.ndarray:
    """One L2-normed voice vector per stretch of 16 kHz float32 audio (n x 256)."""
    import torch
    from resemblyzer import wav_to_mel_spectrogram

    if not stretches:
        return np.zeros((0, DIM), dtype=np.float32)
    partials, owners = [], []
    for number, audio in enumerate(stretches):
        needed = PARTIAL_FRAMES * HOP
        if len(audio) < needed:
            audio = np.resize(audio, needed) if len(audio) else np.zeros(needed, dtype=np.float32)
        mel = wav_to_mel_spectrogram(np.asarray(audio, dtype=np.float32))
        starts = list(range(0, len(mel) - PARTIAL_FRAMES + 1, PARTIAL_FRAMES))
        if starts[-1] + PARTIAL_FRAMES < len(mel):
            starts.append(len(mel) - PARTIAL_FRAMES)  # the end too, overlapping the one before
        partials += [mel[at : at + PARTIAL_FRAMES] for at in starts]
        owners += [number] * len(starts)
    with torch.no_grad():
        vectors = encoder(torch.from_numpy(np.stack(partials)).to(encoder.device)).cpu().numpy()
    vectors = np.nan_to_num(vectors)  # digital silence: the network's output is all zeros, normed to NaN
    sums = np.zeros((len(stretches), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, np.asarray(owners), vectors)
    return (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)
