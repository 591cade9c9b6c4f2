"""Prompt size in Pixtral tokens: vidrag's default request (clip context included) against the
seed's (one full-resolution frame and five transcript chunks)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from bench.retrieval import sentence
from rag.answering.clips import clip_times
from rag.answering.prompt import Clip, PixtralCounter, build_prompt, render
from rag.settings import Settings
from rag.types import Frame, Moment

QUESTION = "What does the chef do with the dough after it has rested overnight?"
SEED_FRAME = (1280, 720)  # the seed sent the frame as decoded


def _frames(folder: Path, count: int, size: tuple[int, int]) -> list[Frame]:
    """Frames with detail everywhere (a gradient with noise), like real footage after JPEG."""
    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(count):
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"{i}.jpg"
        Image.fromarray(pixels).save(path, quality=85)
        frames.append(Frame(i * 5.0, str(path)))
    return frames


def run() -> dict:
    import random

    settings = Settings(_env_file=None)
    rng = random.Random(7)
    counter = PixtralCounter()
    with tempfile.TemporaryDirectory(prefix="bench-prompt-") as folder:
        frames = _frames(Path(folder), settings.search_k, SEED_FRAME)
        # A typical retrieval: k moments, each a sentence or two of transcript, with its frame.
        moments = [Moment("v", "cooking show.mp4", i * 30.0, i * 30.0 + 9.8,
                          " ".join(sentence(rng) for _ in range(2)), frames[i], 1.0 / (i + 1), ("dense",))
                   for i in range(settings.search_k)]
        # Clip context as the defaults plan it: the best moment's frames, one per second.
        times = clip_times(moments[0].start_s, moments[0].end_s, settings.vlm_clip_frames)
        sequence = _frames(Path(folder) / "clip", len(times), SEED_FRAME) if times else []
        clips = [Clip(tuple(sequence), max_side=settings.vlm_clip_frame_side)]
        ours = build_prompt(QUESTION, moments, [], max_images=settings.vlm_max_images,
                            image_max_side=settings.vlm_image_max_side,
                            budget_tokens=settings.vlm_context_tokens - settings.vlm_max_tokens, counter=counter,
                            clips=clips)
        without = build_prompt(QUESTION, moments, [], max_images=settings.vlm_max_images,
                               image_max_side=settings.vlm_image_max_side,
                               budget_tokens=settings.vlm_context_tokens - settings.vlm_max_tokens, counter=counter)
        # The seed: five 30 s chunks of text and one frame at full resolution.
        chunks = [Moment("v", "cooking show.mp4", i * 30.0, i * 30.0 + 30, " ".join(sentence(rng) for _ in range(6)),
                         frames[0] if i == 0 else None, 1.0, ("dense",)) for i in range(5)]
        seed_messages = render(QUESTION, chunks, [], image_count=1, image_max_side=max(SEED_FRAME))
        seed_tokens = counter.count(seed_messages)
        side = settings.vlm_image_max_side
        image_tokens = counter.count(render(QUESTION, moments[:1], [], 1, side)) - \
            counter.count(render(QUESTION, moments[:1], [], 0, side))
    return {
        "default_tokens": ours.tokens,
        "default_images": ours.images,
        "default_clip_frames": ours.clip_frames,
        "default_clip_frame_side_px": settings.vlm_clip_frame_side,
        "tokens_without_clip_context": without.tokens,
        "default_image_side_px": settings.vlm_image_max_side,
        "default_moments": len(ours.moments),
        "tokens_per_default_image": image_tokens,
        "seed_tokens": seed_tokens,
        "seed_image_px": f"{SEED_FRAME[0]}x{SEED_FRAME[1]}",
        "budget_tokens": settings.vlm_context_tokens - settings.vlm_max_tokens,
    }

