"""What the status area shows: where the index lives, and whether the VLM answers."""

from __future__ import annotations

from dataclasses import dataclass

from rag.answering.answer import vlm_client
from rag.settings import Settings

PROBE_TIMEOUT_S = 3.0  # a status check must not hold up the page


@dataclass(frozen=True)
class VlmStatus:
    ok: bool
    detail: str  # one line for the page: the models it serves, or why it doesn't answer


def vlm_status(settings: Settings) -> VlmStatus:
    """Ask the endpoint for its models, as any OpenAI client would. vLLM answers only once the
    model is loaded, so "not answering" also covers a server that is still starting."""
    import openai

    where = settings.vlm_base_url
    try:
        with vlm_client(settings, PROBE_TIMEOUT_S) as client:
            served = [model.id for model in client.models.list()]
    except openai.APIStatusError as e:
        return VlmStatus(False, f"{where} answered HTTP {e.status_code}")
    except openai.APIError as e:
        return VlmStatus(False, f"not answering at {where} ({type(e.__cause__ or e).__name__})")
    if served and settings.vlm_model not in served:
        return VlmStatus(False, f"{where} serves {', '.join(served)}, not {settings.vlm_model}")
    return VlmStatus(True, f"{settings.vlm_model} at {where}")


def milvus_mode(settings: Settings) -> str:
    if settings.is_milvus_lite:
        return f"embedded Milvus Lite ({settings.milvus_target})"
    return f"Milvus server at {settings.milvus_target}"
