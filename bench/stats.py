"""Timing with repeats: these machines are shared and noisy, so every figure is a min and a median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def repeat(run: Callable[[], object], times: int) -> tuple[dict, object]:
    """Run `run` `times` times: ({"min_s", "median_s", "runs_s"}, the last result)."""
    runs, result = [], None
    for _ in range(times):
        start = time.perf_counter()
        result = run()
        runs.append(time.perf_counter() - start)
    return summary(runs), result


def summary(seconds: list[float]) -> dict:
    return {"min_s": round(min(seconds), 4), "median_s": round(statistics.median(seconds), 4),
            "runs_s": [round(s, 4) for s in seconds]}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), by linear interpolation."""
    ordered = sorted(values)
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)
