"""Speech at known times, made with espeak-ng (Debian package `espeak-ng`): real words for the
real Whisper in tests and benchmarks, where a sine tone says nothing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ingest.audio import SAMPLE_RATE
from ingest.ffmpeg import ffmpeg_exe

AUDIBLE = 1e-3  # sample amplitude above which espeak-ng's output counts as speech


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def say(text: str, words_per_minute: int = 160, voice: str = "", pitch: int | None = None) -> np.ndarray:
    """`text` spoken by espeak-ng, as 16 kHz mono float32, trimmed to where the sound is; in
    `voice` (an espeak-ng voice and variant, e.g. "en-us+steph") at `pitch` (0..99), if given."""
    options = (["-v", voice] if voice else []) + (["-p", str(pitch)] if pitch is not None else [])
    wav = subprocess.run(["espeak-ng", *options, "-s", str(words_per_minute), "--stdout", text],
                         check=True, capture_output=True).stdout
    pcm = subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", "-", "-ac", "1",
                          "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"],
                         input=wav, check=True, capture_output=True).stdout
    audio = np.frombuffer(pcm, dtype=np.float32)
    loud = np.flatnonzero(np.abs(audio) > AUDIBLE)
    return audio[loud[0] : loud[-1] + 1].copy() if len(loud) else audio


def spoken_track(passages: list[tuple[float, str]], seconds: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """`seconds` of silence with each (time, text) passage spoken from its time on. Returns the
    audio and each passage's (start, end) in seconds, where its sound begins and ends."""
    audio = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    spans = []
    for at_s, text in passages:
        speech = say(text)
        first = int(at_s * SAMPLE_RATE)
        if first + len(speech) > len(audio):
            raise ValueError(f"the passage at {at_s} s runs past {seconds} s")
        audio[first : first + len(speech)] = speech
        spans.append((first / SAMPLE_RATE, (first + len(speech)) / SAMPLE_RATE))
    return audio, spans


def write_media(audio: np.ndarray, path: Path, video: bool = False, audio_delay_s: float = 0.0) -> Path:
    """Save 16 kHz float32 samples as a media file (by its suffix), under a small test-pattern
    video when `video`; `audio_delay_s` makes the audio stream itself start that late."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        # A file, not a pipe: ffmpeg's -itsoffset is lost on raw samples read from stdin.
        subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE),
                        "-ac", "1", "-i", "-", str(wav)], input=audio.astype(np.float32).tobytes(), check=True)
        args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        if video:
            seconds = audio_delay_s + len(audio) / SAMPLE_RATE
            args += ["-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=5:duration={seconds:.3f}"]
        if audio_delay_s:
            args += ["-itsoffset", f"{audio_delay_s:.3f}"]
        args += ["-i", str(wav)]
        if video:
            args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
        args += ["-c:a", "libopus" if path.suffix in (".webm", ".opus", ".ogg", ".mkv") else "aac", str(path)]
        subprocess.run(args, check=True)
    return path


def talk(seconds: float, folder: Path | None = None) -> tuple[Path, float]:
    """An m4a of `seconds` of continuous espeak-ng talk (the retrieval benchmark's sentences, one
    every few seconds), cached; returns its path and the seconds that hold speech."""
    from bench.media import CACHE

    folder = folder or CACHE
    path = folder / f"talk_{seconds:g}s.m4a"
    pieces = _talk_pieces(seconds)
    audio = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    for start_s, _, speech in pieces:
        first = int(start_s * SAMPLE_RATE)
        audio[first : first + len(speech)] = speech
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_media(audio, path.with_suffix(".partial.m4a")).rename(path)
    return path, sum(len(s) for _, _, s in pieces) / SAMPLE_RATE


def talk_script(seconds: float) -> str:
    """The words `talk(seconds)` speaks."""
    return " ".join(text for _, text, _ in _talk_pieces(seconds))


def _talk_pieces(seconds: float) -> list[tuple[float, str, np.ndarray]]:
    import random

    from bench.retrieval import sentence

    rng = random.Random(7)
    pieces, at = [], 0.0
    while True:
        text = sentence(rng)
        speech = say(text)
        if at + len(speech) / SAMPLE_RATE > seconds:
            return pieces
        pieces.append((at, text, speech))
        at += len(speech) / SAMPLE_RATE + 0.6  # a short breath between sentences


def talk_video(seconds: int) -> Path:
    """The benchmark's 720p test video with `seconds` of espeak-ng talk as its sound, cached."""
    from bench.media import CACHE, test_video

    path = CACHE / f"talk_{seconds}s_720p.mp4"
    if not path.exists():
        video = test_video(seconds, audio=False)
        audio, _ = talk(seconds)
        subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-i", str(audio),
                        "-map", "0:v", "-map", "1:a", "-c", "copy", str(path.with_suffix(".partial.mp4"))],
                       check=True)
        path.with_suffix(".partial.mp4").rename(path)
    return path
