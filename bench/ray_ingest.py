"""Ingest through Ray against in-process, one run: four clips of espeak-ng talk added by `vidrag
add` (each into a fresh library, in a subprocess, as a user runs it: model loads and Ray's start
included), and Ray's own cost per task and per actor call on this machine.

The models are whatever the VIDRAG_ settings name (BENCHMARKS.md gives the ones used)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP_SECONDS = (50, 55, 60, 65)  # different lengths: four different files
LONG_SECONDS = 240  # one file, in windows of LONG_WINDOW_S: the pieces fan out over the workers
LONG_WINDOW_S = 60


def _clips(folder: Path, lengths=CLIP_SECONDS) -> list[Path]:
    from bench.speech import talk
    from ingest.ffmpeg import ffmpeg_exe

    clips = []
    for seconds in lengths:
        audio, _ = talk(seconds, folder)
        path = folder / f"clip_{seconds}s.mp4"
        subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size=320x180:rate=5:duration={seconds}", "-i", str(audio), "-map", "0:v",
                        "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                        str(path)], check=True)
        clips.append(path)
    return clips


def _add(clips: list[Path], data: Path, extra: list[str], env: dict | None = None) -> float:
    vidrag = Path(sys.executable).with_name("vidrag")
    env = {**os.environ, "VIDRAG_DATA_DIR": str(data), "VIDRAG_DESCRIBE": "off", "VIDRAG_SUMMARIZE": "off",
           "RAY_AUTH_MODE": "disabled", **(env or {})}
    started = time.perf_counter()
    subprocess.run([str(vidrag), "add", *extra, *map(str, clips)], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _overhead(workers: int) -> dict:
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        @ray.remote
        def nothing(x):
            return x

        @ray.remote
        class Echo:
            def call(self, x):
                return x

        ray.get(nothing.remote(0))
        started = time.perf_counter()
        ray.get([nothing.remote(i) for i in range(500)])
        per_task = (time.perf_counter() - started) / 500
        actor = Echo.remote()
        ray.get(actor.call.remote(0))
        started = time.perf_counter()
        for i in range(200):
            ray.get(actor.call.remote(i))  # one at a time, as a file's compute call is
        per_call = (time.perf_counter() - started) / 200
    finally:
        ray.shutdown()
    return {"per_task_ms": round(1000 * per_task, 2), "per_actor_call_ms": round(1000 * per_call, 2)}


def run(workers: int = 2) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="vidrag-bench-ray-"))
    try:
        clips = _clips(folder)
        here = _add(clips, folder / "here", [])
        through_ray = _add(clips, folder / "ray", ["--ray", "local"])
        audio_s = float(sum(CLIP_SECONDS))
        long_clip = _clips(folder, (LONG_SECONDS,))
        windows = {"VIDRAG_AUDIO_WINDOW_S": str(LONG_WINDOW_S)}
        long_here = _add(long_clip, folder / "long-here", [], windows)
        long_ray = _add(long_clip, folder / "long-ray", ["--ray", "local"], windows)
        return {"clips": len(clips), "audio_s": audio_s, "workers": workers,
                "in_process_s": round(here, 1), "ray_s": round(through_ray, 1),
                "ray_speedup": round(here / through_ray, 2),
                "long_file": {"audio_s": LONG_SECONDS, "window_s": LONG_WINDOW_S, "in_process_s": round(long_here, 1),
                              "ray_s": round(long_ray, 1), "ray_speedup": round(long_here / long_ray, 2)},
                "ray": _overhead(workers)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
