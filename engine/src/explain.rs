//! lf.explain's one pass: the native executor runs the model with one more score per rule
//! (that rule alone) and hands each chunk to [`Explain`], a [`ChunkSink`] that copies out the
//! model's own scores and segment codes and picks each lead's reasons (`reasons.rs`) from the
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
