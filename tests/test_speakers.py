"""Who speaks (issue 22): the pieces, the clustering and the labels on their own; then the espeak-ng
meeting of evals/conversation.py, transcribed by the real tiny.en, through the CLI, the server's
API and MCP, the prompt and the app."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from conftest import REAL_WHISPER, cli_runner
from ingest.speakers.clustering import MIN_SPEAKER_S, cluster_voices
from ingest.speakers.pieces import PIECE_S, labelled, pieces_of
from rag.speaker_eval import score_speakers
from rag.speakers import SpeakerError, display_name, named, rename, resolve_speaker
from rag.types import Moment, Segment, Video, Word
from rag.videos.captions import format_transcript


def _words(start: float, texts: list[str], each_s: float = 0.5) -> tuple[Word, ...]:
    return tuple(Word(start + i * each_s, start + (i + 1) * each_s - 0.05, " " + t) for i, t in enumerate(texts))


def _segment(start: float, texts: list[str]) -> Segment:
    words = _words(start, texts)
    return Segment(words[0].start_s, words[-1].end_s, " ".join(texts), words=words)


# --- pure parts ----------------------------------------------------------------------------


def test_pieces_are_runs_of_whole_words_about_a_partial_long():
    segment = _segment(10.0, [f"w{i}" for i in range(13)])  # 6.5 s of words
    pieces = pieces_of([segment])
    assert [p.first_word for p in pieces] == sorted(p.first_word for p in pieces)
    assert pieces[0].first_word == 0 and pieces[-1].last_word == 13
    assert all(a.last_word == b.first_word for a, b in zip(pieces, pieces[1:], strict=False))
    assert all(PIECE_S <= p.seconds <= PIECE_S * 1.6 for p in pieces)
    assert pieces_of([Segment(0.0, 5.0, "from a subtitle file")]) == []  # no word times: nothing to hear


def test_a_segment_is_split_at_the_word_where_the_speaker_changes():
    first = _segment(0.0, [f"a{i}" for i in range(14)])  # 7 s: four pieces
    second = _segment(8.0, ["b0", "b1", "b2", "b3"])
    segments = [first, second]
    pieces = pieces_of(segments)
    change = [p.segment for p in pieces].index(0) + 2  # the third piece of the first segment on
    speakers = [7 if p.segment == 0 and i < change else 3 for i, p in enumerate(pieces)]
    out = labelled(segments, pieces, speakers)
    assert [s.speaker for s in out] == ["S1", "S2", "S2"]  # S1 speaks first, whatever its number
    split_word = pieces[change].first_word
    assert out[0].text == " ".join(f"a{i}" for i in range(split_word))
    assert out[1].start_s == first.words[split_word].start_s and out[1].text.startswith(f"a{split_word}")
    assert out[2].text == "b0 b1 b2 b3"


def test_one_odd_piece_inside_a_segment_takes_its_neighbours_speaker():
    segment = _segment(0.0, [f"w{i}" for i in range(20)])
    pieces = pieces_of([segment])
    speakers = [0] * len(pieces)
    speakers[2] = 1
    out = labelled([segment], pieces, speakers)
    assert [(s.speaker, s.text) for s in out] == [("S1", segment.text)]


def _voices(centres: list[int], per: int, seed: int = 0, spread: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(max(centres) + 1, 256))
    rows = [base[c] + spread * rng.normal(size=256) * np.linalg.norm(base[c]) / 16 for c in centres for _ in range(per)]
    rows = np.asarray(rows)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_number_of_speakers_is_estimated_and_one_voice_is_one_speaker():
    three = _voices([0, 1, 2], 12)
    labels = cluster_voices(three, [1.6] * len(three))
    assert len(set(labels)) == 3
    assert all(len(set(labels[i : i + 12])) == 1 for i in (0, 12, 24))
    one = _voices([0], 30)
    assert set(cluster_voices(one, [1.6] * 30)) == {0}


def test_a_group_with_too_little_speech_joins_its_nearest_speaker():
    vectors = np.vstack([_voices([0], 10, seed=1), _voices([5], 1, seed=2)])
    seconds = [1.6] * 10 + [MIN_SPEAKER_S / 2]
    labels = cluster_voices(vectors, seconds)
    assert len(set(labels)) == 1


def test_the_speaker_model_loads_from_the_wheel_or_a_checkpoint_path(tmp_path):
    import torch

    from ingest.speakers import load_voice_encoder
    from ingest.speakers.voices import embed_stretches
    from rag.errors import ModelLoadError

    packaged = load_voice_encoder("resemblyzer", "cpu")
    assert load_voice_encoder("resemblyzer", "cpu") is packaged  # once per process
    checkpoint = tmp_path / "voices.pt"
    torch.save({"model_state": packaged.state_dict()}, checkpoint)  # the same network, by path
    by_path = load_voice_encoder(str(checkpoint), "cpu")
    audio = [np.random.default_rng(0).standard_normal(24000, dtype=np.float32) * np.float32(0.1)]
    assert np.allclose(embed_stretches(by_path, audio), embed_stretches(packaged, audio), atol=1e-6)
    with pytest.raises(ModelLoadError, match="no such checkpoint file"):
        load_voice_encoder(str(tmp_path / "missing.pt"), "cpu")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError) as junk:
        load_voice_encoder(str(tmp_path / "junk.pt"), "cpu")
    assert str(junk.value).startswith("speaker model ") and "\n" not in str(junk.value)


def test_score_maps_labels_to_voices_by_the_most_time():
    turns = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    said = [Segment(0.0, 10.0, "x", "S2"), Segment(10.0, 15.0, "y", "S1"), Segment(15.0, 20.0, "z", "S2")]
    score = score_speakers("v", turns, said)
    assert score.mapping == {"A": "S2", "B": "S1"}
    assert score.share_right == pytest.approx(0.75, abs=0.01)
    assert score.count_error == 0


def test_all_four_transcript_formats_show_the_speaker_and_its_name():
    video = Video("v1", "panel.mp4", "", 20.0, speakers=2, speaker_names={"S2": "Maria <Chair>"})
    said = named([Segment(0.0, 2.0, "Hello all.", "S1"), Segment(2.5, 4.0, "Thanks.", "S2")], video)
    assert "<v S1>Hello all." in format_transcript(said, "webvtt")
    assert "<v Maria &lt;Chair&gt;>Thanks." in format_transcript(said, "webvtt")  # escaped like the text
    srt = format_transcript(said, "srt")
    assert "\nS1: Hello all.\n" in srt and "Maria <\u2060Chair>: Thanks." in srt
    assert [row["speaker"] for row in json.loads(format_transcript(said, "json"))] == ["S1", "Maria <Chair>"]
    assert format_transcript(said, "text").splitlines() == ["[00:00] S1: Hello all.", "[00:02] Maria <Chair>: Thanks."]
    assert "speaker" not in json.loads(format_transcript([Segment(0.0, 1.0, "no one")], "json"))[0]


class _Registry:
    def __init__(self):
        self.committed = []

    def commit_video(self, video):
        self.committed.append(video)


def test_renaming_checks_the_label_and_the_name():
    video = Video("v1", "panel.mp4", "", 20.0, speakers=3)
    registry = _Registry()
    renamed = rename(registry, video, "s2", "  Maria   Lopez ")
    assert renamed.speaker_names == {"S2": "Maria Lopez"} and registry.committed == [renamed]
    assert resolve_speaker(renamed, "maria lopez") == "S2" == resolve_speaker(renamed, "S2")
    assert display_name(renamed, "S3") == "S3" and resolve_speaker(renamed, "S4") is None
    with pytest.raises(SpeakerError, match="has no speaker S4 \\(its speakers: S1, S2, S3\\)"):
        rename(registry, renamed, "S4", "Bob")
    with pytest.raises(SpeakerError, match="already called Maria Lopez"):
        rename(registry, renamed, "S1", "maria lopez")
    with pytest.raises(SpeakerError, match="another speaker's label"):
        rename(registry, renamed, "S1", "S3")
    assert rename(registry, renamed, "S2", "").speaker_names == {}  # the name taken back


def test_the_prompt_names_the_speakers():
    from rag.answering.prompt import EstimateCounter, build_prompt

    moment = Moment("v1", "panel.mp4", 3.0, 9.0, "Maria: We should rent tents. S1: Too expensive.", None, 1.0,
                    ("dense",), speakers=("Maria", "S1"))
    prompt = build_prompt("Who suggested the tents?", [moment], [], max_images=0, image_max_side=320,
                          budget_tokens=4000, counter=EstimateCounter())
    text = json.dumps(prompt.messages)
    assert "Speakers: Maria, S1" in text and "say who said what by those names" in text


def test_memory_stays_flat_over_two_hours_of_windows():
    """Two hours of audio in 5-minute windows, a few seconds of talk each minute, through the real
    encoder: only the pieces' vectors are kept, never the audio (460 MB as float32)."""
    from ingest.speakers import load_voice_encoder
    from ingest.speakers.diarize import voice_vectors

    rate, window_s, windows_count = 16000, 300, 24

    def windows():
        rng = np.random.default_rng(0)
        for _ in range(windows_count):
            yield rng.standard_normal(window_s * rate, dtype=np.float32) * np.float32(0.05)

    # A segment runs across each window's end too (at 295-302 s, 595-602 s...).
    segments = [Segment(t + 0.5, t + 4.0, "words", words=_words(t + 0.5, ["a"] * 7)) for t in range(0, 7200, 60)]
    segments += [Segment(t - 5.0, t + 2.0, "across", words=_words(t - 5.0, ["b"] * 14)) for t in range(300, 7200, 300)]
    segments.sort(key=lambda s: s.start_s)
    pieces = pieces_of(segments)
    encoder = load_voice_encoder("resemblyzer", "cpu")
    voice_vectors([np.zeros(5 * rate, dtype=np.float32)], pieces[:1], encoder)  # librosa's first-use imports
    tracemalloc.start()
    try:
        vectors = voice_vectors(windows(), pieces, encoder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(vectors) == len(pieces) and np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)  # every piece was heard
    assert peak < 4 * window_s * rate * 4  # a window or three at a time (19 MB each), never the 460 MB


