"""Clip context: sequence frames over the best moments, decoded from the stored video, cached,
labelled with their times, budgeted with Pixtral's tokenizer, and sent in time order."""

import base64
import io
import re

import pytest
from PIL import Image

from conftest import make_video
from openai_stub import StubVLM
from rag import Library
from rag.answering.clips import ClipFrames, clip_times, plan_clips
from rag.answering.prompt import Clip, PixtralCounter, build_prompt
from rag.types import Moment, Video

QUESTION = "What happens while the dough is kneaded?"


def test_clip_times_are_one_per_second_or_spread_evenly():
    assert clip_times(10.0, 14.8, 8) == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert clip_times(10.0, 20.0, 4) == [11.25, 13.75, 16.25, 18.75]  # spread over the whole moment
    assert clip_times(10.0, 14.8, 0) == [] and clip_times(5.0, 5.0, 3) == []


def test_the_best_moments_get_the_frames_first():
    video = Video("v", "a.mp4", "/x/a.mp4", 60.0)
    sound = Video("s", "talk.mp3", "/x/talk.mp3", 60.0, has_video=False)
    moments = [Moment("v", "a.mp4", 10.0, 14.8, "", None, 1.0, ("dense",)),
               Moment("s", "talk.mp3", 0.0, 5.0, "", None, 0.9, ("dense",)),
               Moment("v", "a.mp4", 30.0, 40.0, "", None, 0.8, ("dense",)),
               Moment("v", "a.mp4", 50.0, 55.0, "", None, 0.7, ("dense",))]
    plans = plan_clips(moments, {"v": video, "s": sound}, 6)
    assert plans[0] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert plans[1] == []  # no picture
    assert plans[2] == [] and plans[3] == []  # one frame left: no motion in one frame


@pytest.fixture
def video(tmp_path):
    path = make_video(tmp_path / "clip.mp4", 20, audio=False, size="640x360", rate=10, gop=50)
    return Video("abc123", "clip.mp4", str(path), 20.0)


def test_frames_are_decoded_at_their_times_small_and_cached(video, tmp_path):
    """Keyframes only every 5 s: frames between them are decoded exactly, at the first frame at
    or after each time; the second ask reads the cache, even with the video gone."""
    decoder = ClipFrames(tmp_path / "frames", 320)
    times = [7.35, 8.35, 9.35]
    frames = decoder.frames(video, times)
    assert [f.timestamp_s for f in frames] == pytest.approx([7.4, 8.4, 9.4])
    for frame in frames:
        with Image.open(frame.path) as image:
            assert image.size == (320, 180)
        assert frame.path.startswith(str(tmp_path / "frames" / "abc123" / "clips" / "320"))
    # Different frames of a moving test pattern: decoded, not one frame repeated.
    assert len({open(f.path, "rb").read() for f in frames}) == 3
    moved = Video(video.id, video.name, str(tmp_path / "gone.mp4"), video.duration_s)
    assert decoder.frames(moved, times) == frames


