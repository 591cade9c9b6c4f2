"""What the status area shows: where the index lives, and whether the VLM answers."""

from __future__ import annotations

from dataclasses import dataclass

from rag.settings import Settings

PROBE_TIMEOUT_S = 3.0  # a status check must not hold up the page


@dataclass(frozen=True)
class VlmStatus:
    ok: bool
    detail: str  # one line for the page: the models it serves, or why it doesn't answer


def vlm_status(settings: Settings) -> VlmStatus:
    """Ask the endpoint's /models, as an OpenAI client would. vLLM answers only once the model
    is loaded, so "not answering" also covers a server that is still starting."""
    import httpx

    url = settings.vlm_base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {settings.vlm_api_key}"} if settings.vlm_api_key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_S)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as e:  # refused, timed out, a malformed URL
        return VlmStatus(False, f"not answering at {settings.vlm_base_url} ({type(e).__name__})")
    if response.status_code != 200:
        return VlmStatus(False, f"{settings.vlm_base_url} answered HTTP {response.status_code}")
    try:
        served = [m["id"] for m in response.json().get("data", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return VlmStatus(False, f"{settings.vlm_base_url} does not speak the OpenAI API")
    if served and settings.vlm_model not in served:
        return VlmStatus(False, f"{settings.vlm_base_url} serves {', '.join(served)}, not {settings.vlm_model}")
    return VlmStatus(True, f"{settings.vlm_model} at {settings.vlm_base_url}")


def milvus_mode(settings: Settings) -> str:
    if settings.is_milvus_lite:
        return f"embedded Milvus Lite ({settings.milvus_target})"
    return f"Milvus server at {settings.milvus_target}"
