"""The transcript stage: what was said, with times. Subtitles beside the file first (the user's
original), then subtitles inside it, then Whisper on the audio (both read from the library's copy)."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math

from ingest.audio import audio_window, audio_windows
from ingest.subtitles import find_sidecar, read_embedded, read_sidecar
from ingest.transcribe import transcribe_windows, whisper_language
from rag.errors import IngestError
from rag.models import load_whisper
from rag.types import Transcript

NAME = "transcript"
NO_TRANSCRIPT = Transcript((), "", "none")


def run(work) -> None:
    report = work.reporter(NAME)
    report(0, 2)
    work.transcript = _transcript(work, report)
    report(2, 2)


def _transcript(work, report) -> Transcript:
    info, path = work.info, work.original
    sidecar = work.subtitles or find_sidecar(path)
    if sidecar:
        try:
            return read_sidecar(path, sidecar)
        except IngestError as e:
            work.warnings.append(f"{e}; using the audio instead")
    embedded = read_embedded(info)
    if embedded:
        return embedded
    if info.audio is None:
        if info.video is not None:
            work.warnings.append("no audio stream: indexed the frames only")
        return NO_TRANSCRIPT
    # closing(): if Whisper fails mid-way, the ffmpeg still decoding is stopped at once.
    with contextlib.closing(audio_windows(info, work.settings.audio_window_s)) as windows:
        try:
            first = next(windows)  # decoding starts, and fails here, before Whisper loads
        except IngestError as e:
            if info.video is None:
                raise IngestError(f"{path.name}: {e}") from e
            work.warnings.append(f"{e}: indexed the frames only")
            return NO_TRANSCRIPT
        report(1, 2)  # the audio decodes; Whisper's turn
        model = load_whisper(work.settings.whisper_model, work.device, work.notify)
        language = whisper_language(model, work.settings.whisper_language)
        length_s = info.duration_s or 0.0
        if work.fan_out is not None and length_s > work.settings.audio_window_s:
            return _in_pieces(work, model, first, length_s, language)

        def on_window(done_s: float) -> None:
            if length_s > 0:
                report(1 + min(done_s / length_s, 1.0), 2)

        transcript, work.audio_s = transcribe_windows(model, itertools.chain([first], windows),
                                                      language, work.device, on_window,
                                                      batch=work.settings.whisper_batch)
        return transcript


def _in_pieces(work, model, first, length_s: float, language: str) -> Transcript:
    """A long file on Ray: its windows of audio (VIDRAG_AUDIO_WINDOW_S), the very samples and
    cuts in-process ingest has, transcribed at once on the workers, a window a piece. Unless the
    language is set, the first window is heard first and its language holds for the rest, as
    in-process. Whisper gets the same spectrograms; only the batches it decodes them in differ
    (and, with VIDRAG_WHISPER_BATCH=1, the previous window's last words as its prompt)."""
    piece_s = work.settings.audio_window_s
    starts = [i * piece_s for i in range(math.ceil(length_s / piece_s))]
    parts = []
    if not language:  # the first window is decoded already: heard here
        parts.append(transcribe_windows(model, [first], "", work.device, batch=work.settings.whisper_batch))
        language, starts = parts[0][0].language, starts[1:]
    parts += work.map(transcribe_piece, [(work.info, start, piece_s, language) for start in starts])
    work.audio_s = sum(seconds for _, seconds in parts)
    segments = tuple(s for transcript, _ in parts for s in transcript.segments)
    return Transcript(segments, language, "whisper")


def transcribe_piece(settings, device: str, piece) -> tuple[Transcript, float]:
    """(media info, start, length, language): that stretch of the audio transcribed, at its times
    in the file, and the seconds decoded (a piece of the stage, wherever it runs)."""
    info, start_s, length_s, language = piece
    model = load_whisper(settings.whisper_model, device)
    audio = audio_window(info, start_s, length_s)
    transcript, seconds = transcribe_windows(model, [audio], language, device, batch=settings.whisper_batch)
    segments = tuple(dataclasses.replace(s, start_s=s.start_s + start_s, end_s=s.end_s + start_s,
                                         words=tuple(dataclasses.replace(w, start_s=w.start_s + start_s,
                                                                         end_s=w.end_s + start_s) for w in s.words))
                     for s in transcript.segments)
    return Transcript(segments, transcript.language, transcript.source), seconds
