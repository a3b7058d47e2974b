//! lf.explain's one pass: the native executor runs the model with one more score per rule
//! (that rule alone) and hands each chunk to [`Explain`] (on a fused kernel, `explain_fused.rs`
//! hands it each run of rows the same way), a [`ChunkSink`] that copies out the model's own
//! scores and segment codes and picks each lead's reasons (`reasons.rs`) from the
//! chunk's contribution rows while they are in cache, so no contribution column is ever
//! materialised. Reasons go to preallocated buffers, block by block: block b (rows r0..r1)
//! writes its offsets at `r0 + b ..= r1 + b`, relative to its own entries, which start at
//! entry `r0 * entries_per_lead`: each block is one Arrow list array over its slice.

use crate::exec::{ChunkRows, ChunkSink};
use crate::reasons::{clamp_adjustment, entries_per_lead, select, Scratch, LANES};
use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};

/// A score (or segmentation) row written out: `n` values.
pub struct RowCopy {
    /// The program's score (segmentation) index.
    pub index: usize,
    pub out: *mut u8,
    /// NULLs written (NaN scores, -1 codes).
    pub nulls: AtomicI64,
}

/// The reasons of one rule score.
pub struct ScoreReasons {
    /// The score's index in the program (read for the clamp entry).
    pub score: usize,
    /// Its rules' contribution scores, in rule order.
    pub contributions: Vec<usize>,
    pub ranged: bool,
    pub top: usize,
    /// int32[n + nblocks], int32[n * per_lead], float64[n * per_lead].
    pub offsets: *mut i32,
    pub rules: *mut i32,
    pub points: *mut f64,
}

impl ScoreReasons {
    /// Entries one lead may take (the buffers hold this many per lead).
    pub fn per_lead(&self) -> usize {
        entries_per_lead(self.contributions.len(), self.top, self.ranged)
    }
}

/// The sink; its buffers are the caller's, sized for `n` rows and `nblocks` blocks.
pub struct Explain {
    pub n: usize,
    pub scores: Vec<RowCopy>,
    pub segs: Vec<RowCopy>,
    pub reasons: Vec<ScoreReasons>,
}

// SAFETY: every block writes only its own rows of the buffers (see the module's doc).
unsafe impl Sync for Explain {}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

impl ChunkSink for Explain {
    fn chunk(&self, blk: usize, block_row0: usize, start: usize, rows: &ChunkRows) {
        SCRATCH.with_borrow_mut(|scratch| {
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") && is_x86_feature_detected!("avx512vl") {
                    // SAFETY: the CPU has the features
                    return unsafe { self.chunk_v4(blk, block_row0, start, rows, scratch) };
                }
                if is_x86_feature_detected!("avx2") {
                    return unsafe { self.chunk_v3(blk, block_row0, start, rows, scratch) };
                }
            }
            self.chunk_at(blk, block_row0, start, rows, scratch)
        })
    }
}

