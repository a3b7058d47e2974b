"""lf.explain's reasons in the scoring pass itself.

The explain program (explanations.plan_contributions: the model plus one score per rule,
that rule alone) runs without materialising its scores; the engine takes each run of rows as
it is computed, copies out the model's scores and segment codes, and writes each lead's top
reasons straight into buffers allocated here. Each executor block writes its own slice of
those buffers, so a reasons column comes out as one Arrow list array per block (a chunked
column), with no copy and no contribution column.

Where the program has a fused kernel at hand (vm/executor.choose: the same rule as scoring's),
``_engine.explain_fused`` runs it a few thousand rows at a time into cache-sized rows and
picks from those (engine/src/explain_fused.rs); otherwise (fused kernels off, a program or
batch they do not cover, not compiled yet, an extension without it) ``_engine.explain_native``
runs the batch on the native executor (engine/src/explain.rs). Both give the same bits in the
same blocks.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from leadscore_fast.arrays import primitive
from leadscore_fast.explanations import RANGE
from leadscore_fast.pipeline import prefetch

__all__ = ["MAX_TOP", "reasons_tables", "unsupported"]

MAX_TOP = 32  # engine::reasons::MAX_TOP: the most entries a lead keeps before its clamp's
# Rows per fused kernel call: the explain program's score rows for them (8 bytes per score
# and row) stay in L2 while the reasons are picked from them.
RUN_ROWS = 2048


def per_lead(rules: int, top: int, ranged: bool) -> int:
    """The entries a lead may have (engine::reasons::entries_per_lead)."""
    return min(top, rules, MAX_TOP) + bool(ranged)


def unsupported(prep) -> str | None:
    """Why this explain program cannot run in one pass (then explain materialises the
    contribution columns), or None. The native executor must be able to run it: it is the
    pass wherever no fused kernel is at hand."""
    from leadscore_fast.vm.executor import check_executor, native_unsupported

    try:
        from leadscore_fast import _engine
    except ImportError:
        return "the Rust extension is not built"
    if not hasattr(_engine, "explain_native"):
        return "the Rust extension has no explain_native"
    if check_executor(None) == "interpreter":
        return "LEADSCORE_EXECUTOR asks for the interpreter"
    if prep.queries:
        return "the program has queries"
    return native_unsupported(prep.code)


def _kernel(prep, bound, n: int):
    """The fused kernel that runs this batch of the explain program, or None (then the
    native executor does). The choice is scoring's (vm/executor.choose: small batches native,
    a kernel once the program is hot or cached, ``LEADSCORE_EXECUTOR``), except that where
    scoring would interpret, this pass runs native."""
    from leadscore_fast import _engine
    from leadscore_fast.vm import executor, fused

    if not hasattr(_engine, "explain_fused"):
        return None
    outs = fused.Outputs(len(prep.scores), len(prep.segments), 0, 0, True)

    def kernel(force, native):
        return executor.fused_kernel_for(prep.code, prep.consts_f, prep.consts_i, outs,
                                         bound.meta, bound.lut_off, n, force=force,
                                         native=native)

    ran, fk = executor.choose(executor.check_executor(None), prep.code, n, kernel)
    return fk if ran == "fused" else None


def _run(ses, bound, n, nblocks, copies, reasons) -> tuple:
    """Run one batch of the explain program into the buffers: on its fused kernel if it has
    one at hand, else native. (NULLs written per score, per segmentation)."""
    from leadscore_fast import _engine
    from leadscore_fast.vm import fused, pool

    prep, chunk = ses.prep, ses.chunk_rows
    fk = _kernel(prep, bound, n)
    fused.ROWS_RUN["native" if fk is None else "fused"] += n
    datas, valids = pool.buffer_list(bound.datas), pool.buffer_list(bound.valids)
    if fk is None:
        n_f, n_i, n_b = prep.n_regs
        return _engine.explain_native(
            prep.code, prep.consts_f, prep.consts_i, n_f, n_i, n_b, datas.where, valids.where,
            bound.meta, bound.lut_f, bound.lut_b, bound.lut_off, int(ses.as_of_us), n, chunk,
            nblocks, len(prep.scores), len(prep.segments), *copies, reasons,
            pool.workers(ses.threads))
    fchunk = min(chunk, fused.CHUNK)
    # the outputs' words are set per run by the engine: no output rows here
    no_rows = np.zeros((0, 0), np.uint8)
    args = fk.args(datas.where, valids.where, bound.meta, bound.lut_b, bound.lut_f,
                   bound.lut_off, int(ses.as_of_us), n, no_rows, no_rows, fchunk, no_rows)
    rows = -(-RUN_ROWS // fchunk) * fchunk
    return _engine.explain_fused(fk.address, args, fk.scratch_bytes(fchunk), rows, n, chunk,
                                 nblocks, len(prep.scores), len(prep.segments), *copies,
                                 reasons, pool.workers(ses.threads))


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
    from leadscore_fast.runner import arrow_empty, bind_batch
    from leadscore_fast.vm import pool

    prep = ses.prep
    index = {s: i for i, s in enumerate(prep.scores)}
    scores = [index[s] for s in m.score_names]
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
            copies = ([(k, out_f[j]) for j, k in enumerate(scores)],
                      [(g, out_seg[g]) for g in range(len(prep.segments))])
            null_f, null_g = _run(ses, bound, n, nblocks, copies, args)
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
