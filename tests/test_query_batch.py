"""Concurrent searches share one batch per encoder (rag/retrieval/query_batch.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.retrieval.query_batch import QueryBatcher


class _SlowEncoder:
    """Each text's vector is its length and first letter's code; a batch takes a while, so that
    calls made meanwhile pile up behind it."""

    def __init__(self, fail_on: str = ""):
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.first = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts):
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.first.set()
            self.release.wait(10)
        if self.fail_on in texts:
            raise ValueError(f"cannot encode {self.fail_on}")
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def _in_threads(batcher, encoder, texts):
    with ThreadPoolExecutor(len(texts)) as pool:
        first = pool.submit(batcher.encode, texts[0], encoder)
        encoder.first.wait(10)  # the first batch is running: the rest queue up behind it
        rest = [pool.submit(batcher.encode, t, encoder) for t in texts[1:]]
        deadline = time.monotonic() + 10
        while len(batcher._waiting) < len(texts) - 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        encoder.release.set()
        return [first, *rest]


def test_calls_that_overlap_are_encoded_together_and_each_gets_its_own_vector():
    encoder, batcher = _SlowEncoder(), QueryBatcher(32)
    texts = ["alpha", "be", "cat", "delta", "epsilon", "fig"]
    futures = _in_threads(batcher, encoder, texts)
    vectors = [f.result(10) for f in futures]
    assert [v.tolist() for v in vectors] == [[len(t), ord(t[0])] for t in texts]
    assert encoder.batches[0] == ["alpha"]
    assert sorted(encoder.batches[1]) == sorted(texts[1:])  # the five that waited: one batch
    assert len(encoder.batches) == 2


def test_a_lone_call_runs_at_once():
    encoder, batcher = _SlowEncoder(), QueryBatcher(32)
    encoder.release.set()
    assert batcher.encode("solo", encoder).tolist() == [4, ord("s")]
    assert encoder.batches == [["solo"]]


def test_batches_stop_at_their_limit():
    encoder, batcher = _SlowEncoder(), QueryBatcher(max_batch=2)
    texts = ["a1", "b22", "c333", "d4444", "e55555"]
    vectors = [f.result(10) for f in _in_threads(batcher, encoder, texts)]
    assert [v[0] for v in vectors] == [len(t) for t in texts]
    assert all(len(b) <= 2 for b in encoder.batches)
    assert sorted(t for b in encoder.batches for t in b) == sorted(texts)  # each text once


def test_a_failing_batch_fails_every_call_in_it_and_the_next_batch_still_runs():
    encoder, batcher = _SlowEncoder(fail_on="bad"), QueryBatcher(32)
    futures = _in_threads(batcher, encoder, ["first", "bad", "good"])
    assert futures[0].result(10).tolist() == [5, ord("f")]
    for future in futures[1:]:
        with pytest.raises(ValueError, match="cannot encode bad"):
            future.result(10)
    assert batcher.encode("later", encoder).tolist() == [5, ord("l")]


def test_zero_turns_batching_off():
    encoder, batcher = _SlowEncoder(), QueryBatcher(0)
    encoder.release.set()
    with ThreadPoolExecutor(3) as pool:
        vectors = list(pool.map(lambda t: batcher.encode(t, encoder), ["x", "yy", "zzz"]))
    assert [v[0] for v in vectors] == [1, 2, 3]
    assert sorted(map(len, encoder.batches)) == [1, 1, 1] and not batcher._waiting