def test_an_undecodable_video_gives_no_clip(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert ClipFrames(tmp_path / "frames", 320).frames(Video("b", "broken.mp4", str(broken), 10.0), [1.0, 2.0]) == []


def test_video_mode_makes_a_small_mp4(video, tmp_path):
    url = ClipFrames(tmp_path / "frames", 320).video_data_url(video, 5.0, 8.0, 2.0)
    assert url.startswith("data:video/mp4;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[4:8] == b"ftyp"


def _moments(video, frame_paths):
    from rag.types import Frame

    return [Moment(video.id, video.name, start, start + 4.8, "Knead the dough until smooth.",
                   Frame(start + 2.0, frame_paths[i]), 1.0 / (i + 1), ("dense",))
            for i, start in enumerate([5.0, 10.0, 15.0])]


def test_clip_context_fits_the_budget_and_pixtral_accepts_it(video, tmp_path):
    """Pixtral's tokenizer encodes the request; sequence frames go before best frames or moments."""
    decoder = ClipFrames(tmp_path / "frames", 320)
    stills = decoder.frames(video, [7.0, 12.0, 17.0])
    moments = _moments(video, [f.path for f in stills])
    clips = [Clip(tuple(decoder.frames(video, clip_times(5.0, 9.8, 5))), max_side=320)]
    counter = PixtralCounter()
    roomy = build_prompt(QUESTION, moments, [], max_images=8, image_max_side=640, budget_tokens=15360,
                         counter=counter, clips=clips)
    assert roomy.clip_frames == 5 and roomy.images == 2 and len(roomy.moments) == 3
    assert roomy.tokens == counter.count(roomy.messages) <= 15360
    tight = build_prompt(QUESTION, moments, [], max_images=8, image_max_side=640, budget_tokens=roomy.tokens - 300,
                         counter=counter, clips=clips)
    assert tight.clip_frames < 5 and tight.images == 2 and len(tight.moments) == 3  # sequence frames went first
    assert tight.tokens == counter.count(tight.messages) <= roomy.tokens - 300


def test_the_vlm_receives_the_labelled_frames_in_time_order(library):
    """Through Library.answer and the loopback server: the best moment's clip frames, at the
    clip size, each after a text part naming its time, times increasing and inside the moment."""
    lib, _ = library
    settings = lib.settings.model_copy(update={"vlm_timeout_s": 2.0, "vlm_clip_frames": 5})
    with StubVLM() as stub:
        answer = Library(settings.model_copy(update={"vlm_base_url": stub.base_url}), store=lib.store).answer(
            "How long should I work the dough with my hands?")
        list(answer)
    (request,) = stub.requests
    parts = request["messages"][-1]["content"]
    labels = [(i, p["text"]) for i, p in enumerate(parts) if p["type"] == "text" and p["text"].startswith("Image ")]
    assert len(labels) >= 2 and answer.prompt.clip_frames == len(labels)
    times = []
    for index, label in labels:
        match = re.fullmatch(r"Image (\d+): moment 1 at \[(\d\d):(\d\d)\]", label)
        assert match, label
        times.append(int(match.group(2)) * 60 + int(match.group(3)))
        image = parts[index + 1]
        assert image["type"] == "image_url"
        data = base64.b64decode(image["image_url"]["url"].split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as picture:
            assert max(picture.size) <= settings.vlm_clip_frame_side
    best = answer.moments[0]
    assert times == sorted(times) and best.start_s - 1 <= times[0] and times[-1] <= best.end_s
    assert "Clip: images 1-" in parts[0]["text"]
    assert answer.prompt_tokens == PixtralCounter().count(request["messages"])


def test_clip_frames_zero_sends_none(library):
    lib, _ = library
    with StubVLM() as stub:
        settings = lib.settings.model_copy(update={"vlm_base_url": stub.base_url, "vlm_clip_frames": 0})
        list(Library(settings, store=lib.store).answer("How long should I work the dough?"))
    parts = stub.requests[0]["messages"][-1]["content"]
    assert not any(p["type"] == "text" and p["text"].startswith("Image ") for p in parts[1:])
    assert "Clip:" not in parts[0]["text"]


def _visual_parts(request: dict) -> int:
    return sum(1 for message in request["messages"] if isinstance(message["content"], list)
               for part in message["content"] if part["type"] in ("image_url", "video_url"))


@pytest.mark.parametrize("cap", [0, 1, 2, 3])
def test_a_request_never_carries_more_images_than_the_cap(library, cap):
    """VIDRAG_VLM_MAX_IMAGES holds at the request the loopback server records, with 5 clip
    frames asked for: vLLM started with --limit-mm-per-prompt image=N refuses more."""
    lib, _ = library
    with StubVLM() as stub:
        settings = lib.settings.model_copy(update={"vlm_base_url": stub.base_url, "vlm_timeout_s": 2.0,
                                                   "vlm_clip_frames": 5, "vlm_max_images": cap})
        answer = Library(settings, store=lib.store).answer("How long should I work the dough with my hands?")
        list(answer)
    (request,) = stub.requests
    assert _visual_parts(request) <= cap
    assert answer.prompt.clip_frames + answer.prompt.images == _visual_parts(request)
    if cap >= 2:
        assert answer.prompt.clip_frames >= 2  # the cap trims the clip; it doesn't drop it


def test_clips_sent_as_video_count_against_the_cap(library):
    lib, _ = library
    with StubVLM() as stub:
        settings = lib.settings.model_copy(update={"vlm_base_url": stub.base_url, "vlm_timeout_s": 2.0,
                                                   "vlm_clip_frames": 5, "vlm_clip_mode": "video_url",
                                                   "vlm_max_images": 1})
        list(Library(settings, store=lib.store).answer("How long should I work the dough with my hands?"))
    (request,) = stub.requests
    assert _visual_parts(request) <= 1
