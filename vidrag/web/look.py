"""Search by what is on screen, for the Chat page: an image pasted or attached to the chat input
(with or without words), and "More like this" on a source. Both answer with moments only."""

from __future__ import annotations

import uuid
from pathlib import Path

import streamlit as st

from rag.clock import format_clock
from rag.errors import VidragError
from rag.retrieval.image_search import similar
from rag.types import Moment
from vidrag.web.common import current

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp"]
NO_LOOKALIKES = "No moments look like this."


def image_search(words: str, image, scope: list[str]) -> dict:
    """The chat's answer to an attached image: the moments that look like it (and match the words,
    when there are any), as an assistant message."""
    library = current().library
    folder = current().settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"query-{uuid.uuid4().hex}{Path(image.name).suffix.lower()}"
    path.write_bytes(image.getvalue())
    try:
        with st.spinner("Finding moments that look like it..."):
            moments = library.searcher.search(words, video_ids=scope or None, image=path)
    except VidragError as error:  # not an image, empty, 0 px: one line, named as the user knows it
        return {"role": "assistant", "content": "", "moments": [], "citations": [],
                "error": str(error).replace(path.name, image.name)}
    finally:
        path.unlink(missing_ok=True)
    return {"role": "assistant", "content": "" if moments else NO_LOOKALIKES, "moments": moments, "citations": []}


def more_like_this(moment: Moment) -> None:
    """A source's "More like this": the moments across the library that look like its frame."""
    at = moment.frame.timestamp_s if moment.frame else moment.start_s
    asked = f"More like this: {moment.video_name} at {format_clock(at)}"
    st.session_state.messages.append({"role": "user", "content": asked})
    try:
        moments = similar(current().library.searcher, moment.video_id, at)
    except VidragError as error:
        st.session_state.messages.append({"role": "assistant", "content": "", "moments": [], "error": str(error)})
        return
    st.session_state.messages.append(
        {"role": "assistant", "content": "" if moments else NO_LOOKALIKES, "moments": moments, "citations": []})
