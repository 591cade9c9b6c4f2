"""Milvus Lite 3.2.2's sparse (BM25) search, `Collection._search_sparse`, with its two per-row
walks replaced by `live_masks`. The rest is the library's code as it was, adapted from
milvus-lite 3.2.2 (Apache-2.0): a cached sparse index per sealed segment, the memtable's rebuilt
per search, then a global merge."""

from __future__ import annotations

import numpy as np
from milvus_lite.constants import ALL_PARTITIONS
from milvus_lite.engine.projection import build_projection_plan, project_record

from rag.store.lite_speedup.live_rows import Source, live_masks


def search_sparse(self, query_vectors, vector_field, top_k, metric_type, partition_names, expr, output_fields,
                  timezone=None):
    from milvus_lite.analyzer.sparse import bytes_to_sparse
    from milvus_lite.index.sparse_factory import (
        _search_prepared_sparse_index,
        create_sparse_index,
        sparse_index_matches,
    )

    partition_filter = set(partition_names) if partition_names else None
    projection_plan = build_projection_plan(output_fields, self._schema, api_kind="search")
    sparse_spec = self._index_specs.get(vector_field)
    index_params = sparse_spec.build_params if sparse_spec else {}
    query_sparse = self._prepare_sparse_queries(query_vectors, vector_field)
    nq = len(query_sparse)
    compiled_filter = self._compile_filter(expr, timezone=timezone) if expr else None
    indexed_filter_plan = self._indexed_filter_plan(compiled_filter)
    per_query_candidates = [[] for _ in range(nq)]
    seg_snapshot, delta_snap = self._read_snapshot()
    mt_deletes = self._memtable.delete_index_snapshot()

    # Versions are resolved over every segment and the memtable's live keys, before partitions
    # are pruned, as the library does; only the walk over rows is replaced.
    in_scope = [seg for seg in seg_snapshot
                if (partition_filter is None or seg.partition in partition_filter)
                and seg.table is not None and len(seg.table) > 0]
    memtable_keys = self._memtable.pk_index_snapshot()
    memtable_source = Source.of_keys([pk for pk, _ in memtable_keys], [seq for _, (_, _, seq) in memtable_keys])
    by_segment = {id(seg): Source(seg.pk_to_row, seg.seqs, seg.partition) for seg in seg_snapshot}
    live = live_masks([by_segment[id(seg)] for seg in in_scope], rivals=[*by_segment.values(), memtable_source],
                      deleted=delta_snap._map, pending=mt_deletes, pending_partitions=frozenset({ALL_PARTITIONS}))
    if live is None:  # a key twice in one source: the library's own walk
        return _ORIGINAL(self, query_vectors, vector_field, top_k, metric_type, partition_names, expr,
                         output_fields, timezone)
    newest_seq = {}  # only for keys the memtable shares with a segment: see the memtable loop below
    for seg in seg_snapshot:
        for pk in seg.pk_to_row.keys() & memtable_source.rows.keys():
            newest_seq[pk] = max(int(seg.seqs[seg.pk_to_row[pk]]), newest_seq.get(pk, -1))

    for seg, valid_mask in zip(in_scope, live, strict=True):
        table = seg.table
        cached_idx = seg.sparse_indexes.get(vector_field)
        if not sparse_index_matches(cached_idx, metric_type, index_params):
            sparse_vecs = [bytes_to_sparse(r) if isinstance(r, bytes) else (r or {})
                           for r in table.column(vector_field).to_pylist()]
            cached_idx = create_sparse_index(metric_type, index_params)
            cached_idx.build(sparse_vecs)
            seg.sparse_indexes[vector_field] = cached_idx
        if compiled_filter is not None:
            from milvus_lite.search.indexed_filter import evaluate_segment_filter
            valid_mask = valid_mask & evaluate_segment_filter(seg, compiled_filter, indexed_filter_plan)
        if not valid_mask.any():
            continue
        local_ids, dists = _search_prepared_sparse_index(cached_idx, query_sparse, top_k, valid_mask=valid_mask)
        for qi in range(nq):
            for j in range(top_k):
                lid = int(local_ids[qi, j])
                if lid < 0:
                    break
                per_query_candidates[qi].append((float(dists[qi, j]), seg.pks[lid], (table, lid)))

    mt_pks, mt_sparse, mt_refs = [], [], []
    for pk, seq, record in self._memtable.active_record_snapshots(partition_names=partition_names):
        if delta_snap.is_deleted(pk, seq) or newest_seq.get(pk, -1) > seq:
            continue
        raw = record.get(vector_field)
        mt_pks.append(pk)
        mt_sparse.append(bytes_to_sparse(raw) if isinstance(raw, bytes) else (raw or {}))
        mt_refs.append((record, seq))
    if mt_pks:
        mt_valid = np.ones(len(mt_pks), dtype=bool)
        if compiled_filter is not None:
            from milvus_lite.search.filter.eval.python_backend import _eval_row
            for i in range(len(mt_pks)):
                if not _eval_row(compiled_filter.ast, mt_refs[i][0]):
                    mt_valid[i] = False
        mt_idx = create_sparse_index(metric_type, index_params)
        mt_idx.build(mt_sparse, valid_mask=mt_valid)
        local_ids, dists = _search_prepared_sparse_index(mt_idx, query_sparse, top_k)
        for qi in range(nq):
            for j in range(top_k):
                lid = int(local_ids[qi, j])
                if lid < 0:
                    break
                per_query_candidates[qi].append((float(dists[qi, j]), mt_pks[lid], mt_refs[lid]))

    def is_memtable_ref(source) -> bool:
        return isinstance(source, tuple) and bool(source) and isinstance(source[0], dict)

    results = []
    for qi in range(nq):
        best = {}
        for candidate in per_query_candidates[qi]:
            _dist, pk, source = candidate
            seq = int(source[1]) if is_memtable_ref(source) else int(source[0].column("_seq")[source[1]].as_py())
            if pk not in best or seq > best[pk][0]:
                best[pk] = (seq, candidate)
        deduped = sorted((v[1] for v in best.values()), key=lambda c: c[0])
        hits = []
        for dist, pk, source in deduped:
            if is_memtable_ref(source):
                record = source[0]
            else:
                table, row = source
                record = {name: table.column(name)[row].as_py() for name in table.column_names
                          if name not in ("_seq", "_partition")}
            hits.append({"id": pk, "distance": dist, "entity": project_record(record, self._schema, projection_plan)})
            if len(hits) >= top_k:
                break
        results.append(hits)
    return results


_ORIGINAL = None  # Collection._search_sparse as the library has it; set by install()
