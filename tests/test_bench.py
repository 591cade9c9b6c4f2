"""Each benchmark on tiny inputs, so the code can't rot. The figures themselves are in BENCHMARKS.md."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, make_video, write_srt


@pytest.fixture
def model_settings(model_env, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key, value in model_env.items():
        monkeypatch.setenv(key, value)


def test_frames_benchmark(tmp_path):
    from bench import frames

    video = make_video(tmp_path / "clip.mp4", 15, audio=False, gop=20)  # moviepy samples int(15 * 0.2) frames
    result = frames.run(str(video), repeats=1)
    assert result["frames_moviepy"] == result["frames_vidrag"] == 3
    assert result["speedup"] > 0 and result["max_offset_s"] <= 1.0
    assert result["moviepy"]["runs_s"] and result["vidrag"]["min_s"] <= result["vidrag"]["median_s"]


def test_ingest_benchmark(tmp_path, model_settings):
    from bench import ingest

    video = make_video(tmp_path / "talk.mp4", 12, gop=20)
    subtitles = write_srt(tmp_path / "talk.srt", [(0.0, 4.0, "hello there"), (5.0, 9.0, "and goodbye")])
    result = ingest.run(str(video), subtitles=str(subtitles), describe_stub=True)
    assert result["status"] == "added" and result["frames"] == 3 and result["described_frames"] == 3
    assert result["stage_s"]["describe"] > 0
    assert set(result["stage_s"]) == set(ingest.STAGES) and result["stage_s"]["frames"] > 0
    assert result["peak_rss_mb"] > 100 and result["video_s_per_wall_s"] > 0


def test_quick_ending_whisper_decodes_each_window_once(tmp_path):
    """The benchmark's stand-in for Whisper base runs the real transcribe path, with one
    decode per 30 s window (no fallback to higher temperatures) and nothing transcribed."""
    import numpy as np

    from bench.models import save_random_whisper
    from ingest.transcribe import transcribe
    from rag.models import load_whisper

    dims = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1)
    save_random_whisper(dims, tmp_path / "quick.pt", quick_ending=True)
    model = load_whisper(str(tmp_path / "quick.pt"), "cpu")
    temperatures = []
    decode = model.decode
    model.decode = lambda mel, options: temperatures.append(options.temperature) or decode(mel, options)
    audio = (0.1 * np.sin(np.linspace(0, 2000 * np.pi * 20, 16000 * 60))).astype(np.float32)
    transcript = transcribe(model, audio, "", "cpu")
    assert transcript.segments == () and transcript.language
    assert temperatures == [0.0, 0.0]


def test_retrieval_benchmark(model_settings):
    from bench import retrieval
    from rag.store import lite_speedup

    result = retrieval.run(hours=0.05, queries=3, uris=("lite", "lite-published"))
    assert result["frames"] == 36 and result["text_chunks"] == 6
    published = result["stores"][0]
    assert published["store"] == "lite-published" and published["frames"] == 36 and published["p50_ms"] > 0
    assert lite_speedup.installed(), "the benchmark leaves vidrag's Milvus Lite as it found it"
    assert 0 < result["min_ms"] <= result["p50_ms"] <= result["p95_ms"]
    steps = result["steps"]
    assert {"minilm embed", "clip embed_text", "search_frames", "search_text dense", "search_text sparse",
            "list_videos"} <= set(steps)
    assert all(steps[name]["median_ms"] > 0 for name in ("minilm embed", "search_frames", "search_text sparse"))
    assert steps["search_frames"]["calls_per_search"] == 1.0


def test_prompt_benchmark_cli():
    result = subprocess.run([sys.executable, "-m", "bench", "prompt", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert 0 < figures["default_tokens"] <= figures["budget_tokens"]
    assert figures["default_images"] == 3 and figures["tokens_per_default_image"] < 1100
    assert figures["default_clip_frames"] == 5  # the best moment's clip context, within the 6,000 target:
    assert figures["default_tokens"] <= 6000
    assert figures["machine"]["cores"] >= 1


def test_videos_benchmark(model_settings):
    """The whole-video benchmark runs end to end on a small library and reports sane figures."""
    from bench import videos

    result = videos.run(videos=30, queries=3)
    assert result["videos"] == 30 and result["video_vectors_per_add_ms"] > 0
    for name in ("rag_videos", "rag_similar", "library_page"):
        assert 0 < result[name]["p50_ms"] <= result[name]["p95_ms"]


def test_clips_benchmark(tmp_path):
    from bench import clips

    video = make_video(tmp_path / "clip.mp4", 20, audio=False, gop=20)
    result = clips.run(str(video), questions=2)
    assert result["frames_decoded_min"] == result["clip_frames_per_question"] == 5
    assert 0 < result["cold_p50_ms"] <= result["cold_p95_ms"] and result["cached_p50_ms"] < result["cold_p50_ms"]


def test_describe_benchmark(model_settings):
    from bench import describe

    result = describe.run(frames=4)
    assert result["stub"]["described"] == 4 and result["stub"]["requests"] == 2  # groups of 3
    assert result["requests_per_hour"] == 240
    assert result["prompt_tokens_per_request"] > result["prompt_tokens_one_frame"]
    assert result["tags"]["labels"] > 300


@pytest.mark.slow  # two servers, each loading the models
def test_server_load_benchmark(model_settings):
    """vidrag serve under concurrent API searches, batching off and on, on a tiny library: every
    search answered, each phase's figures and the server's memory reported."""
    from bench import server_load

    result = server_load.run(hours=0.05, clients=3, seconds=2, single_s=1, ingest_seconds=8, query_batches=(0, 4))
    assert result["frames"] == 36 and result["text_chunks"] == 6
    for variant in ("query_batch_0", "query_batch_4"):
        figures = result[variant]
        for phase in ("single_idle", "single_with_ingest", "loaded"):
            assert figures[phase]["errors"] == 0 and figures[phase]["searches"] > 0, (variant, phase, figures[phase])
            assert 0 < figures[phase]["p50_ms"] <= figures[phase]["p95_ms"] <= figures[phase]["max_ms"]
        assert figures["loaded"]["clients"] == 3 and figures["p95_ratio"] > 0
        memory = figures["server_rss_mb"]
        assert memory["start"] > 100 and memory["peak"] >= max(memory["start"], memory["end"])
        assert memory["cpu_cores"] > 0
