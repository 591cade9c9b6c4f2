"""Streaming an answer from an OpenAI-compatible chat-completions endpoint (vLLM by default)."""

from __future__ import annotations

from collections.abc import Iterator

from rag.citations import map_citations
from rag.errors import AnswerError, first_line
from rag.prompt import Prompt
from rag.settings import Settings
from rag.types import Citation, Moment


class Answer:
    """An answer being streamed. Iterate it for text as it arrives; afterwards `text` and
    `citations` hold the whole. The moments are known before the first token, and stay when
    the VLM fails: iteration then raises AnswerError, naming the endpoint."""

    def __init__(self, question: str, moments: list[Moment], prompt: Prompt | None, settings: Settings):
        self.question = question
        self.moments = moments
        self.prompt = prompt
        self.settings = settings
        self.text = ""
        self.error: AnswerError | None = None
        self.finished = False

    @property
    def prompt_tokens(self) -> int:
        return self.prompt.tokens if self.prompt else 0

    @property
    def citations(self) -> list[Citation]:
        return map_citations(self.text, self.moments)

    def __iter__(self) -> Iterator[str]:
        if self.prompt is None or self.finished:
            return
        try:
            for piece in self._stream():
                self.text += piece
                yield piece
        except AnswerError as e:
            self.error = e
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
