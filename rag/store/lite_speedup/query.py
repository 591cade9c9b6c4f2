"""Milvus Lite 3.2.2's `milvus_lite.search.bitmap.build_valid_mask` (its query path: rows of all
sources laid end to end), with the same signature and checks, deciding liveness with
`live_rows.valid_mask` instead of a Python loop per row."""

from __future__ import annotations

import numpy as np

from rag.store.lite_speedup.live_rows import valid_mask


def build_valid_mask(all_pks, all_seqs, delta_index, filter_mask=None, memtable=None) -> np.ndarray:
    count = len(all_pks)
    if count == 0:
        return np.zeros(0, dtype=bool)
    if all_seqs.shape[0] != count:
        raise ValueError(f"all_pks ({count}) and all_seqs ({all_seqs.shape[0]}) must have the same length")
    if filter_mask is not None and filter_mask.shape[0] != count:
        raise ValueError(f"filter_mask length ({filter_mask.shape[0]}) does not match all_pks length ({count})")
    pending = memtable.delete_index_snapshot() if memtable is not None else {}
    mask = valid_mask(all_pks, all_seqs, delta_index._map, pending)
    return mask & filter_mask.astype(bool) if filter_mask is not None else mask
