"""vidrag's faster live-row checks for Milvus Lite 3.x (rag/lite_speedup) give the same answers
as Milvus Lite's own code: a real Milvus Lite database, written with upserts, deletes (flushed
and not), re-inserts after deletes and partitions, asked the same searches and queries with the
replacement installed and without it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rag.store import lite_speedup
from rag.store.lite_speedup.live_rows import Source, live_masks, valid_mask

pytestmark = pytest.mark.skipif(not lite_speedup.supported(),
                                reason=f"rag.store.lite_speedup is written for milvus-lite {lite_speedup.WRITTEN_FOR}")

WORDS = "bunny apple river stone cloud forest engine violin harbour glacier".split()
DIM = 4


def _collection(client, name: str) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=32, is_primary=True)
    schema.add_field("tag", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=256, enable_analyzer=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    # Exact search: with AUTOINDEX, Lite builds HNSW in the background after a flush, and an index
    # finishing between the two askings would change the answer for a reason that isn't ours.
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    client.create_partition(name, "other")


def _row(rng: random.Random, key: int) -> dict:
    return {"id": f"k{key}", "tag": rng.randrange(3), "text": " ".join(rng.choices(WORDS, k=4)),
            "dense": [rng.uniform(-1, 1) for _ in range(DIM)]}


def _answers(client, name: str, rng: random.Random) -> list:
    """The same questions, asked with and without the replacement."""
    vector = [[rng.uniform(-1, 1) for _ in range(DIM)]]
    word = rng.choice(WORDS)
    asked = {
        "dense": lambda: client.search(name, vector, anns_field="dense", limit=50, output_fields=["tag", "text"],
                                       search_params={"metric_type": "IP"}),
        "dense filtered": lambda: client.search(name, vector, anns_field="dense", limit=50, filter="tag == 1",
                                                search_params={"metric_type": "IP"}),
        "dense one partition": lambda: client.search(name, vector, anns_field="dense", limit=50,
                                                     partition_names=["other"], search_params={"metric_type": "IP"}),
        "bm25": lambda: client.search(name, [word], anns_field="sparse", limit=50, output_fields=["text"],
                                      search_params={"metric_type": "BM25"}),
        "bm25 filtered": lambda: client.search(name, [word], anns_field="sparse", limit=50, filter="tag != 2",
                                               search_params={"metric_type": "BM25"}),
        "bm25 one partition": lambda: client.search(name, [word], anns_field="sparse", limit=50,
                                                    partition_names=["other"], search_params={"metric_type": "BM25"}),
        "query": lambda: client.query(name, filter="tag >= 0", output_fields=["tag", "text"]),
        "query filtered": lambda: client.query(name, filter="tag == 2", output_fields=["text"]),
    }
    both = []
    for label, ask in asked.items():
        results = []
        for install in (False, True):
            lite_speedup.install() if install else lite_speedup.uninstall()
            answer = ask()
            rows = [dict(hit) for hits in answer for hit in hits] if label.startswith(("dense", "bm25")) else answer
            results.append([str(sorted(row.items())) for row in rows])  # in rank order, distances exact
        both.append((label, *results))
    return both


def test_same_rows_as_milvus_lite_after_upserts_deletes_and_reinserts(tmp_path):
    from pymilvus import MilvusClient

    client = MilvusClient(uri=str(tmp_path / "milvus.db"))
    name = "rows"
    _collection(client, name)
    rng = random.Random(7)
    try:
        client.insert(name, [_row(rng, key) for key in range(120)])
        client.insert(name, [_row(rng, key) for key in range(120, 160)], partition_name="other")
        steps = [
            lambda: client.flush(name),
            lambda: client.delete(name, ids=[f"k{key}" for key in rng.sample(range(160), 10)]),  # pending deletes
            lambda: client.flush(name),  # flushed tombstones, each key still held once
            # the memtable's version beats the segment's
            lambda: client.upsert(name, [_row(rng, key) for key in rng.sample(range(120), 30)]),
            lambda: client.delete(name, ids=[f"k{key}" for key in rng.sample(range(160), 25)]),
            lambda: client.flush(name),  # now two segments share keys
            lambda: client.insert(name, [_row(rng, key) for key in range(0, 160, 7)]),  # re-inserts after deletes
            lambda: client.upsert(name, [_row(rng, key) for key in range(130, 140)], partition_name="other"),
            lambda: client.delete(name, ids=[f"k{key}" for key in range(0, 40, 3)]),
            lambda: client.flush(name),
            lambda: client.delete(name, ids=[f"k{key}" for key in range(100, 150, 4)], partition_name="other"),
        ]
        compared = 0
        for step in steps:
            step()
            for label, published, faster in _answers(client, name, rng):
                assert faster == published, f"{label} differs after {compared // 8} steps"
                compared += 1
        assert compared == 8 * len(steps)
        lite_speedup.install()
        assert client.query(name, filter="tag >= 0", output_fields=["tag"]), "the comparison saw rows"
    finally:
        lite_speedup.install()  # as the rest of the process expects it
        client.close()


def test_live_masks_keeps_newest_version_and_honours_tombstones():
    old = Source.of_keys(["a", "b", "c"], [1, 2, 3], partition="_default")
    new = Source.of_keys(["b", "d"], [5, 6], partition="_default")
    masks = live_masks([old, new], deleted={"c": 4, "d": 1}, pending={"a": (9, "elsewhere")},
                       pending_partitions=frozenset({"_all"}))
    assert [m.tolist() for m in masks] == [[True, False, False], [True, True]]
    masks = live_masks([old, new], deleted={}, pending={"a": (9, "elsewhere")})
    assert masks[0].tolist() == [False, False, True], "without partitions a pending delete applies anywhere"


def test_a_key_twice_in_one_source_falls_back_to_the_library():
    twice = Source({"a": 1}, np.array([1, 2]))
    assert live_masks([twice]) is None
    keys = ["a", "b", "a", "c"]
    mask = valid_mask(keys, np.array([1, 2, 3, 4]), {"c": 9}, {"b": (1, "_default")})
    assert mask.tolist() == [False, True, True, False]


def test_an_open_library_is_frozen_and_closing_it_thaws(tmp_path):
    """Milvus Lite's rows are kept out of the garbage collector's walks while a store is open,
    and handed back when it closes."""
    import gc

    from rag.settings import load_settings
    from rag.store import Store

    gc.unfreeze()
    store = Store(load_settings(data_dir=tmp_path))
    try:
        assert gc.get_freeze_count() > 0
    finally:
        store.close()
    assert gc.get_freeze_count() == 0
