"""JSON that must be one object (a suite's line, a model's reply), with a one-line reason when not."""

from __future__ import annotations

import json


def json_object(text: str) -> dict:
    """The object `text` holds; ValueError saying why not ("not JSON (...)", "not a JSON object")."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at character {e.pos})") from e
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
