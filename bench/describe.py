"""Frame descriptions and tags: requests and Pixtral tokens per hour of video at the default
settings, vidrag's own wall time per 100 frames against the loopback stub (the model's time is
not in it: the stub answers at once), and what zero-shot tags add to an ingest."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.prompt import _frames
from rag.settings import load_settings

FRAME_SIZE = (1280, 720)  # frames are stored at most 1280 px wide
HOUR_S = 3600.0


def run(frames: int = 100) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from ingest.stages.describe import TOKENS_PER_FRAME, describe_messages, describe_video
    from ingest.stages.tags import read_vocabulary, tag_video, vocabulary_path
    from openai_stub import StubVLM  # the loopback OpenAI server the tests use
    from rag.answering.prompt import PixtralCounter
    from rag.models import load_clip_embedder, load_text_embedder
    from rag.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-describe-") as folder, StubVLM() as stub:
        settings = load_settings(data_dir=Path(folder) / "data", vlm_base_url=stub.base_url)
        group = max(1, min(settings.describe_group, settings.vlm_max_images or 1))
        sampled = _frames(Path(folder), frames, FRAME_SIZE)
        counter = PixtralCounter()
        request_tokens = counter.count(describe_messages(sampled[:group], settings.describe_image_max_side))
        one_frame_tokens = counter.count(describe_messages(sampled[:1], settings.describe_image_max_side))

        store = Store(settings)
        device = settings.resolved_device()
        text_model = load_text_embedder(settings.text_model, device)
        store.ensure_collection("text", text_model.name, text_model.dim)
        text_model.embed(["warm up"])
        started = time.perf_counter()
        outcome = describe_video(settings, store, text_model, "bench", sampled)
        describe_s = time.perf_counter() - started

        clip = load_clip_embedder(settings.clip_model, settings.clip_pretrained, device)
        frames_per_hour = int(HOUR_S * settings.frame_fps)
        vectors = np.random.default_rng(0).standard_normal((frames_per_hour, clip.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        started = time.perf_counter()
        tag_video(settings, clip, vectors[:1])  # builds the vocabulary's vectors and caches them
        vocabulary_s = time.perf_counter() - started
        started = time.perf_counter()
        tag_video(settings, clip, vectors)
        tag_hour_s = time.perf_counter() - started
        store.close()

    requests_per_hour = -(-frames_per_hour // group)
    return {
        "defaults": {"frame_fps": settings.frame_fps, "group": group, "image_max_side":
                     settings.describe_image_max_side, "concurrency": settings.describe_concurrency},
        "frames_per_hour": frames_per_hour,
        "requests_per_hour": requests_per_hour,
        "prompt_tokens_per_request": request_tokens,
        "prompt_tokens_one_frame": one_frame_tokens,
        "prompt_tokens_per_hour": requests_per_hour * request_tokens,
        "answer_tokens_per_hour_at_most": frames_per_hour * TOKENS_PER_FRAME,
        "stub": {"frames": frames, "described": outcome.described, "requests": outcome.requests,
                 "wall_s": round(describe_s, 3), "wall_s_per_100_frames": round(describe_s * 100 / frames, 3)},
        "tags": {"labels": len(read_vocabulary(vocabulary_path(settings))), "clip": clip.name,
                 "vocabulary_vectors_s (once per model and vocabulary)": round(vocabulary_s, 3),
                 "tag_one_hour_of_frames_s": round(tag_hour_s, 4)},
    }
