"""All configuration, read once from the environment (prefix VIDRAG_) and a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.languages.names import normalise_code


class Settings(BaseSettings):
    """vidrag's settings. Every field maps to a `VIDRAG_<NAME>` environment variable."""

    model_config = SettingsConfigDict(env_prefix="VIDRAG_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Uploaded videos, frames and the embedded database.")
    milvus_uri: str = Field("", description="Empty: Milvus Lite in $DATA_DIR/milvus.db. A URL selects a server.")
    milvus_token: str = Field("", description="Token for a Milvus server (user:password, or an API key).")
    frame_fps: float = Field(0.2, gt=0, le=30, description="Frames sampled per second of video.")
    whisper_model: str = Field("base", description="A Whisper model name, or a path to a checkpoint file.")
    whisper_language: str = Field("", description="Spoken language code (en, de, ...). Empty or auto: detect it.")
    audio_window_s: float = Field(300.0, ge=10, le=3600, description=(
        "Seconds of audio decoded and given to Whisper at a time; over Ray, a long file's windows are "
        "transcribed at once, a window a piece."))
    whisper_batch: int = Field(8, ge=1, le=64, description=(
        "Windows of at most 25 s that Whisper decodes at once (1: one after another, each with the last's text)."))
    clip_model: str = Field("ViT-B-32", description="An open_clip model name, or local-dir:/path or hf-hub:org/repo.")
    clip_pretrained: str = Field("laion2b_s34b_b79k", description="An open_clip pretrained tag, or a checkpoint path.")
    text_model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="A sentence-transformers model name, or a local model directory.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where models run.")

    vlm_base_url: str = Field("http://localhost:8000/v1", description="OpenAI-compatible endpoint of the VLM.")
    vlm_model: str = Field("mistralai/Pixtral-12B-2409", description="Model name the endpoint serves.")
    vlm_api_key: str = Field("EMPTY", description="API key for the endpoint; vLLM accepts any.")
    vlm_max_images: int = Field(
        8, ge=0, le=32, description="Images per question, sequence frames included (vLLM's --limit-mm-per-prompt).")
    vlm_context_tokens: int = Field(16384, ge=1024, description="The server's max model length (--max-model-len).")
    vlm_max_tokens: int = Field(1024, ge=16, description="Longest answer, in tokens.")
    vlm_timeout_s: float = Field(120.0, gt=0, description="Seconds to wait for the VLM before giving up.")
    vlm_image_max_side: int = Field(640, ge=64, le=2048, description="Frames are downscaled to this longest side.")
    search_k: int = Field(5, ge=1, le=50, description="Moments retrieved per question.")
    query_batch: int = Field(32, ge=0, le=256, description=(
        "Questions of concurrent searches encoded in one batch, at most (0: each search on its own)."))

    # Faults (issue 13): room to spare on the data disk, and a total deadline for an answer.
    min_free_mb: int = Field(512, ge=0, description="Free space (MB) that must remain after storing a video's copy.")
    vlm_deadline_s: float = Field(300.0, gt=0, description="Seconds an answer may take in all; then it is cut.")
    # Whole videos (issue 10): summaries and chapters after ingest.
    summarize: Literal["auto", "on", "off"] = Field(
        "auto", description="Summary and chapters after ingest: auto (when the VLM answers), on (always try), off.")
    # --- Frame descriptions, zero-shot tags and image search (issue 9) ---
    describe: Literal["auto", "on", "off"] = Field(
        "auto", description="Describe frames with the VLM at ingest: auto (when the endpoint answers), on, off.")
    describe_concurrency: int = Field(4, ge=1, le=64, description="Description requests in flight at once.")
    describe_group: int = Field(3, ge=1, le=16, description="Consecutive frames described in one request.")
    describe_image_max_side: int = Field(
        640, ge=64, le=2048, description="Frames are downscaled to this longest side to be described.")
    describe_timeout_s: float = Field(60.0, gt=0, description="Seconds one description request may take.")
    tags_file: str = Field(
        "", description="Tag vocabulary, one label a line. Empty: the shipped COCO + Places365 list.")
    # --- Reading the screen (issue 21): OCR of the frames, on any CPU ---
    ocr: Literal["auto", "on", "off"] = Field(
        "auto", description="Read text on screen at ingest: auto (when the OCR engine is installed), on, off.")
    ocr_min_confidence: float = Field(
        0.6, ge=0.0, le=1.0, description="Lines the OCR reads with less confidence than this are dropped.")
    ocr_max_side: int = Field(
        960, ge=320, le=4096, description="Frames are downscaled to this longest side for text detection.")
    # --- Ingest over Ray (issue 23): the stages on Ray workers, the rows written here ---
    ray_address: str = Field("", description="Empty: ingest here. local: a Ray on this machine; auto, or "
                                             "ray://host:10001: a cluster (needs `pip install vidrag[ray]`).")
    ray_workers: int = Field(2, ge=1, le=256, description="Ray actors that index files at once, each "
                                                          "loading the models once.")
    ray_retry_s: float = Field(30.0, gt=0, le=3600, description="The server's queue waits this long after "
                                                               "the Ray cluster went away, then tries the job again.")
    # --- Who speaks (issue 22): speaker diarization after the transcript, on any CPU ---
    speakers: Literal["auto", "on", "off"] = Field(
        "auto", description="Tell speakers apart at ingest: auto (when the speaker model is installed), on, off.")
    speaker_model: str = Field(
        "resemblyzer", description="resemblyzer (the weights in its wheel), or a path to a checkpoint of its network.")
    # --- clip context (issue 11): a run of extra frames over the best moments, for motion ---
    vlm_clip_frames: int = Field(
        5, ge=0, le=32, description="Sequence frames (one per second over the best moments) per question; 0: off.")
    vlm_clip_frame_side: int = Field(320, ge=64, le=1280, description="Sequence frames are downscaled to this side.")
    vlm_clip_mode: Literal["frames", "video_url"] = Field(
        "frames", description="frames: labelled images (Pixtral); video_url: the moment as a video (Qwen2.5-VL).")

    # --- the server (issue 20): one process owns the library; the CLI and other programs go through it ---
    bind: str = Field("127.0.0.1", description="Address `vidrag serve` listens on; beyond loopback it needs "
                                               "VIDRAG_API_TOKEN.")
    published_bind: str = Field("", description="Set by docker compose: the host address the container's port "
                                                 "is published on, which the token check weighs instead of 0.0.0.0.")
    api_token: str = Field("", description="Bearer token for the API and /mcp, and the web UI's login. Empty: "
                                           "no token (loopback only).")
    server_url: str = Field("", description="A running vidrag server (http://host:port) every command goes "
                                            "through. Empty: the one recorded in the data folder, if alive.")
    workers: int = Field(1, ge=1, le=16, description="Ingest jobs run at once by the server.")
    max_upload_mb: int = Field(4096, ge=1, description="Largest upload the app and the API accept, in MB.")
    max_download_mb: int = Field(4096, ge=1, description="Largest video `add URL` downloads, in MB.")

    @field_validator("whisper_language")
    @classmethod
    def _normalise_language(cls, value: str) -> str:
        value = normalise_code(value)  # "German", "de-AT" -> "de"; ingest checks it with Whisper
        return "" if value == "auto" else value

    @field_validator("vlm_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlparse

        value = value.strip()
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in value):
            raise ValueError("must be an http(s) URL, such as http://localhost:8000/v1")
        return value.rstrip("/")

    @property
    def milvus_target(self) -> str:
        """What pymilvus connects to: the configured URI, or the embedded database file."""
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def is_milvus_lite(self) -> bool:
        return "://" not in self.milvus_target

    @field_validator("server_url")
    @classmethod
    def _server_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, such as http://127.0.0.1:8501")
        return value

    @property
    def videos_dir(self) -> Path:
        return self.data_dir / "videos"

    @property
    def frames_dir(self) -> Path:
        return self.data_dir / "frames"

    def resolved_device(self) -> str:
        """`auto` picks CUDA when torch sees a GPU; imported lazily so settings stay cheap."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


def load_settings(**overrides) -> Settings:
    """Settings from the environment and .env, with a one-line error naming the bad variable."""
    from pydantic import ValidationError

    from rag.errors import VidragError

    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = [
            f"VIDRAG_{str(err['loc'][0]).upper()}={err.get('input')!r}: {err['msg']}" for err in e.errors()
        ]
        raise VidragError("bad setting: " + "; ".join(problems)) from e