# --- the meeting suite, end to end ------------------------------------------------------------


@pytest.fixture(scope="module")
def meeting(tmp_path_factory, model_env, espeak):
    """The meeting and the monologue of evals/conversation.py, added with the real tiny.en."""
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from evals.conversation import build

    folder = tmp_path_factory.mktemp("meeting")
    meeting_file, monologue_file, suite = build(folder / "suite")
    env = {**model_env, "VIDRAG_WHISPER_MODEL": str(REAL_WHISPER), "VIDRAG_WHISPER_LANGUAGE": "en",
           "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off", "VIDRAG_SPEAKERS": "on"}
    run = cli_runner(folder, env)
    added = run("add", str(meeting_file), str(monologue_file), check=True)
    listed = {v["name"]: v for v in json.loads(run("list", "--json", check=True).stdout)}
    return folder, run, env, suite, listed, added.stdout


@pytest.mark.slow
def test_the_suite_finds_three_voices_and_one_monologue(meeting):
    """The issue's bar: three voices in the meeting, one in the monologue, 85% of speech time
    right, and `--speaker` search finds at least 5 of the 6 questions first."""
    _, run, _, suite, listed, added = meeting
    assert listed["meeting.mp4"]["speakers"] == 3 and listed["monologue.mp4"]["speakers"] == 1
    assert "3 speakers" in added and "1 speaker," in added
    report = json.loads(run("eval", str(suite), "--json", check=True).stdout)
    by_video = {s["video"]: s for s in report["speakers"]}
    assert by_video["meeting.mp4"]["count_error"] == 0 == by_video["monologue.mp4"]["count_error"]
    assert by_video["meeting.mp4"]["share_right"] >= 0.85 and by_video["monologue.mp4"]["share_right"] >= 0.85
    (row,) = [r for r in report["rows"] if r["signals"] == "fusion+speaker"]
    assert row["hits@1"] >= 0.83  # 5 of 6 (the JSON rounds to 4 places)


