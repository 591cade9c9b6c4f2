"""Settings: defaults, VIDRAG_ variables, a .env file, and one-line errors."""

import pytest

from rag.errors import VidragError
from rag.settings import Settings, load_settings


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("VIDRAG_"):
            monkeypatch.delenv(key)


def test_defaults(clean_env):
    s = Settings()
    assert (s.frame_fps, s.whisper_model, s.whisper_language, s.device) == (0.2, "base", "", "auto")
    assert (s.clip_model, s.clip_pretrained) == ("ViT-B-32", "laion2b_s34b_b79k")
    assert s.text_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert s.milvus_target == "data/milvus.db" and s.is_milvus_lite


def test_environment_and_dotenv(clean_env, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("VIDRAG_WHISPER_LANGUAGE=DE\nVIDRAG_FRAME_FPS=0.5\n")
    monkeypatch.setenv("VIDRAG_MILVUS_URI", "http://milvus:19530")
    s = Settings()
    assert s.whisper_language == "de" and s.frame_fps == 0.5
    assert s.milvus_target == "http://milvus:19530" and not s.is_milvus_lite


def test_whisper_language_auto_is_detection_and_batch_is_bounded(clean_env, monkeypatch):
    monkeypatch.setenv("VIDRAG_WHISPER_LANGUAGE", " Auto ")
    monkeypatch.setenv("VIDRAG_WHISPER_BATCH", "4")
    s = Settings()
    assert s.whisper_language == "" and s.whisper_batch == 4
    monkeypatch.delenv("VIDRAG_WHISPER_BATCH")
    assert Settings().whisper_batch == 8  # the measured default (BENCHMARKS.md)
    monkeypatch.setenv("VIDRAG_WHISPER_BATCH", "0")
    with pytest.raises(VidragError, match=r"^bad setting: VIDRAG_WHISPER_BATCH='0'"):
        load_settings()


def test_bad_values_are_one_line(clean_env, monkeypatch):
    monkeypatch.setenv("VIDRAG_DEVICE", "tpu")
    with pytest.raises(VidragError, match=r"^bad setting: VIDRAG_DEVICE='tpu'"):
        load_settings()
    monkeypatch.delenv("VIDRAG_DEVICE")
    monkeypatch.setenv("VIDRAG_FRAME_FPS", "0")
    with pytest.raises(VidragError, match="VIDRAG_FRAME_FPS"):
        load_settings()


def test_vlm_url_must_be_http(clean_env, monkeypatch):
    monkeypatch.setenv("VIDRAG_VLM_BASE_URL", "localhost:8000")
    with pytest.raises(VidragError, match="VIDRAG_VLM_BASE_URL='localhost:8000': .*http"):
        load_settings()
    monkeypatch.setenv("VIDRAG_VLM_BASE_URL", " http://gpu-box:8000/v1/ ")
    assert load_settings().vlm_base_url == "http://gpu-box:8000/v1"
