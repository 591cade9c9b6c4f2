"""Timestamps as people read them: seconds <-> "mm:ss" / "h:mm:ss"."""

from __future__ import annotations


def format_clock(seconds: float) -> str:
    """65.4 -> "01:05"; 3725 -> "1:02:05". Rounds down, as players show time."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def parse_clock(text: str) -> float:
    """"01:05" -> 65.0; "1:02:05" -> 3725.0. ValueError for anything else."""
    parts = text.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a clock time: {text!r}")
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(seconds)