impl Explain {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
    unsafe fn chunk_v4(&self, blk: usize, block_row0: usize, start: usize, rows: &ChunkRows, scratch: &mut Scratch) {
        self.chunk_at(blk, block_row0, start, rows, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn chunk_v3(&self, blk: usize, block_row0: usize, start: usize, rows: &ChunkRows, scratch: &mut Scratch) {
        self.chunk_at(blk, block_row0, start, rows, scratch)
    }

    /// The chunk's copies and reasons (at the caller's CPU level: everything inlined).
    #[inline(always)]
    fn chunk_at(&self, blk: usize, block_row0: usize, start: usize, rows: &ChunkRows, scratch: &mut Scratch) {
        let m = rows.len();
        assert!(start + m <= self.n && block_row0 <= start);
        for c in &self.scores {
            let src = rows.score(c.index);
            // SAFETY: a float64[n] row; rows start..start + m are this block's
            let dst = unsafe { std::slice::from_raw_parts_mut((c.out as *mut f64).add(start), src.len()) };
            let mut nulls = 0i64;
            for (d, &x) in dst.iter_mut().zip(src) {
                *d = x;
                nulls += x.is_nan() as i64;
            }
            c.nulls.fetch_add(nulls, Ordering::Relaxed);
        }
        for c in &self.segs {
            let src = rows.seg(c.index);
            // SAFETY: an int32[n] row, as above
            let dst = unsafe { std::slice::from_raw_parts_mut((c.out as *mut i32).add(start), src.len()) };
            let mut nulls = 0i64;
            for (d, &x) in dst.iter_mut().zip(src) {
                *d = x;
                nulls += (x < 0) as i64;
            }
            c.nulls.fetch_add(nulls, Ordering::Relaxed);
        }
        {
            let mut cols: Vec<&[f64]> = Vec::new();
            let mut adj = [0.0f64; LANES];
            for r in &self.reasons {
                let per = r.per_lead();
                // SAFETY: this block's offsets (rows start..start + m, one past its first)
                // and its entries (per lead `per`, from its first row's)
                let (offs, ents) = unsafe {
                    let o = r.offsets.add(blk);
                    if start == block_row0 {
                        *o.add(start) = 0;
                    }
                    (std::slice::from_raw_parts_mut(o.add(start), m + 1), block_row0 * per)
                };
                let room = (start + m - block_row0) * per;
                let (rules, points) = unsafe {
                    (std::slice::from_raw_parts_mut(r.rules.add(ents), room), std::slice::from_raw_parts_mut(r.points.add(ents), room))
                };
                let mut pos = offs[0] as usize;
                let v = rows.score(r.score);
                for i in (0..m).step_by(LANES) {
                    let k = LANES.min(m - i);
                    cols.clear();
                    cols.extend(r.contributions.iter().map(|&c| &rows.score(c)[i..i + k]));
                    let a = if r.ranged {
                        clamp_adjustment(&cols, &v[i..i + k], &mut adj[..k]);
                        Some(&adj[..k])
                    } else {
                        None
                    };
                    select(&cols, a, r.top, scratch, &mut pos, &mut offs[1 + i..1 + i + k], rules, points);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{self, ptype as pt};
    use crate::reasons::{top_reasons, Reasons};
    use serde_json::json;

    /// score s (range [0, 25]) = a + b + c, and each rule alone as a score of its own; x with
    /// NULLs, 1000 rows in 64-row chunks, 5 blocks on 2 threads: the sink's reasons are
    /// top_reasons over the materialised contribution columns.
    #[test]
    fn the_sink_gives_the_reasons_of_the_materialised_columns() {
        let rule = |n: &str, w: &str, p: &str, cap: Option<f64>| json!({"name": n, "line": 1,
            "when": {"text": w, "line": 1, "col": 1}, "points": {"text": p, "line": 1, "col": 1}, "cap": cap, "floor": null});
        let rules = [rule("a", "x > 0", "10", None), rule("b", "x > 1", "x * 10", Some(15.0)), rule("c", "x < 0.5", "-7", None)];
        let mut scores = vec![json!({"name": "s", "line": 1, "range": [0.0, 25.0], "rules": rules, "expr": null})];
        for (i, r) in rules.iter().enumerate() {
            scores.push(json!({"name": format!("s.{i}"), "line": 1, "range": null, "rules": [r], "expr": null}));
        }
        let model = json!({"name": "m", "source": "m", "scores": scores, "segments": []}).to_string();
        let p = crate::compile_json(&model, &json!([{"name": "x", "kind": "float"}]).to_string()).unwrap();
        let n = 1000;
        let x: Vec<f64> = (0..n).map(|i| if i % 13 == 0 { f64::NAN } else { (i % 40) as f64 / 10.0 - 0.7 }).collect();
        let data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let columns = [exec::Column { data: &data, valid: &[], offset: 0, ptype: pt::F64 }];
        let code: Vec<i64> = p.code.iter().flat_map(|i| i.iter().copied()).collect();
        let batch = |materialize| exec::Batch {
            code: &code, consts_f: &p.consts_f, consts_i: &p.consts_i, n_regs: p.n_regs, columns: &columns, lut_f: &[],
            lut_b: &[], lut_off: &[0], as_of: 0, n, chunk: 64, materialize, row_base: 0, tk_meta: &[],
        };
        let (nblocks, n_scores) = (5, 4);
        let (mut out_f, mut acc) = (vec![0.0; n_scores * n], vec![0i64; nblocks * n_scores]);
        let outs = exec::Outputs {
            out_f: &mut out_f, n_scores, out_seg: &mut [], n_segs: 0, acc: &mut acc, n_slots: 0, masks: &mut [], n_masks: 0,
            tk_val: &mut [], tk_row: &mut [], tk_groups: 0, tk_kmax: 0,
        };
        exec::run(&batch(true), outs, nblocks, 2).unwrap();
        let col = |k: usize| &out_f[k * n..(k + 1) * n];
        let cols = [col(1), col(2), col(3)];
        let mut adj = vec![0.0; n];
        clamp_adjustment(&cols, col(0), &mut adj);
        let want = top_reasons(&cols, Some(&adj), n, 2, 1);

        let per = entries_per_lead(3, 2, true);
        let (mut offsets, mut rules, mut points) = (vec![-1i32; n + nblocks], vec![0i32; n * per], vec![0.0f64; n * per]);
        let mut score = vec![0.0f64; n];
        let sink = Explain {
            n, scores: vec![RowCopy { index: 0, out: score.as_mut_ptr().cast(), nulls: AtomicI64::new(0) }], segs: vec![],
            reasons: vec![ScoreReasons { score: 0, contributions: vec![1, 2, 3], ranged: true, top: 2,
                offsets: offsets.as_mut_ptr(), rules: rules.as_mut_ptr(), points: points.as_mut_ptr() }],
        };
        let outs = exec::Outputs {
            out_f: &mut [], n_scores, out_seg: &mut [], n_segs: 0, acc: &mut acc, n_slots: 0, masks: &mut [], n_masks: 0,
            tk_val: &mut [], tk_row: &mut [], tk_groups: 0, tk_kmax: 0,
        };
        exec::run_with_sink(&batch(false), outs, nblocks, 2, &sink).unwrap();
        assert_eq!(score.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), col(0).iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        // block b (chunks b * 16 / 5 ..): its offsets from row r0 + b, its entries from r0 * per
        let chunks = n.div_ceil(64);
        let mut got = Reasons { offsets: vec![0], ..Default::default() };
        for b in 0..nblocks {
            let (r0, r1) = ((b * chunks / nblocks * 64).min(n), ((b + 1) * chunks / nblocks * 64).min(n));
            let offs = &offsets[r0 + b..=r1 + b];
            assert_eq!(offs[0], 0);
            let base = *got.offsets.last().unwrap();
            got.offsets.extend(offs[1..].iter().map(|o| o + base));
            let used = offs[offs.len() - 1] as usize;
            got.rules.extend(&rules[r0 * per..r0 * per + used]);
            got.points.extend(&points[r0 * per..r0 * per + used]);
        }
        assert_eq!(got.offsets, want.offsets);
        assert_eq!(got.rules, want.rules);
        assert_eq!(got.points.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want.points.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        assert!(want.rules.contains(&3), "some lead has a clamp entry");
    }
}
