"""Milvus Lite 3.x searches without walking every stored row (issue 14).

Milvus Lite 3.2 is pure Python. On every search and query it works out which rows are the live
version of their primary key with a Python loop over all rows of the collection; at 100
video-hours that loop is most of a search's time (BENCHMARKS.md, "Retrieval"). `install()` swaps
in the three places that loop lives, each giving the same rows from the keys that can be
shadowed only (live_rows.py), and BM25 scoring over arrays (bm25.py). Nothing on disk changes,
writes are untouched, and Milvus servers never run this code.

It is installed only for the milvus-lite version it was written against (the pinned one): on
any other version Milvus Lite runs as published. tests/test_lite_speedup.py checks the answers
equal the library's own on collections with upserts, deletes, re-inserts and partitions."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

WRITTEN_FOR = "3.2.2"
_originals: dict[tuple[object, str], object] = {}


def supported() -> bool:
    try:
        import milvus_lite
    except ImportError:
        return False
    return getattr(milvus_lite, "__version__", None) == WRITTEN_FOR


def install() -> bool:
    """Use the faster live-row checks in this process. Returns whether they are in use."""
    if _originals:
        return True
    if not supported():
        log.info("milvus-lite is not %s: searching with its own row walk", WRITTEN_FOR)
        return False
    from milvus_lite.engine import collection
    from milvus_lite.index.sparse_inverted import SparseInvertedIndex
    from milvus_lite.search import bitmap

    from rag.store.lite_speedup import bm25, dense, sparse
    from rag.store.lite_speedup.query import build_valid_mask

    sparse._ORIGINAL = collection.Collection._search_sparse
    for owner, name, replacement in ((collection, "execute_search_with_index", dense.execute_search_with_index),
                                     (collection.Collection, "_search_sparse", sparse.search_sparse),
                                     (bitmap, "build_valid_mask", build_valid_mask),
                                     (SparseInvertedIndex, "search", bm25.search)):
        _originals[(owner, name)] = getattr(owner, name)
        setattr(owner, name, replacement)
    return True


def uninstall() -> None:
    """Back to Milvus Lite as published (the benchmark compares both in one process)."""
    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
    _originals.clear()


def installed() -> bool:
    return bool(_originals)


def freeze_long_lived(collect: bool = False) -> None:
    """Milvus Lite 3.x holds every stored row as Python objects while the database is open (key
    lists, key -> row maps, BM25 posting lists built on the first search): 620,000 objects at 100
    video-hours. Python's cyclic garbage collector walked all of them on each full collection,
    stalling one search in twenty by 350 ms. What exists now is moved out of its sight
    (gc.freeze); objects are still freed when their last reference goes, as before. `collect`
    first clears cyclic garbage, which would otherwise be kept.

    At exit everything is handed back to the collector: frozen objects would outlive the
    interpreter's last collection, and extension modules that check for leaks (nanobind's, for
    triton, which torch imports) then print dozens of lines to stderr after a CLI's one-line
    error."""
    import atexit
    import gc

    global _unfreeze_at_exit
    if collect:
        gc.collect()
    gc.freeze()
    if not _unfreeze_at_exit:
        atexit.register(gc.unfreeze)
        _unfreeze_at_exit = True


_unfreeze_at_exit = False


def thaw() -> None:
    """Hand everything frozen back to the garbage collector (a store closing)."""
    import gc

    gc.unfreeze()
