"""The Video page's speakers: who the speakers stage told apart, how much each said, and a name
for each (stored per video: transcripts, prompts and search use it from then on)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from rag.clock import format_clock
from rag.errors import VidragError
from rag.speakers import display_name, labels, rename
from rag.types import Segment, Video
from vidrag.web.literal import as_label, as_text


def speakers_section(store, video: Video, segments: Sequence[Segment]) -> None:
    st.subheader("Speakers")
    if not video.speakers:
        st.caption("No speakers: no speech was told apart in this video.")
        return
    spoken = {label: 0.0 for label in labels(video)}
    for segment in segments:
        if segment.speaker in spoken:
            spoken[segment.speaker] += segment.end_s - segment.start_s
    for label in labels(video):
        shown = display_name(video, label)
        with st.form(key=f"speaker-{video.id}-{label}", border=False):
            name, save = st.columns([4, 1], vertical_alignment="bottom")
            new = name.text_input(as_label(f"{label} · {format_clock(spoken[label])} of speech"),
                                  value="" if shown == label else shown, placeholder=label,
                                  key=f"speaker-name-{video.id}-{label}", max_chars=40)
            if save.form_submit_button("Rename"):
                try:
                    rename(store, video, label, new)
                except VidragError as error:
                    st.error(as_text(str(error)))
                else:
                    st.rerun()
