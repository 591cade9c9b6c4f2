"""The describe stage: what each sampled frame shows, in words, written by the VLM.

Frames go to the same OpenAI-compatible endpoint as answers (Pixtral on vLLM by default), a few
consecutive frames per request so the model sees what changes, several requests at once (vLLM
batches them). Each description, with any legible on-screen text copied verbatim, becomes a text
row beside the transcript (source "visual"), embedded with the text model, so dense and BM25
search find a slide's title or a sign with no search path of their own.

Nothing here fails an ingest: an endpoint that is down, answers an error, hangs past
VIDRAG_DESCRIBE_TIMEOUT_S, cuts its stream or answers garbage leaves those frames undescribed and
one warning line; `vidrag describe` fills them in later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from rag.clock import format_clock
from rag.errors import VidragError, first_line
from rag.languages import guess_language
from rag.settings import Settings
from rag.store import MAX_TEXT, Store
from rag.types import Chunk, Frame, Segment

SYSTEM_PROMPT = """You describe frames of a video for a search index. For each frame, in one to \
three sentences, say plainly what is visible: people, objects, the setting, any action. Then copy \
every legible piece of on-screen text exactly as written, in double quotes: slide titles, signs, \
captions, labels, code. Don't guess at what can't be seen, and don't repeat the instructions.
Answer with one paragraph per frame, each starting "Frame N:" with the frame's number."""
TOKENS_PER_FRAME = 200  # room for one description and its on-screen text
FAILURES_TO_GIVE_UP = 3  # requests failed in a row before the rest are not sent
_FRAME_HEADING = re.compile(r"^[^\w\n]*frame\s*(\d+)\b[^\w\n]*", re.IGNORECASE | re.MULTILINE)

Progress = Callable[[int, int], None]  # (frames done, frames to do)


@dataclass
class DescribeOutcome:
    described: int = 0  # frames described in this run
    requests: int = 0  # requests sent
    skipped: str = ""  # why nothing was asked (auto mode, endpoint not answering), or ""
    warning: str = ""  # one line when some frames could not be described, or ""
    vectors: list = field(default_factory=list)  # the text vectors of the descriptions written


def describe_mode_skip(settings: Settings) -> str:
    """Why the describe stage should not run at all ("" when it should): off, or auto with no
    endpoint answering. `on` always tries, and reports what fails."""
    if settings.describe == "off":
        return "VIDRAG_DESCRIBE=off"
    if settings.describe == "auto":
        from rag.answering.health import vlm_status

        status = vlm_status(settings)
        if not status.ok:
            return f"no VLM: {status.detail}"
    return ""


def describe_stage(settings: Settings, store: Store, text_model, video_id: str, frames: Sequence[Frame],
                   progress: Progress | None = None) -> DescribeOutcome:
    """The ingest stage: every frame described, unless the settings or the endpoint say no."""
    skipped = describe_mode_skip(settings) if frames else "no frames"
    if skipped:
        return DescribeOutcome(skipped=skipped)
    return describe_video(settings, store, text_model, video_id, frames, progress=progress)