@pytest.mark.slow
def test_search_by_speaker_label_and_by_name_through_the_cli(meeting):
    folder, run, _, suite, listed, _ = meeting
    lines = [json.loads(line) for line in suite.read_text().splitlines()]
    turns = lines[0]["turns"]
    video_id = listed["meeting.mp4"]["id"]
    said = {s["speaker"] for s in json.loads(run("transcript", video_id, "--format", "json", check=True).stdout)}
    assert said == {"S1", "S2", "S3"}
    webvtt = run("transcript", video_id, "--format", "webvtt", check=True).stdout
    assert "<v S1>Welcome everyone" in webvtt
    assert "\nS1: Welcome everyone" in run("transcript", video_id, "--format", "srt", check=True).stdout
    # Who talks about tents: the third voice (C, first heard third: S3) and then the first (S1).
    found = json.loads(run("search", "What do we do about tents if it rains?", "--speaker", "S3", "--json",
                           check=True).stdout)
    assert found and all(m["speakers"] == ["S3"] for m in found)
    c_turn = next(t for t in turns if "tents" in lines[5]["question"] and t[0] == lines[5]["start_s"])
    assert c_turn[2] == "C" and abs(found[0]["start_s"] - c_turn[0]) < 2.0
    missing = run("search", "tents", "--speaker", "Maria")
    assert missing.returncode == 1 and missing.stderr.startswith("error: no video here has a speaker 'Maria'")
    assert "Traceback" not in missing.stderr


