"""Milvus Lite 3.2.2's dense search (`milvus_lite.search.executor_indexed.execute_search_with_index`)
with its per-row walk replaced by `live_masks`. Everything else is the library's code as it was,
adapted from milvus-lite 3.2.2 (Apache-2.0): per-source recall, then a global merge."""

from __future__ import annotations

from typing import Any

import numpy as np
from milvus_lite.index.brute_force import BruteForceIndex

from rag.store.lite_speedup.live_rows import Source, live_masks


def execute_search_with_index(query_vectors, segments, memtable, delta_index, top_k, metric_type, pk_field,
                              vector_field, partition_names=None, compiled_filter=None, output_fields=None,
                              indexed_filter_plan=None, project_record_fn=None, search_params=None):
    if query_vectors.ndim == 1:
        query_vectors = query_vectors.reshape(1, -1)
    if query_vectors.dtype != np.float32:
        query_vectors = query_vectors.astype(np.float32, copy=False)
    nq = int(query_vectors.shape[0])
    if nq == 0 or top_k <= 0:
        return [[] for _ in range(nq)]
    partition_filter = set(partition_names) if partition_names else None
    in_scope_segments = [s for s in segments
                         if s.num_rows > 0 and (partition_filter is None or s.partition in partition_filter)]
    mt_pks, mt_seqs, mt_vecs, mt_row_refs, mt_table = memtable.to_search_snapshot(
        vector_field=vector_field, partition_names=partition_names, include_table=compiled_filter is not None)
    if not in_scope_segments and not mt_pks:
        return [[] for _ in range(nq)]

    # The change: which rows are live, from the keys that can be shadowed only (live_rows.py).
    sources = [Source(seg.pk_to_row, seg.seqs) for seg in in_scope_segments]
    if mt_pks:
        sources.append(Source.of_keys(mt_pks, mt_seqs))
    live = live_masks(sources, deleted=delta_index._map, pending=memtable.delete_index_snapshot())
    if live is None:  # a key twice in one source: the library's own walk
        from milvus_lite.search import executor_indexed

        return executor_indexed.execute_search_with_index(  # only Collection's name for it is replaced
            query_vectors, segments, memtable, delta_index, top_k, metric_type, pk_field, vector_field,
            partition_names, compiled_filter, output_fields, indexed_filter_plan, project_record_fn, search_params)

    seg_filter_masks: dict[int, np.ndarray] = {}
    mt_filter_mask = None
    if compiled_filter is not None:
        from milvus_lite.search.filter import evaluate_mask
        from milvus_lite.search.indexed_filter import evaluate_segment_filter
        for seg in in_scope_segments:
            seg_filter_masks[id(seg)] = evaluate_segment_filter(seg, compiled_filter, indexed_filter_plan)
        if mt_pks and mt_table is not None:
            mt_filter_mask = evaluate_mask(compiled_filter, mt_table)

    per_query_candidates: list[list[tuple[float, int, int]]] = [[] for _ in range(nq)]
    pks_by_source: list[list[Any]] = []

    def recall(source_idx: int, vectors: np.ndarray, filter_mask, index) -> None:
        local_mask = live[source_idx]
        if filter_mask is not None:
            local_mask = local_mask & filter_mask.astype(bool)
        if len(local_mask) == 0 or not local_mask.any():
            return
        if index is None:
            index = BruteForceIndex.build(vectors, metric_type)
        local_ids, dists = index.search(query_vectors, top_k, valid_mask=None if local_mask.all() else local_mask,
                                        params=search_params)
        for q in range(nq):
            for j in range(top_k):
                lid = int(local_ids[q, j])
                if lid < 0:
                    break
                per_query_candidates[q].append((float(dists[q, j]), source_idx, lid))

    for seg in in_scope_segments:
        seg_vectors, seg_vector_null_mask = seg.vector_data(vector_field)
        pks_by_source.append(seg.pks)
        combined_mask = seg_filter_masks.get(id(seg))
        if seg_vector_null_mask is not None:
            combined_mask = seg_vector_null_mask if combined_mask is None else combined_mask & seg_vector_null_mask
        recall(len(pks_by_source) - 1, seg_vectors, combined_mask, seg.indexes.get(vector_field))
    if mt_pks:
        pks_by_source.append(mt_pks)
        recall(len(pks_by_source) - 1, mt_vecs, mt_filter_mask, None)

    n_segments = len(in_scope_segments)
    if project_record_fn is not None:
        project_entity = project_record_fn
    elif output_fields is None:
        def project_entity(record: dict) -> dict:
            return {k: v for k, v in record.items() if k != pk_field and k != vector_field}
    else:
        keep = set(output_fields) - {pk_field}

        def project_entity(record: dict) -> dict:
            return {k: record[k] for k in keep if k in record}

    def materialize(source_idx: int, local_id: int) -> dict:
        if source_idx < n_segments:
            return in_scope_segments[source_idx].row_to_dict(local_id)
        batch_idx, row_idx = mt_row_refs[local_id]
        return memtable.materialize_row(batch_idx, row_idx)

    results = []
    for q in range(nq):
        candidates = sorted(per_query_candidates[q], key=lambda c: (c[0], c[1], c[2]))
        per_query = []
        for dist, source_idx, local_id in candidates[:top_k]:
            record = materialize(source_idx, local_id)
            pk = record.get(pk_field) if pk_field in record else pks_by_source[source_idx][local_id]
            per_query.append({"id": pk, "distance": dist, "entity": project_entity(record)})
        results.append(per_query)
    return results
