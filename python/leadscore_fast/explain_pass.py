"""lf.explain's reasons in the scoring pass itself, on the native executor.

The explain program (explanations.plan_contributions: the model plus one score per rule,
that rule alone) runs without materialising its scores; the engine (``_engine.explain_native``,
engine/src/explain.rs) takes each chunk as it is computed, copies out the model's scores
and segment codes, and writes each lead's top reasons straight into buffers allocated here.
Each executor block writes its own slice of those buffers, so a reasons column comes out as
one Arrow list array per block (a chunked column), with no copy and no contribution column.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from leadscore_fast.arrays import primitive
from leadscore_fast.explanations import RANGE
from leadscore_fast.pipeline import prefetch

__all__ = ["MAX_TOP", "reasons_tables", "unsupported"]

MAX_TOP = 32  # engine::reasons::MAX_TOP: the most entries a lead keeps before its clamp's


def per_lead(rules: int, top: int, ranged: bool) -> int:
    """The entries a lead may have (engine::reasons::entries_per_lead)."""
    return min(top, rules, MAX_TOP) + bool(ranged)


def unsupported(prep) -> str | None:
    """Why this explain program cannot run in one native pass (then explain materialises the
    contribution columns), or None."""
    from leadscore_fast.vm.executor import check_executor, native_unsupported

    try:
        from leadscore_fast import _engine
    except ImportError:
        return "the Rust extension is not built"
    if not hasattr(_engine, "explain_native"):
        return "the Rust extension has no explain_native"
    if check_executor(None) not in ("auto", "native"):
        return "LEADSCORE_EXECUTOR asks for another executor"
    if prep.queries:
        return "the program has queries"
    return native_unsupported(prep.code)


def _blocks(n: int, chunk: int, nblocks: int):
    """(block, first row, end row) of the executor's blocks with rows (engine exec/run.rs)."""
    n_chunks = -(-n // chunk)
    for b in range(nblocks):
        r0 = min(b * n_chunks // nblocks * chunk, n)
        r1 = min((b + 1) * n_chunks // nblocks * chunk, n)
        if r1 > r0:
            yield b, r0, r1


def _list_chunks(n, chunk, nblocks, per, offsets, rules, points, dictionary) -> list:
    """One list<struct<rule, points>> array per block over its slice of the buffers."""
    out = []
    rules_buf, points_buf, offs_buf = pa.py_buffer(rules), pa.py_buffer(points), pa.py_buffer(offsets)
    for b, r0, r1 in _blocks(n, chunk, nblocks):
        count = int(offsets[r1 + b])
        e0 = r0 * per
        idx = pa.Array.from_buffers(pa.int32(), count, [None, rules_buf], offset=e0)
        rule = pa.DictionaryArray.from_arrays(idx, dictionary, safe=False)
        pts = pa.Array.from_buffers(pa.float64(), count, [None, points_buf], offset=e0)
        struct = pa.StructArray.from_arrays([rule, pts], names=["rule", "points"])
        offs = pa.Array.from_buffers(pa.int32(), r1 - r0 + 1, [None, offs_buf], offset=r0 + b)
        out.append(pa.ListArray.from_arrays(offs, struct))
    return out


def reasons_tables(ses, plan, m, requests):
    """Run the session's explain program over its source, batch by batch: yields (the batch,
    the model's score columns, its segmentation columns, per request its list chunks).
    ``requests``: (score name, top) pairs; the rule dictionary per score is in ``plan``."""
    from leadscore_fast import _engine
    from leadscore_fast.runner import arrow_empty, bind_batch
    from leadscore_fast.vm import pool

    prep = ses.prep
    index = {s: i for i, s in enumerate(prep.scores)}
    scores = [index[s] for s in m.score_names]
    n_f, n_i, n_b = prep.n_regs
    chunk = ses.chunk_rows
    dicts = {s: pa.array([r for r, _ in rules] + [RANGE], pa.string())
             for s, rules in plan.rules.items()}
    inputs = ses.source.batches(ses.columns)
    if ses.source.decodes:
        inputs = prefetch(inputs, depth=1, name="leadscore-reader")
    for batch in inputs:
        n = batch.num_rows
        nblocks = max(1, min(pool.max_blocks(ses.threads), -(-n // chunk)))
        bound = bind_batch(prep, batch, ses.col_idx)
        out_f = arrow_empty((len(scores), n), np.float64)
        out_seg = arrow_empty((len(prep.segments), n), np.int32)
        bufs, args = [], []
        for s, top in requests:
            rules = plan.rules[s]
            per = per_lead(len(rules), top, plan.ranged[s])
            b = (arrow_empty((n + nblocks,), np.int32), arrow_empty((n * per,), np.int32),
                 arrow_empty((n * per,), np.float64))
            bufs.append((s, per, b))
            args.append((index[s], [index[c] for _, c in rules], plan.ranged[s], top) + b)
        if n:
            null_f, null_g = _engine.explain_native(
                prep.code, prep.consts_f, prep.consts_i, n_f, n_i, n_b,
                pool.buffer_list(bound.datas).where, pool.buffer_list(bound.valids).where,
                bound.meta, bound.lut_f, bound.lut_b, bound.lut_off, int(ses.as_of_us), n, chunk,
                nblocks, len(prep.scores), len(prep.segments),
                [(k, out_f[j]) for j, k in enumerate(scores)],
                [(g, out_seg[g]) for g in range(len(prep.segments))], args, pool.workers(ses.threads))
        else:
            null_f, null_g = [0] * len(scores), [0] * len(prep.segments)
        cols_f = [primitive(row, np.isnan(row) if k else None) for row, k in zip(out_f, null_f)]
        cols_g = [pa.DictionaryArray.from_arrays(primitive(row, row < 0 if k else None), labels,
                                                 safe=False)
                  for row, k, labels in zip(out_seg, null_g, prep.label_arrays)]
        lists = [_list_chunks(n, chunk, nblocks, per, *b, dicts[s]) if n else
                 [pa.array([], pa.list_(pa.struct([("rule", pa.dictionary(pa.int32(), pa.string())),
                                                   ("points", pa.float64())])))]
                 for s, per, b in bufs]
        yield batch, cols_f, cols_g, lists
