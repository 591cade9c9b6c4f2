"""Zero-shot tags: each frame's CLIP vector (already computed at ingest) against a vocabulary of
labels, as CLIP's own zero-shot classifier.

A label's text vector is the mean of its vectors under a few prompt templates ("a photo of a
dog.", ...): prompt ensembling, which Radford et al. (2021) found worth several points of
zero-shot accuracy over the bare label. The vocabulary's vectors are computed once per model and
vocabulary and cached on disk; tagging a frame is then one matrix product.

Threshold: a frame's scores are turned into probabilities over the vocabulary by a softmax at
the model's own learned temperature (`logit_scale`, about 100 for trained CLIP models), exactly as
CLIP classifies. Raw cosines can't be thresholded across models (their range differs from one
checkpoint to the next); probabilities at the trained temperature can. A tag is kept when it takes
at least MIN_PROBABILITY of the mass, at most TAGS_PER_FRAME per frame: with ~400 labels chance is
0.25%, so 10% is 40 times chance, and at temperature 100 it sits about 0.03 of cosine above the
runner-up crowd. A frame where no label stands out (a blank title card) gets no tag rather than a
wrong one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import VidragError
from rag.settings import Settings

DEFAULT_VOCABULARY = Path(__file__).with_name("tag_vocabulary.txt")
TEMPLATES = (
    "a photo of a {}.",
    "a video frame showing a {}.",
    "a blurry photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
)
TAGS_PER_FRAME = 3
MIN_PROBABILITY = 0.10  # of the softmax mass over the vocabulary (see the module's docstring)
VIDEO_TAGS = 10  # tags kept per video, by the share of its frames that carry them
EMBED_BATCH = 256  # prompts per text-tower call while building the cache

_memory: dict[str, tuple[list[str], np.ndarray]] = {}
_lock = threading.Lock()


def vocabulary_path(settings: Settings) -> Path:
    return Path(settings.tags_file).expanduser() if settings.tags_file else DEFAULT_VOCABULARY


def read_vocabulary(path: Path) -> list[str]:
    """Labels, one a line, in file order; blank lines, `#` comments and repeats skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise VidragError(f"VIDRAG_TAGS_FILE {path}: cannot read it ({type(e).__name__})") from e
    labels = list(dict.fromkeys(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")))
    if not labels:
        raise VidragError(f"VIDRAG_TAGS_FILE {path}: no labels in it")
    return labels


def tag_vectors(settings: Settings, clip) -> tuple[list[str], np.ndarray]:
    """(labels, one normalized text vector per label) for this CLIP model and vocabulary:
    from memory, else from the disk cache, else computed and cached."""
    labels = read_vocabulary(vocabulary_path(settings))
    digest = hashlib.sha256(json.dumps([clip.name, TEMPLATES, labels]).encode()).hexdigest()[:16]
    cache = settings.data_dir / "cache" / f"tags-{digest}.npy"
    key = str(cache.resolve())
    with _lock:
        if key not in _memory:
            if cache.is_file():
                vectors = np.load(cache)
            else:
                vectors = _ensembled(clip, labels)
                cache.parent.mkdir(parents=True, exist_ok=True)
                partial = cache.with_suffix(".partial.npy")
                np.save(partial, vectors)
                partial.replace(cache)  # a killed run leaves no half-written cache behind
            _memory[key] = (labels, vectors)
        return _memory[key]


def _ensembled(clip, labels: Sequence[str]) -> np.ndarray:
    prompts = [template.format(label) for label in labels for template in TEMPLATES]
    vectors = np.concatenate([clip.embed_text(prompts[i : i + EMBED_BATCH])
                              for i in range(0, len(prompts), EMBED_BATCH)])
    means = vectors.reshape(len(labels), len(TEMPLATES), -1).mean(axis=1)
    return (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)


def frame_tags(image_vectors: np.ndarray, labels: Sequence[str], vectors: np.ndarray, logit_scale: float
               ) -> list[list[str]]:
    """Each frame's tags, most probable first (see the module's docstring for the threshold)."""
    if len(image_vectors) == 0:
        return []
    logits = logit_scale * (np.asarray(image_vectors, dtype=np.float32) @ vectors.T)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    top = np.argsort(-probabilities, axis=1)[:, :TAGS_PER_FRAME]
    return [[labels[j] for j in row if probabilities[i, j] >= MIN_PROBABILITY] for i, row in enumerate(top)]


def video_tags(per_frame: Sequence[Sequence[str]]) -> list[dict]:
    """The video's top tags: [{"tag", "share"}], share being the fraction of its frames tagged."""
    if not per_frame:
        return []
    counts = Counter(tag for tags in per_frame for tag in set(tags))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:VIDEO_TAGS]
    return [{"tag": tag, "share": round(count / len(per_frame), 3)} for tag, count in ranked]


def tag_video(settings: Settings, clip, image_vectors) -> tuple[list[list[str]], list[dict]]:
    """(each frame's tags, the video's top tags) from its frames' CLIP vectors."""
    labels, vectors = tag_vectors(settings, clip)
    per_frame = frame_tags(np.asarray(image_vectors), labels, vectors, clip.logit_scale)
    return per_frame, video_tags(per_frame)


NAME = "tags"


def run(work) -> None:
    """The stage: each frame's zero-shot tags, and the video's, from the frame vectors."""
    if work.frames:
        report = work.reporter(NAME)
        report(0, 1)
        work.frame_tags, work.tags = tag_video(work.settings, work.clip, work.image_vectors)
        report(1, 1)