def describe_video(settings: Settings, store: Store, text_model, video_id: str, frames: Sequence[Frame],
                   numbers: Sequence[int] | None = None, progress: Progress | None = None) -> DescribeOutcome:
    """Describe frames `numbers` (default: all) of one video and write a row for each as its
    request completes, so a killed run keeps what it finished and the next run does the rest."""
    numbers = list(range(len(frames)) if numbers is None else numbers)
    progress = progress or (lambda done, total: None)
    outcome = DescribeOutcome()
    if not numbers:
        return outcome
    group_size = max(1, min(settings.describe_group, settings.vlm_max_images or 1))
    groups = [numbers[i : i + group_size] for i in range(0, len(numbers), group_size)]
    request_settings = settings.model_copy(update={
        "vlm_timeout_s": settings.describe_timeout_s, "vlm_max_tokens": TOKENS_PER_FRAME * group_size})
    interval_s = 1.0 / settings.frame_fps
    failed, first_error, in_a_row = 0, "", 0
    done = 0
    progress(0, len(numbers))
    pending = iter(groups)
    with ThreadPoolExecutor(max_workers=settings.describe_concurrency, thread_name_prefix="vidrag-describe") as pool:
        running: dict[Future, list[int]] = {}

        def submit_next() -> None:
            group = next(pending, None)
            if group is not None:
                running[pool.submit(_describe_group, request_settings, frames, group)] = group
                outcome.requests += 1

        for _ in range(settings.describe_concurrency):
            submit_next()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                group = running.pop(future)
                try:
                    texts = future.result()
                    if not texts:
                        raise VidragError("the VLM's answer had no \"Frame N:\" descriptions")
                except Exception as e:  # any fault of the endpoint, or a bug: never the ingest's end
                    texts = {}
                    first_error = first_error or (str(e) if isinstance(e, VidragError) else first_line(e))
                    in_a_row += 1
                else:
                    in_a_row = 0
                rows = [(n, description_chunk(frames, n, texts[n], interval_s)) for n in group if n in texts]
                if rows:
                    vectors = text_model.embed([chunk.text for _, chunk in rows])
                    store.insert_frame_text(video_id, "visual", rows, vectors, languages=
                                            [guess_language(chunk.text) for _, chunk in rows])
                    outcome.vectors.extend(vectors)
                outcome.described += len(rows)
                failed += len(group) - len(rows)
                done += len(group)
                progress(done, len(numbers))
                if in_a_row < FAILURES_TO_GIVE_UP and "cannot reach" not in first_error:
                    submit_next()
    failed += sum(len(group) for group in pending)  # never sent: the endpoint was failing
    if failed:
        outcome.warning = (f"{failed} of {len(numbers)} frames not described ({first_error}); "
                           "`vidrag describe` retries them")
    return outcome


def _describe_group(settings: Settings, frames: Sequence[Frame], group: list[int]) -> dict[int, str]:
    """One request for consecutive frames: {frame number: description}. AnswerError on a fault."""
    from rag.answering.answer import Answer
    from rag.answering.prompt import Prompt

    messages = describe_messages([frames[n] for n in group], settings.describe_image_max_side)
    answer = Answer("", [], Prompt(messages, 0, [], len(group)), settings)
    reply = "".join(answer)  # AnswerError: refused, HTTP error, timeout, stream cut
    return {group[i]: text for i, text in parse_descriptions(reply, len(group)).items()}


def describe_messages(frames: Sequence[Frame], image_max_side: int) -> list[dict]:
    """The chat request for these frames: the instructions, their times, the images in order."""
    from rag.answering.prompt import jpeg_data_url

    times = ", ".join(f"Frame {i} at [{format_clock(f.timestamp_s)}]" for i, f in enumerate(frames, 1))
    content = [{"type": "text", "text": f"{len(frames)} consecutive frame(s) of one video: {times}."}]
    content += [{"type": "image_url", "image_url": {"url": jpeg_data_url(f.path, image_max_side)}} for f in frames]
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]


def parse_descriptions(reply: str, count: int) -> dict[int, str]:
    """{index from 0: text} for each "Frame N:" paragraph of the reply with N in 1..count; a
    reply without them (garbage, or the model ignoring the format) describes nothing."""
    parts = _FRAME_HEADING.split(reply)
    found = {}
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        index = int(number) - 1
        text = " ".join(body.split())
        if 0 <= index < count and text and index not in found:
            found[index] = text[:MAX_TEXT]
    return found


def description_chunk(frames: Sequence[Frame], number: int, text: str, interval_s: float) -> Chunk:
    """A description's time range: from its frame to the next one (one interval for the last)."""
    start = frames[number].timestamp_s
    end = frames[number + 1].timestamp_s if number + 1 < len(frames) else start + interval_s
    return Chunk(start, end, text, (Segment(start, end, text),))


NAME = "describe"


def run(work) -> None:
    """The stage: each frame described by the VLM, as text rows (invisible until the commit)."""
    outcome = describe_stage(work.settings, work.store, work.text_model, work.video_id, work.frames,
                             progress=work.reporter(NAME))
    work.described, work.not_described = outcome.described, outcome.skipped
    work.description_vectors = outcome.vectors
    if outcome.warning:
        work.warnings.append(outcome.warning)