@pytest.mark.slow
def test_a_name_given_to_a_speaker_shows_in_transcript_search_and_the_api_and_mcp(meeting):
    from test_server import RunningServer

    folder, run, env, _, listed, _ = meeting
    video_id = listed["meeting.mp4"]["id"]
    server = RunningServer(folder, env).start()
    try:
        renamed = server.api("POST", f"/videos/{video_id}/speakers/S2", json={"name": "Maria"})
        assert renamed.status_code == 200 and renamed.json()["speaker_names"] == {"S2": "Maria"}
        bad = server.api("POST", f"/videos/{video_id}/speakers/S9", json={"name": "Bob"})
        assert bad.status_code == 422 and "has no speaker S9" in bad.json()["error"]
        webvtt = server.api("GET", f"/videos/{video_id}/transcript", params={"format": "webvtt"}).text
        assert "<v Maria>" in webvtt and "<v S2>" not in webvtt
        found = server.api("GET", "/search", params={"q": "Who will make the posters?", "speaker": "maria"}).json()
        assert found["moments"] and all(m["speakers"] == ["Maria"] for m in found["moments"])
        # The CLI goes through the server that holds the library.
        cli = json.loads(run("search", "Who will make the posters?", "--speaker", "Maria", "--json",
                             check=True).stdout)
        assert [m["start_s"] for m in cli] == [m["start_s"] for m in found["moments"]]
        assert _mcp_search(server.url, "Who will make the posters?", "Maria")
    finally:
        server.stop()


def _mcp_search(url: str, query: str, speaker: str) -> bool:
    import anyio
    from mcp import Client

    async def call():
        async with Client(f"{url}/mcp") as client:
            return await client.call_tool("search_moments", {"query": query, "speaker": speaker})

    moments = anyio.run(call).structured_content["moments"]
    return bool(moments) and all(m["speakers"] == [speaker] for m in moments)


@pytest.mark.slow
def test_the_video_page_shows_the_speakers_and_renames_one(meeting, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    folder, _, env, _, listed, _ = meeting
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VIDRAG_DATA_DIR", str(folder / "data"))
    monkeypatch.chdir(folder)
    video_id = listed["meeting.mp4"]["id"]
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.query_params["video"] = video_id
    app.switch_page("vidrag/web/pages/video.py").run()
    names = [t for t in app.text_input if (t.key or "").startswith(f"speaker-name-{video_id}-")]
    assert [t.key.rsplit("-", 1)[1] for t in names] == ["S1", "S2", "S3"]
    names[0].set_value("Chair")
    next(b for b in app.button if f"speaker-{video_id}-S1" in (b.key or "")).click().run()
    assert app.session_state.app.library.store.get_video(video_id).speaker_names["S1"] == "Chair"
    markdown = " ".join(m.value for m in app.markdown)
    assert "**Chair:** Welcome everyone" in markdown


@pytest.mark.slow
def test_music_one_word_and_overlapping_speech_each_get_speakers_or_none(tmp_path, espeak, settings):
    """The bad cases: none fails its ingest, and each ends with speakers, or a clear none."""
    if not REAL_WHISPER.is_file():
        pytest.skip(f"the real Whisper tiny.en is not at {REAL_WHISPER}")
    from bench.speech import say, write_media
    from evals.conversation import VOICES
    from ingest.pipeline import Ingestor

    rate = 16000
    t = np.arange(20 * rate) / rate
    music = sum(0.15 * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2 for f in (262, 330, 392))
    one_word = np.concatenate([np.zeros(rate), say("Hello."), np.zeros(rate)])
    a = say("The committee met on Tuesday to talk about the budget for next year.", 150, VOICES["A"].espeak,
            VOICES["A"].pitch)
    b = say("I think the library needs a new roof before the winter comes.", 180, VOICES["B"].espeak, VOICES["B"].pitch)
    both = np.zeros(rate + max(len(a), len(b) + rate), dtype=np.float32)
    both[rate : rate + len(a)] += a
    both[2 * rate : 2 * rate + len(b)] += b  # B starts a second into A and they talk over each other
    files = {name: write_media(audio.astype(np.float32), tmp_path / f"{name}.m4a")
             for name, audio in (("music", music), ("one_word", one_word), ("overlap", both))}
    ingestor = Ingestor(settings.model_copy(update={"whisper_model": str(REAL_WHISPER), "whisper_language": "en",
                                                    "speakers": "on"}))
    try:
        results = {name: ingestor.add(path) for name, path in files.items()}
        store = ingestor.store
        for name, result in results.items():
            assert result.status == "added" and not [w for w in result.warnings if "speakers" in w], name
            said = store.video_text(result.video.id).said
            labels = {s.speaker for s in said}
            if said:  # what was heard has a speaker, and the count says how many
                assert "" not in labels and len(labels) == result.video.speakers >= 1, name
            else:
                assert result.video.speakers == 0, name
        assert results["one_word"].video.speakers == 1
        assert 1 <= results["overlap"].video.speakers <= 2
    finally:
        ingestor.store.close()
