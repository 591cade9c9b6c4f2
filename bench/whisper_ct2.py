"""faster-whisper (CTranslate2) on the same audio windows as `bench whisper`, for the side-by-side
rows of BENCHMARKS.md. vidrag does not depend on faster-whisper: `bench whisper --ct2 DIR
--ct2-python PY` runs this file with an interpreter that has it, so it imports only numpy and
faster_whisper. Prints one JSON object: setting -> wall seconds and the text heard."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

SETTINGS = {
    "faster-whisper int8, greedy, no word times": dict(beam_size=1, word_timestamps=False),
    "faster-whisper int8, greedy, word times": dict(beam_size=1, word_timestamps=True),
    "faster-whisper int8, beam 5, no word times": dict(beam_size=5, word_timestamps=False),
}


def main(model_dir: str, windows_path: str, threads: int) -> None:
    from faster_whisper import WhisperModel

    stored = np.load(windows_path)
    windows = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
    model.transcribe(windows[0][:16000], language="en", beam_size=1)  # load and warm, untimed
    results = {}
    for name, options in SETTINGS.items():
        start = time.perf_counter()
        texts = []
        for window in windows:
            segments, _ = model.transcribe(window, language="en", **options)
            texts += [segment.text for segment in segments]  # decoding happens here
        results[name] = {"wall_s": time.perf_counter() - start, "text": " ".join(texts)}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
