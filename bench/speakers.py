"""Speakers on a CPU: the speakers stage's cost beside the transcript stage's, and the choices
(voice vectors and clustering) side by side on the speaker suite (evals/conversation.py).

Needs a real Whisper checkpoint (e.g. ../shared/models/whisper-tiny.en.pt) and espeak-ng. Each
file is transcribed (batched, as ingest does) and diarized twice, the first time to warm the
models, and timed the second; every choice then diarizes that same transcript. One run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

# name: (voice vectors, clustering method, similarity cut)
CHOICES = {
    "resemblyzer + average linkage 0.70 (default)": ("resemblyzer", "average", 0.70),
    "resemblyzer + average linkage 0.60": ("resemblyzer", "average", 0.60),
    "resemblyzer + average linkage 0.65": ("resemblyzer", "average", 0.65),
    "resemblyzer + average linkage 0.75": ("resemblyzer", "average", 0.75),
    "resemblyzer + average linkage 0.80": ("resemblyzer", "average", 0.80),
    "resemblyzer + spectral, eigengap count": ("resemblyzer", "spectral", 0.70),
    "MFCC mean and spread (no model) + average linkage 0.30": ("mfcc", "average", 0.30),
    "MFCC mean and spread (no model) + average linkage 0.50": ("mfcc", "average", 0.50),
    "MFCC mean and spread (no model) + average linkage 0.70": ("mfcc", "average", 0.70),
}


def mfcc_vectors(windows, pieces) -> np.ndarray:
    """The no-model baseline: each piece's 20 MFCCs' mean and spread, centred over the file and normed."""
    import librosa

    from ingest.speakers.voices import SAMPLE_RATE

    audio = np.concatenate(list(windows))
    rows = []
    for piece in pieces:
        stretch = audio[int(piece.start_s * SAMPLE_RATE) : int(piece.end_s * SAMPLE_RATE)]
        mfcc = librosa.feature.mfcc(y=np.resize(stretch, max(len(stretch), 400)), sr=SAMPLE_RATE, n_mfcc=20)
        rows.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    rows = np.asarray(rows)
    rows = (rows - rows.mean(axis=0)) / (rows.std(axis=0) + 1e-6)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def run(model_path: str, threads: int | None = 1) -> dict:
    import torch

    from evals.conversation import build
    from ingest.audio import audio_windows
    from ingest.probe import probe
    from ingest.speakers import load_voice_encoder
    from ingest.speakers.clustering import cluster_voices
    from ingest.speakers.diarize import diarize, voice_vectors
    from ingest.speakers.pieces import labelled, pieces_of
    from ingest.transcribe import transcribe_windows
    from rag.models import load_whisper
    from rag.speaker_eval import load_references, score_speakers

    if threads:
        torch.set_num_threads(threads)
    folder = Path(tempfile.mkdtemp(prefix="vidrag-bench-speakers-"))
    *_, suite = build(folder)
    references = load_references(suite)
    whisper = load_whisper(model_path, "cpu")
    encoder = load_voice_encoder("resemblyzer", "cpu")
    files = {}
    for reference in references:
        info = probe(str(folder / reference.video))
        transcribe_windows(whisper, audio_windows(info), "en", "cpu", batch=8)  # warm
        started = time.perf_counter()
        transcript, audio_s = transcribe_windows(whisper, audio_windows(info), "en", "cpu", batch=8)
        transcribe_s = time.perf_counter() - started
        diarize(audio_windows(info), transcript.segments, encoder)  # warm
        started = time.perf_counter()
        diarized = diarize(audio_windows(info), transcript.segments, encoder)
        speakers_s = time.perf_counter() - started
        files[reference.video] = {"info": info, "transcript": transcript, "turns": reference.turns,
                                  "audio_s": audio_s, "transcript_s": transcribe_s, "speakers_s": speakers_s,
                                  "speakers": diarized.speakers}
    choices = {}
    for name, (vectors_of, method, cut) in CHOICES.items():
        rows = {}
        for video, file in files.items():
            pieces = pieces_of(file["transcript"].segments)
            started = time.perf_counter()
            if vectors_of == "mfcc":
                vectors = mfcc_vectors(audio_windows(file["info"]), pieces)
            else:
                vectors = voice_vectors(audio_windows(file["info"]), pieces, encoder)
            labels = cluster_voices(vectors, [p.seconds for p in pieces], method, cut)
            segments = labelled(file["transcript"].segments, pieces, labels)
            spent = time.perf_counter() - started
            score = score_speakers(video, file["turns"], segments)
            rows[video] = {"share_right": round(score.share_right, 4), "speakers": score.speakers_found,
                           "true": score.speakers_true, "seconds": round(spent, 3)}
        choices[name] = rows
    cost = {video: {"audio_s": round(f["audio_s"], 1), "transcript_s": round(f["transcript_s"], 3),
                    "speakers_s": round(f["speakers_s"], 3),
                    "speakers_share_of_transcript": round(f["speakers_s"] / f["transcript_s"], 4),
                    "speakers_ms_per_audio_s": round(1000 * f["speakers_s"] / f["audio_s"], 2),
                    "speakers_found": f["speakers"]}
            for video, f in files.items()}
    return {"model": model_path, "threads": threads, "cost": cost, "choices": choices}

