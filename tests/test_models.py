"""Model loading by local path through the same loaders users hit; nothing downloads."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_CLIP_CONFIG
from rag.errors import ModelLoadError
from rag.models import load_clip_embedder, load_text_embedder, load_whisper, model_label


def test_whisper_loads_a_checkpoint_by_path_once(whisper_checkpoint):
    model = load_whisper(str(whisper_checkpoint), "cpu")
    assert model.dims.n_audio_state == 32
    assert load_whisper(str(whisper_checkpoint), "cpu") is model


def test_whisper_unknown_name_lists_the_choices():
    with pytest.raises(ModelLoadError, match="Unknown Whisper model 'huge-9'.*base"):
        load_whisper("huge-9", "cpu")


def test_whisper_broken_checkpoint_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="Could not load Whisper model"):
        load_whisper(str(broken), "cpu")


def test_random_whisper_transcribes_audio(whisper_checkpoint):
    """The real transcribe path runs on the random model: segments are timed, a language is named."""
    from ingest.transcribe import transcribe

    audio = (0.1 * np.sin(np.linspace(0, 2000 * np.pi, 16000 * 3))).astype(np.float32)
    transcript = transcribe(load_whisper(str(whisper_checkpoint), "cpu"), audio, "en", "cpu")
    assert transcript.source == "whisper" and transcript.language == "en"
    assert all(0 <= s.start_s <= s.end_s for s in transcript.segments)


def test_clip_from_local_dir_embeds_images(clip_dir, tmp_path):
    clip = load_clip_embedder(f"local-dir:{clip_dir}", "", "cpu")
    assert clip.dim == 32
    paths = []
    for i, color in enumerate(["red", "green", "blue"]):
        paths.append(tmp_path / f"{i}.jpg")
        Image.new("RGB", (80, 60), color).save(paths[-1])
    vectors = clip.embed_images([str(p) for p in paths], batch_size=2)
    assert vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[2])
    assert clip.embed_text(["a red square"]).shape == (1, 32)


def test_clip_query_embedding_skips_the_padding_without_changing_the_result(clip_dir):
    """Questions are embedded on their own tokens only; the vectors equal open_clip's own
    encode_text on all 77 padded positions, for a batch of different lengths too."""
    import torch

    from rag.models import _trimmable

    clip = load_clip_embedder(f"local-dir:{clip_dir}", "", "cpu")
    assert _trimmable(clip._model)
    texts = ["a red square", "when does the goalkeeper repair the quarterly budget at the stadium?"]
    with torch.inference_mode():
        full = clip._model.encode_text(clip._tokenizer(texts))
    expected = torch.nn.functional.normalize(full.float(), dim=-1).numpy()
    assert np.allclose(clip.embed_text(texts), expected, atol=1e-5)


def test_clip_by_name_with_a_checkpoint_path(tmp_path):
    """VIDRAG_CLIP_MODEL as an architecture name and VIDRAG_CLIP_PRETRAINED as a weights file."""
    import open_clip
    import torch

    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "tiny-test-clip.json").write_text(json.dumps(TINY_CLIP_CONFIG["model_cfg"]))
    open_clip.add_model_config(tmp_path / "configs")
    weights = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model("tiny-test-clip").state_dict(), weights)
    clip = load_clip_embedder("tiny-test-clip", str(weights), "cpu")
    assert clip.dim == 32 and clip.name == "tiny-test-clip/tiny.pt"


def test_clip_unknown_tag_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="Could not load CLIP model 'ViT-B-32'"):
        load_clip_embedder("ViT-B-32", "no-such-tag-or-file", "cpu")


def test_text_model_from_local_dir(minilm_dir):
    """The real MiniLM weights: 384 dimensions, and a paraphrase lands nearer than an unrelated line."""
    model = load_text_embedder(str(minilm_dir), "cpu")
    assert model.dim == 384 and model.max_tokens == 256
    a, b, c = model.embed(["a dog runs across the park", "a puppy playing outside on the grass",
                           "quarterly revenue grew by four percent"])
    assert float(a @ b) > float(a @ c) + 0.2
    assert model.count_tokens("hello world") == 2


def test_text_model_missing_dir_offline_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="Could not load text model"):
        load_text_embedder(str(tmp_path / "nowhere" / "model"), "cpu")


@pytest.mark.parametrize("given,label", [
    ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
    ("/models/all-MiniLM-L6-v2/", "all-MiniLM-L6-v2"),
    ("local-dir:/models/clip-b32", "clip-b32"),
    ("base", "base"),
])
def test_model_label(given, label):
    assert model_label(given) == label


def test_clip_runs_in_half_precision_on_cuda_only():
    """On a GPU, CLIP's products run in fp16 under autocast; on a CPU nothing changes. (Whisper
    gets fp16=True from ingest.transcribe on CUDA.) Checked without a GPU: the context chosen."""
    import warnings

    import torch

    from rag.models import _half_precision_on_cuda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available" where there is none
        on_gpu = _half_precision_on_cuda("cuda")
    assert isinstance(on_gpu, torch.autocast) and on_gpu.fast_dtype == torch.float16
    assert not isinstance(_half_precision_on_cuda("cpu"), torch.autocast)
