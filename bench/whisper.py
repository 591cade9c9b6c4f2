"""Whisper on a CPU: real-time factor (audio seconds per wall second) of openai-whisper on espeak-ng
talk, for several decoding settings side by side in one run, and the cost of a silent hour.

Needs a real checkpoint (VIDRAG_WHISPER_MODEL, e.g. ../shared/models/whisper-tiny.en.pt) and
espeak-ng. Each setting transcribes the same audio, decoded once beforehand."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.media import CACHE

# name: (what runs, whisper options). "vidrag" is ingest's own path (ingest.transcribe).
SETTINGS = {
    "before: whisper defaults, no word times": ("whisper", dict(word_timestamps=False)),
    "whisper + word times (no shared encoder pass)": ("whisper", dict(word_timestamps=True)),
    "vidrag batch 1: word times, shared encoder pass, silence gate": ("vidrag", dict(batch=1)),
    "vidrag batch 4": ("vidrag", dict(batch=4)),
    "vidrag batch 8 (default)": ("vidrag", dict(batch=8)),
    "vidrag batch 16": ("vidrag", dict(batch=16)),
    "no fallback (temperature 0 only), no word times": ("whisper", dict(word_timestamps=False, temperature=0.0)),
    "condition_on_previous_text=False, no word times": ("whisper", dict(word_timestamps=False,
                                                                        condition_on_previous_text=False)),
    "beam 5, no word times": ("whisper", dict(word_timestamps=False, beam_size=5)),
}


def run(model_path: str, seconds: float = 600, settings: list[str] | None = None, threads: int | None = None,
        silent_hour: bool = True, ct2_model: str | None = None, ct2_python: str | None = None) -> dict:
    import torch

    from bench.speech import talk, talk_script
    from ingest.audio import audio_windows
    from ingest.probe import probe
    from ingest.transcribe import transcribe_windows
    from rag.models import load_whisper

    if threads:
        torch.set_num_threads(threads)
    path, speech_s = talk(seconds)
    script = talk_script(seconds)
    windows = list(audio_windows(probe(str(path))))
    audio_s = sum(len(w) for w in windows) / 16000
    results = {}
    for name in settings or SETTINGS:
        kind, options = SETTINGS[name]
        model = load_whisper(model_path, "cpu") if kind == "vidrag" else _plain_model(model_path)
        start = time.perf_counter()
        if kind == "vidrag":
            transcript, _ = transcribe_windows(model, windows, "en", "cpu", **options)
            text = " ".join(s.text for s in transcript.segments)
        else:
            text = " ".join(model.transcribe(w, language="en", fp16=False, **options)["text"] for w in windows)
        wall = time.perf_counter() - start
        results[name] = {"wall_s": round(wall, 1), "realtime_x": round(audio_s / wall, 2), "words": len(text.split()),
                         "word_errors": word_errors(script, text)}
    if ct2_model:
        results.update(_faster_whisper(ct2_model, ct2_python or sys.executable, windows, audio_s,
                                       threads or torch.get_num_threads(), script))
    out = {"audio_s": round(audio_s, 1), "speech_s": round(speech_s, 1), "script_words": len(_words(script)),
           "model": model_path,
           "torch_threads": torch.get_num_threads(), "settings": results}
    if silent_hour:
        out["silent_hour"] = _silent_hour(model_path)
    return out


def word_errors(script: str, heard: str) -> int:
    """Words substituted, dropped or added in `heard` against `script` (the edit distance over
    words, case and punctuation aside): the numerator of the word error rate."""
    reference, hypothesis = _words(script), _words(heard)
    previous = list(range(len(hypothesis) + 1))
    for i, word in enumerate(reference, 1):
        current = [i]
        for j, other in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9']+", text.lower())


def _faster_whisper(model_dir: str, python: str, windows, audio_s: float, threads: int, script: str) -> dict:
    """The faster-whisper rows, from an interpreter that has it (bench/whisper_ct2.py), on the same
    windows, right after the openai-whisper rows."""
    import numpy as np

    saved = CACHE / "whisper-windows.npz"
    np.savez(saved, *windows)
    root = Path(__file__).resolve().parent.parent
    finished = subprocess.run([python, str(root / "bench" / "whisper_ct2.py"), model_dir, str(saved), str(threads)],
                              capture_output=True, text=True, check=True)
    rows = json.loads(finished.stdout.strip().splitlines()[-1])
    return {name: {"wall_s": round(row["wall_s"], 1), "realtime_x": round(audio_s / row["wall_s"], 2),
                   "words": len(row["text"].split()), "word_errors": word_errors(script, row["text"])}
            for name, row in rows.items()}


def _plain_model(model_path: str):
    """The checkpoint loaded as whisper loads it, with its alignment heads, and no vidrag changes."""
    import torch
    import whisper

    model = whisper.load_model(model_path, device="cpu")
    heads = torch.load(model_path, weights_only=True).get("alignment_heads_b85")
    if heads:
        model.set_alignment_heads(heads.encode())
    return model


def _silent_hour(model_path: str) -> dict:
    """An hour of silence, decoded and gated as ingest does: wall seconds and segments."""
    from ingest.audio import audio_windows
    from ingest.ffmpeg import ffmpeg_exe
    from ingest.probe import probe
    from ingest.transcribe import transcribe_windows
    from rag.models import load_whisper
    from rag.settings import Settings

    path = CACHE / "silent_3600s.m4a"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "anullsrc=r=16000:cl=mono", "-t", "3600", "-c:a", "aac", str(path)], check=True)
    model = load_whisper(model_path, "cpu")
    start = time.perf_counter()
    transcript, audio_s = transcribe_windows(model, audio_windows(probe(str(path))), "en", "cpu",
                                             batch=Settings.model_fields["whisper_batch"].default)
    return {"audio_s": round(audio_s), "wall_s": round(time.perf_counter() - start, 1),
            "segments": len(transcript.segments)}

