//! lf.explain's one pass on a fused kernel (the machine code vm/fused_ir.py generates per
//! program): each block's rows go through the kernel a run of [`Fused::rows`] rows at a time,
//! into score and segmentation rows of the thread's own (cache-sized, never a whole column),
//! and each run is handed to the same [`Explain`] sink the native executor hands its chunks
//! to. The blocks are the native executor's (whole `chunk`-row chunks, `nblocks` of them), so
//! both passes write the same bits into the same block layout of the caller's buffers.

use crate::exec::{ChunkRows, ChunkSink};
use crate::explain::Explain;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fused kernel's entry, `leadscore_fused(args, scratch, nulls, r0, r1)`: computes rows
/// `r0..r1`, writing score k of row r at `args[2] + 8 * (k * args[1] + r)` and segmentation
/// g's code at `args[3] + 4 * (g * args[1] + r)`, adding the NULLs it wrote to `nulls`.
pub type FusedFn = unsafe extern "C" fn(*const i64, *mut u8, *mut i64, i64, i64);

/// The words of the kernel's args array that say where its outputs go (vm/fused_ir.py HEAD).
const STRIDE: usize = 1;
const OUT_F: usize = 2;
const OUT_SEG: usize = 3;
const HEAD: usize = 6;

/// A fused kernel ready to run over a batch.
pub struct Fused<'a> {
    pub kernel: FusedFn,
    /// Its args array (the batch's columns and tables); the output words are set per run.
    pub args: &'a [i64],
    /// Bytes of scratch one call needs (expanded bitmaps, stage spills).
    pub scratch_bytes: usize,
    /// Rows per kernel call: each thread's score rows hold this many.
    pub rows: usize,
    /// The program's scores and segmentations (what the kernel writes).
    pub n_scores: usize,
    pub n_segs: usize,
}

