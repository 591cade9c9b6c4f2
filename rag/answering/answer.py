"""Streaming an answer from an OpenAI-compatible chat-completions endpoint (vLLM by default)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from rag.answering.citations import map_citations
from rag.answering.prompt import Prompt
from rag.errors import AnswerError, first_line
from rag.settings import Settings
from rag.types import Citation, Moment


class Answer:
    """An answer being streamed. Iterate it for text as it arrives; afterwards `text` and
    `citations` hold the whole. The moments are known before the first token, and stay when
    the VLM fails: iteration then raises AnswerError, naming the endpoint. An answer that takes
    longer than VIDRAG_VLM_DEADLINE_S in all ends there the same way, with what streamed kept;
    `cut` says the text stops short."""

    def __init__(self, question: str, moments: list[Moment], prompt: Prompt | None, settings: Settings):
        self.question = question
        self.moments = moments
        self.prompt = prompt
        self.settings = settings
        self.text = ""
        self.error: AnswerError | None = None
        self.finished = False
        self.cut = False  # text arrived, then the answer ended early (deadline, or the stream broke)

    @property
    def prompt_tokens(self) -> int:
        return self.prompt.tokens if self.prompt else 0

    @property
    def citations(self) -> list[Citation]:
        return map_citations(self.text, self.moments)

    def __iter__(self) -> Iterator[str]:
        if self.prompt is None or self.finished:
            return
        import openai  # noqa: F401  (imported here, a second or more, so the deadline doesn't pay for it)

        try:
            for piece in _within(self._stream(), self.settings.vlm_deadline_s, self.settings.vlm_base_url):
                self.text += piece
                yield piece
        except AnswerError as e:
            self.error = e
            self.cut = bool(self.text)
            raise
        finally:
            self.finished = True

    def _stream(self) -> Iterator[str]:
        import openai

        s = self.settings
        where = s.vlm_base_url
        client = vlm_client(s, s.vlm_timeout_s)
        started = finished = False
        try:
            stream = client.chat.completions.create(
                model=s.vlm_model, messages=self.prompt.messages, max_tokens=s.vlm_max_tokens, stream=True,
                temperature=0.2,
            )
            started = True  # the server answered 200; whatever fails from here broke the stream
            for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
                if choice.finish_reason:
                    finished = True
        except openai.APIError as e:
            if not started:
                raise _request_error(e, where, s.vlm_timeout_s) from e
            raise AnswerError(f"the VLM at {where} broke off its answer: {_cause(e)}") from e
        except Exception as e:
            if not started:
                raise
            # Once the stream has begun, whatever fails while reading it (the SDK's HTTP layer may
            # raise its own errors here) means the answer broke off; the moments still stand.
            raise AnswerError(f"the VLM at {where} broke off its answer: {first_line(e)}") from e
        finally:
            client.close()
        if not finished:
            raise AnswerError(f"the VLM at {where} broke off its answer: the stream ended before it was complete")


_DONE = object()


def _within(pieces: Iterator[str], deadline_s: float, where: str) -> Iterator[str]:
    """`pieces` until they end or `deadline_s` has passed in all. VIDRAG_VLM_TIMEOUT_S bounds
    each wait, so a server sending a token every few seconds would never time out; this bounds
    the whole answer. The stream is read in a thread so that a read blocked at the deadline
    can't hold the answer up: the thread stops at its next piece (its client closes then)."""
    arrived: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            for piece in pieces:
                if stop.is_set():
                    break
                arrived.put(piece)
        except BaseException as e:  # handed to the reader below, raised there
            arrived.put(e)
        finally:
            pieces.close()
            arrived.put(_DONE)

    threading.Thread(target=read, name="vidrag-answer", daemon=True).start()
    ends = time.monotonic() + deadline_s
    try:
        while True:
            try:
                item = arrived.get(timeout=max(0.0, ends - time.monotonic()))
            except queue.Empty:
                raise AnswerError(f"the VLM at {where} did not finish its answer within {deadline_s:g} s "
                                  "(VIDRAG_VLM_DEADLINE_S): the answer is cut there") from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def vlm_client(settings: Settings, timeout_s: float):
    """An OpenAI client for the configured endpoint. No retries: a failure is reported at once,
    and the moments are shown instead."""
    import openai

    return openai.OpenAI(base_url=settings.vlm_base_url, api_key=settings.vlm_api_key or "EMPTY",
                         timeout=timeout_s, max_retries=0)


def _request_error(e: Exception, where: str, timeout_s: float) -> AnswerError:
    import openai

    if isinstance(e, openai.APITimeoutError):
        return AnswerError(f"the VLM at {where} did not answer within {timeout_s:g} s")
    if isinstance(e, openai.APIStatusError):
        return AnswerError(f"the VLM at {where} answered HTTP {e.status_code}: {_status_message(e)}")
    if isinstance(e, openai.APIConnectionError):
        return AnswerError(f"cannot reach the VLM at {where}: {_cause(e)}")
    return AnswerError(f"the VLM at {where} failed: {first_line(e)}")


def _cause(error: Exception) -> str:
    cause = error.__cause__ or error
    return first_line(cause)


def _status_message(error) -> str:
    """The server's own message, from an OpenAI-style error body when there is one."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body["error"] if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return first_line(Exception(str(inner["message"])))
    return first_line(error)
