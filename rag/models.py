"""Model loading: Whisper, OpenCLIP and a sentence-transformers text model.

Each loader takes a hub name or a local path. Nothing is imported or loaded at import time;
each model is loaded on first use and then kept for the life of the process.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.errors import ModelLoadError, first_line

log = logging.getLogger(__name__)

Notify = Callable[[str], None]

_cache: dict[tuple, object] = {}
_cache_lock = threading.Lock()


def load_once(key: tuple, load: Callable[[], object]) -> object:
    """Load a model the first time its key is asked for; later calls get the same object."""
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load()
            _return_freed_memory()
        return _cache[key]


def _return_freed_memory() -> None:
    """Loading a checkpoint holds the weights twice for a moment (the file's tensors, then the
    model's). glibc keeps the freed copy in its heap, so the process would stay larger by about
    the model's size for its whole life; malloc_trim hands that memory back to the system."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


def model_label(name_or_path: str) -> str:
    """What we record about a model in the index: the last part of its name or path, so the
    hub name `org/all-MiniLM-L6-v2` and a local copy in `/models/all-MiniLM-L6-v2` agree."""
    return Path(name_or_path.rstrip("/\\").removeprefix("local-dir:")).name or name_or_path


def _is_local(name_or_path: str) -> bool:
    return os.path.exists(name_or_path.removeprefix("local-dir:"))


def _say_loading(what: str, name: str, notify: Notify | None) -> None:
    """Log every load; tell the user (notify) when it may mean a download, which can take minutes."""
    if _is_local(name):
        log.info(f"Loading {what} {name} from disk")
        return
    message = f"Loading {what} {name} (downloaded on first use, then cached)..."
    log.info(message)
    if notify:
        notify(message)


# --- Whisper -------------------------------------------------------------------------------


def load_whisper(name_or_path: str, device: str, notify: Notify | None = None):
    """A Whisper model by name (tiny, base, small, ...) or by checkpoint file path."""

    def load():
        import whisper

        if not os.path.isfile(name_or_path) and name_or_path not in whisper.available_models():
            raise ModelLoadError(
                f"Unknown Whisper model '{name_or_path}': not a file, nor one of "
                f"{', '.join(whisper.available_models())}"
            )
        _say_loading("Whisper model", name_or_path, notify)
        try:
            if os.path.isfile(name_or_path):
                return _load_whisper_file(name_or_path, device)
            model = whisper.load_model(name_or_path, device=device)
            model.word_timing = True  # whisper sets the alignment heads of its own models
            return model
        except Exception as e:  # download failures, corrupt checkpoints
            raise ModelLoadError(f"Could not load Whisper model '{name_or_path}': {first_line(e)}") from e

    return load_once(("whisper", name_or_path, device), load)


def _load_whisper_file(path: str, device: str):
    """whisper.load_model for a checkpoint file, with the alignment heads set (word timestamps
    read their cross-attention), which whisper.load_model only does for hub names. The heads come
    from the checkpoint's `alignment_heads_b85` (base85 of the gzipped mask, as whisper's own
    table writes them). A checkpoint without them keeps whisper's default, every head of the
    decoder's second half, which only fits a model trained with them; word timing is then off
    (`model.word_timing`): segment times come from Whisper's timestamp tokens, narrowed to the
    sound. (Random-weight test checkpoints are such files: word timing on their garbage output
    moves Whisper forward a few frames at a time, minutes per window.)"""
    import torch
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads_b85")
    del checkpoint
    if heads:
        model.set_alignment_heads(heads.encode() if isinstance(heads, str) else heads)
    model.word_timing = bool(heads)
    return model.to(device)


# --- Text embeddings -----------------------------------------------------------------------


E5_PROMPTS = {"query": "query: ", "document": "passage: "}


class TextEmbedder:
    """A sentence-transformers model that turns text into normalized vectors."""

    def __init__(self, name_or_path: str, device: str, notify: Notify | None = None):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # its "Loading weights" bar; download bars stay
        _say_loading("text model", name_or_path, notify)
        try:
            self._model = SentenceTransformer(name_or_path, device=device)
        except Exception as e:
            raise ModelLoadError(f"Could not load text model '{name_or_path}': {first_line(e)}") from e
        self.name = model_label(name_or_path)
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length or 256)
        if not self._model.prompts and "e5" in self.name.lower().replace("-", " ").split():
            # The e5 models (multilingual-e5-small, ...) are trained with these prefixes, and
            # not every copy of them says so in its config.
            self._model.prompts = dict(E5_PROMPTS)

    def count_tokens(self, text: str) -> int:
        # verbose=False: counting a long text is the point here, not a reason to warn.
        return len(self._model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors of what is indexed (transcripts, descriptions, screen text): with the model's
        "document" prompt where it has one."""
        return self._encode(self._model.encode_document, texts, batch_size)

    def embed_query(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors of questions: with the model's "query" prompt where it has one (MiniLM has
        none, and both are the same)."""
        return self._encode(self._model.encode_query, texts, batch_size)

    def _encode(self, encode, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def load_text_embedder(name_or_path: str, device: str, notify: Notify | None = None) -> TextEmbedder:
    return load_once(("text", name_or_path, device), lambda: TextEmbedder(name_or_path, device, notify))


# --- OpenCLIP ------------------------------------------------------------------------------


class ClipEmbedder:
    """An OpenCLIP model: images (and, for retrieval, text) into one normalized space."""

    def __init__(self, model_name: str, pretrained: str, device: str, notify: Notify | None = None):
        import open_clip

        _say_loading("CLIP model", f"{model_name} ({pretrained})" if pretrained else model_name, notify)
        # local-dir: and hf-hub: names carry their own weights; open_clip ignores `pretrained` then.
        pretrained_arg = None if model_name.startswith(("local-dir:", "hf-hub:")) else (pretrained or None)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained_arg, device=device
            )
            self._tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as e:
            raise ModelLoadError(f"Could not load CLIP model '{model_name}' / '{pretrained}': {first_line(e)}") from e
        model.eval()
        self._model = model
        self._preprocess = preprocess
        self._device = device
        label = model_label(model_name)
        self.name = f"{label}/{model_label(pretrained)}" if pretrained_arg else label
        self._trim_text = _trimmable(model)
        # CLIP's learned softmax temperature (about 100 when trained), for zero-shot tags.
        scale = getattr(model, "logit_scale", None)
        self.logit_scale = float(scale.detach().exp()) if scale is not None else 100.0
        self.dim = int(self._model.text_projection.shape[-1]) if _has_text_projection(model) else self._probe_dim()

    def _probe_dim(self) -> int:
        return int(self.embed_text(["a"]).shape[1])

    def embed_images(self, paths: Sequence[str], batch_size: int = 16) -> np.ndarray:
        import torch
        from PIL import Image

        out = []
        for i in range(0, len(paths), batch_size):
            batch = []
            for path in paths[i : i + batch_size]:
                with Image.open(path) as image:
                    batch.append(self._preprocess(image.convert("RGB")))
            with torch.inference_mode(), _half_precision_on_cuda(self._device):
                features = self._model.encode_image(torch.stack(batch).to(self._device))
                out.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.inference_mode(), _half_precision_on_cuda(self._device):
            tokens = self._tokenizer(list(texts)).to(self._device)
            if self._trim_text:
                features = _encode_trimmed_text(self._model, tokens)
            else:
                features = self._model.encode_text(tokens)
            return torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy()


def _half_precision_on_cuda(device: str):
    """fp16 matrix products on a GPU (about twice as fast, half the activations), fp32 on a CPU,
    where half precision is slow or unsupported. Autocast rather than model.half(): the weights
    stay fp32 and LayerNorm and the final normalisation run in fp32, as open_clip's own "amp"
    precision does."""
    import contextlib

    import torch

    if device == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _trimmable(model) -> bool:
    """Whether the text tower is the original CLIP one: a causal mask and the end-of-text token
    as the pooled output, so that the padding after that token can't change the result."""
    import open_clip

    return (
        type(model) is open_clip.CLIP
        and getattr(model, "text_pool_type", None) == "argmax"
        and getattr(model, "attn_mask", None) is not None
    )


def _encode_trimmed_text(model, tokens):
    """open_clip's CLIP.encode_text on the tokens up to the longest end-of-text token only.
    A question is a dozen tokens of the 77 the tokenizer pads to; on a CPU the text tower's time
    grows with the length: ViT-B-32 embeds a question in 25 ms instead of 60 on two CPU cores."""
    import torch
    from open_clip.transformer import text_global_pool

    length = int(tokens.argmax(dim=-1).max()) + 1  # end-of-text has the highest token id
    tokens = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, "argmax")
    if isinstance(model.text_projection, torch.nn.Linear):
        return model.text_projection(x)
    return x @ model.text_projection


def _has_text_projection(model) -> bool:
    projection = getattr(model, "text_projection", None)
    return projection is not None and hasattr(projection, "shape")


def load_clip_embedder(model_name: str, pretrained: str, device: str, notify: Notify | None = None) -> ClipEmbedder:
    return load_once(("clip", model_name, pretrained, device),
                     lambda: ClipEmbedder(model_name, pretrained, device, notify))