/// Run rows `0..n` as `nblocks` blocks of whole `chunk`-row chunks on up to `threads`
/// threads (this one included), every run of rows handed to `sink`.
///
/// # Safety
/// `fused.kernel` is a fused kernel compiled for a program of `n_scores` scores and `n_segs`
/// segmentations that stores them (materialising), no queries, and `fused.args` is its args
/// array for a batch of at least `n` rows whose buffers stay alive for this call.
pub unsafe fn run(fused: &Fused, sink: &Explain, n: usize, chunk: usize, nblocks: usize, threads: usize) -> Result<(), String> {
    if fused.args.len() < HEAD || fused.rows == 0 || chunk == 0 {
        return Err(format!("explain_fused: {} args words (at least {HEAD}), {} rows per run, chunk {chunk}", fused.args.len(), fused.rows));
    }
    if sink.n != n {
        return Err(format!("explain_fused: the sink's buffers are for {} rows, the batch has {n}", sink.n));
    }
    if n == 0 {
        return Ok(());
    }
    let n_chunks = n.div_ceil(chunk);
    let nblocks = nblocks.max(1);
    let next = AtomicUsize::new(0);
    let work = || {
        let rows = fused.rows;
        let mut args = fused.args.to_vec();
        let mut scratch = vec![0u64; fused.scratch_bytes.div_ceil(8).max(1)];
        let mut of = vec![0.0f64; fused.n_scores.max(1) * rows];
        let mut og = vec![0i32; fused.n_segs.max(1) * rows];
        let mut nulls = vec![0i64; fused.n_scores + fused.n_segs];
        args[STRIDE] = rows as i64;
        loop {
            let blk = next.fetch_add(1, Ordering::Relaxed);
            if blk >= nblocks {
                break;
            }
            let r0 = (blk * n_chunks / nblocks * chunk).min(n);
            let r1 = ((blk + 1) * n_chunks / nblocks * chunk).min(n);
            for start in (r0..r1).step_by(rows) {
                let m = rows.min(r1 - start);
                // row r of this run lands at index r - start of the thread's rows
                args[OUT_F] = (of.as_mut_ptr() as i64).wrapping_sub(8 * start as i64);
                args[OUT_SEG] = (og.as_mut_ptr() as i64).wrapping_sub(4 * start as i64);
                // SAFETY: the caller's contract; the outputs are this thread's rows
                unsafe { (fused.kernel)(args.as_ptr(), scratch.as_mut_ptr().cast(), nulls.as_mut_ptr(), start as i64, (start + m) as i64) };
                // SAFETY: rows the kernel just wrote, untouched until the sink returns
                let got = unsafe { ChunkRows::from_rows(of.as_ptr(), rows, og.as_ptr(), rows, m) };
                sink.chunk(blk, r0, start, &got);
            }
        }
    };
    if !crate::exec::on_threads(threads.clamp(1, nblocks), &work) {
        return Err("an explain thread panicked".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{RowCopy, ScoreReasons};
    use crate::reasons::{entries_per_lead, top_reasons};
    use std::sync::atomic::AtomicI64;

    /// A stand-in kernel over one float64 column (args[6]): score 0 = x + 2x (range-free),
    /// score 1 = x, score 2 = 2x; segmentation 0 = row % 3 (-1 where x is NaN).
    unsafe extern "C" fn toy(args: *const i64, _scratch: *mut u8, nulls: *mut i64, r0: i64, r1: i64) {
        unsafe {
            let a = |k: usize| *args.add(k);
            let (stride, x) = (a(STRIDE) as usize, a(HEAD) as *const f64);
            let (of, og) = (a(OUT_F) as usize as *mut f64, a(OUT_SEG) as usize as *mut i32);
            for r in r0 as usize..r1 as usize {
                let v = *x.add(r);
                *of.wrapping_add(r) = v + 2.0 * v;
                *of.wrapping_add(stride + r) = v;
                *of.wrapping_add(2 * stride + r) = 2.0 * v;
                *og.wrapping_add(r) = if v.is_nan() { -1 } else { (r % 3) as i32 };
                *nulls += v.is_nan() as i64;
            }
        }
    }

    /// The sink over runs of 100 rows in blocks of 64-row chunks gives the reasons of the
    /// whole columns, block by block, and copies the scores and codes out.
    #[test]
    fn runs_of_rows_give_the_reasons_of_the_columns() {
        let n = 1000;
        let x: Vec<f64> = (0..n).map(|i| if i % 11 == 0 { f64::NAN } else { (i % 9) as f64 - 4.0 }).collect();
        let mut args = vec![0i64; HEAD + 1];
        args[HEAD] = x.as_ptr() as i64;
        let (nblocks, chunk, top) = (5, 64, 1);
        let per = entries_per_lead(2, top, false);
        let (mut offsets, mut rules, mut points) = (vec![-1i32; n + nblocks], vec![0i32; n * per], vec![0.0f64; n * per]);
        let (mut score, mut seg) = (vec![0.0f64; n], vec![0i32; n]);
        let sink = Explain {
            n, scores: vec![RowCopy { index: 0, out: score.as_mut_ptr().cast(), nulls: AtomicI64::new(0) }],
            segs: vec![RowCopy { index: 0, out: seg.as_mut_ptr().cast(), nulls: AtomicI64::new(0) }],
            reasons: vec![ScoreReasons { score: 0, contributions: vec![1, 2], ranged: false, top,
                offsets: offsets.as_mut_ptr(), rules: rules.as_mut_ptr(), points: points.as_mut_ptr() }],
        };
        let fused = Fused { kernel: toy, args: &args, scratch_bytes: 0, rows: 100, n_scores: 3, n_segs: 1 };
        unsafe { run(&fused, &sink, n, chunk, nblocks, 2) }.unwrap();
        let nan = x.iter().filter(|v| v.is_nan()).count() as i64;
        assert_eq!(sink.scores[0].nulls.load(Ordering::Relaxed), nan);
        assert_eq!(sink.segs[0].nulls.load(Ordering::Relaxed), nan);
        for (i, &v) in x.iter().enumerate() {
            assert_eq!(score[i].to_bits(), (v + 2.0 * v).to_bits());
            assert_eq!(seg[i], if v.is_nan() { -1 } else { (i % 3) as i32 });
        }
        let twice: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
        let want = top_reasons(&[&x, &twice], None, n, top, 1);
        let chunks = n.div_ceil(chunk);
        let mut got = vec![0];
        let (mut got_rules, mut got_points): (Vec<i32>, Vec<f64>) = (vec![], vec![]);
        for b in 0..nblocks {
            let (r0, r1) = ((b * chunks / nblocks * chunk).min(n), ((b + 1) * chunks / nblocks * chunk).min(n));
            let offs = &offsets[r0 + b..=r1 + b];
            let base = *got.last().unwrap();
            got.extend(offs[1..].iter().map(|o| o + base));
            let used = offs[offs.len() - 1] as usize;
            got_rules.extend(&rules[r0 * per..r0 * per + used]);
            got_points.extend(&points[r0 * per..r0 * per + used]);
        }
        assert_eq!(got, want.offsets);
        assert_eq!(got_rules, want.rules);
        assert_eq!(got_points, want.points);
    }

    #[test]
    fn an_empty_batch_runs_nothing() {
        let sink = Explain { n: 0, scores: vec![], segs: vec![], reasons: vec![] };
        let args = vec![0i64; HEAD];
        let fused = Fused { kernel: toy, args: &args, scratch_bytes: 0, rows: 100, n_scores: 3, n_segs: 1 };
        assert!(unsafe { run(&fused, &sink, 0, 64, 4, 2) }.is_ok());
        let bad = Fused { rows: 0, ..fused };
        assert!(unsafe { run(&bad, &sink, 0, 64, 4, 2) }.is_err());
    }
}
