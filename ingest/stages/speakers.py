"""The speakers stage: who said each segment. Voice vectors over the transcript's own pieces of
speech (its word times), grouped into speakers whose number is estimated (ingest/speakers/).
Segments get "S1", "S2"... in order of first speech, and are split where the speaker changes.

Like read and describe, nothing here fails an ingest: a speaker model that is missing (with
VIDRAG_SPEAKERS=on) or that fails leaves one warning line and the transcript without speakers.
A file with no speech (music, silence) simply has no speakers.
"""

from __future__ import annotations

import contextlib

from ingest.audio import audio_windows
from ingest.speakers import diarize, load_voice_encoder, voice_model_installed
from rag.errors import first_line
from rag.types import Transcript

NAME = "speakers"


def skip_reason(work) -> str:
    """Why the stage should not run on this file ("" when it should)."""
    if work.settings.speakers == "off":
        return "VIDRAG_SPEAKERS=off"
    if not voice_model_installed():
        return "the speaker model is not installed (pip install --no-deps resemblyzer==0.1.4)"
    return ""


def run(work) -> None:
    transcript = work.transcript
    if not any(s.words for s in transcript.segments) or work.info.audio is None:
        # Nothing said, nothing to hear it in, or subtitles (no word times: ingest/speakers/pieces.py).
        return
    skipped = skip_reason(work)
    if skipped:
        if work.settings.speakers == "on":
            work.warnings.append(f"speakers not told apart: {skipped}")
        return
    report = work.reporter(NAME)
    length_s = work.info.duration_s or 0.0
    report(0, 1)
    try:
        encoder = load_voice_encoder(work.settings.speaker_model, work.device)
        with contextlib.closing(audio_windows(work.info)) as windows:
            found = diarize(windows, transcript.segments, encoder,
                            on_window=lambda done_s: report(min(done_s / length_s, 1.0), 1) if length_s else None)
    except Exception as e:  # a broken checkpoint, audio that stops decoding: the transcript stays as it is
        work.warnings.append(f"speakers not told apart: {first_line(e)}")
        return
    work.transcript = Transcript(found.segments, transcript.language, transcript.source)
    work.speakers = found.speakers
    report(1, 1)
