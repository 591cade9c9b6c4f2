"""The transcript stage: what was said, with times. Subtitles beside the file first (the user's
original), then subtitles inside it, then Whisper on the audio (both read from the library's copy)."""

from __future__ import annotations

import contextlib
import itertools

from ingest.audio import audio_windows
from ingest.subtitles import find_sidecar, read_embedded, read_sidecar
from ingest.transcribe import transcribe_windows
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
    with contextlib.closing(audio_windows(info)) as windows:
        try:
            first = next(windows)  # decoding starts, and fails here, before Whisper loads
        except IngestError as e:
            if info.video is None:
                raise IngestError(f"{path.name}: {e}") from e
            work.warnings.append(f"{e}: indexed the frames only")
            return NO_TRANSCRIPT
        report(1, 2)  # the audio decodes; Whisper's turn
        model = load_whisper(work.settings.whisper_model, work.device, work.notify)
        length_s = info.duration_s or 0.0

        def on_window(done_s: float) -> None:
            if length_s > 0:
                report(1 + min(done_s / length_s, 1.0), 2)

        transcript, work.audio_s = transcribe_windows(model, itertools.chain([first], windows),
                                                      work.settings.whisper_language, work.device, on_window,
                                                      batch=work.settings.whisper_batch)
        return transcript
