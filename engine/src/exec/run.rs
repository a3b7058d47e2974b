//! The interpreter loop: a batch is cut into `nblocks` blocks of consecutive chunks (the numba
//! path's split, so per-block query state agrees), which up to `threads` threads take one at
//! a time; every instruction loops over a chunk, its registers chunk-sized rows.

use super::check::{check, check_column, check_tables, Dims, Insn};
use super::ops::{self, Row, NAN};
use super::ptype as pt;
use crate::opcodes::Op;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One input column of a batch (`vm/columns.py`'s binding): the data buffer, the validity
/// bitmap (empty: no NULLs), the element offset and the physical type.
#[derive(Clone, Copy, Debug)]
pub struct Column<'a> {
    pub data: &'a [u8],
    pub valid: &'a [u8],
    pub offset: usize,
    pub ptype: i64,
}

/// What a batch reads: the program (flat int64 code) and the batch's columns and tables.
pub struct Batch<'a> {
    pub code: &'a [i64],
    pub consts_f: &'a [f64],
    pub consts_i: &'a [i64],
    pub n_regs: [usize; 3],
    pub columns: &'a [Column<'a>],
    pub lut_f: &'a [f64],
    pub lut_b: &'a [u8],
    pub lut_off: &'a [i64],
    /// For days_since: epoch microseconds.
    pub as_of: i64,
    pub n: usize,
    pub chunk: usize,
    /// Write scores and segment codes to `out_f`/`out_seg` (else to per-block chunk scratch).
    pub materialize: bool,
    /// The global row of row 0 (top-k row numbers).
    pub row_base: i64,
    /// Per top-k query: (first group row, groups, k).
    pub tk_meta: &'a [[i64; 3]],
}

/// What a batch writes, laid out as `vm/executor.start` allocates it.
pub struct Outputs<'a> {
    /// float64[n_scores, n] (materialize) or empty.
    pub out_f: &'a mut [f64],
    pub n_scores: usize,
    /// int32[n_segs, n] (materialize) or empty; -1 = NULL.
    pub out_seg: &'a mut [i32],
    pub n_segs: usize,
    /// int64[nblocks, n_slots + n_scores + n_segs]: per block the query slots, then the NULLs
    /// written per score and per segmentation.
    pub acc: &'a mut [i64],
    pub n_slots: usize,
    /// uint8[n_masks, n].
    pub masks: &'a mut [u8],
    pub n_masks: usize,
    /// Top-k heaps float64/int64[blocks, groups, kmax] (NaN, -1 = empty), updated in place.
    pub tk_val: &'a mut [f64],
    pub tk_row: &'a mut [i64],
    pub tk_groups: usize,
    pub tk_kmax: usize,
}

/// Inside the loop an empty heap entry is (-inf, ROW_EMPTY): it ranks below every real
/// entry, so a heap starts full and needs no size (as in the numba kernel).
const ROW_EMPTY: i64 = i64::MAX;

/// Raw output pointers shared by the block threads: each block writes its own rows of the
/// outputs (its chunks' columns, its accumulator row, its heaps), never another block's.
#[derive(Clone, Copy)]
struct Shared {
    out_f: *mut f64,
    out_seg: *mut i32,
    acc: *mut i64,
    masks: *mut u8,
    tk_val: *mut f64,
    tk_row: *mut i64,
}
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// A chunk's scores and segment codes, where the program left them (the output rows when
/// materialising, else the thread's chunk scratch), for a [`ChunkSink`].
pub struct ChunkRows {
    of: *const f64,
    of_stride: usize,
    og: *const i32,
    w: usize,
    m: usize,
}

impl ChunkRows {
    /// Rows another executor computed: score k's `m` values at `of + k * of_stride`,
    /// segmentation g's codes at `og + g * og_stride`.
    ///
    /// # Safety
    /// Those rows are readable and unchanged while the sink holds the `ChunkRows`.
    pub unsafe fn from_rows(of: *const f64, of_stride: usize, og: *const i32, og_stride: usize, m: usize) -> ChunkRows {
        ChunkRows { of, of_stride, og, w: og_stride, m }
    }

    /// The chunk's rows.
    pub fn len(&self) -> usize {
        self.m
    }
    pub fn is_empty(&self) -> bool {
        self.m == 0
    }
    /// Score `k` of the chunk's rows.
    pub fn score(&self, k: usize) -> &[f64] {
        // SAFETY: the executor's rows of at least `m` values, unchanged until the sink returns
        unsafe { std::slice::from_raw_parts(self.of.add(k * self.of_stride), self.m) }
    }
    /// Segmentation `g`'s codes of the chunk's rows (-1 = NULL).
    pub fn seg(&self, g: usize) -> &[i32] {
        // SAFETY: as `score`
        unsafe { std::slice::from_raw_parts(self.og.add(g * self.w), self.m) }
    }
}

/// What consumes each chunk's scores as soon as the program has run over it (lf.explain's
/// reasons): called on the block's thread, chunk after chunk of a block in row order.
pub trait ChunkSink: Sync {
    /// Rows `start..start + rows.m` of block `blk`, whose first row is `block_row0`.
    fn chunk(&self, blk: usize, block_row0: usize, start: usize, rows: &ChunkRows);
}

/// Run `batch` into `out` as `nblocks` blocks on up to `threads` threads (this one included),
/// after checking the program and the buffers; the reason when they do not fit.
pub fn run(batch: &Batch, out: Outputs, nblocks: usize, threads: usize) -> Result<(), String> {
    run_at(batch, out, nblocks, threads, level(), None)
}

/// [`run`], handing every chunk's scores and segment codes to `sink` once they are computed.
pub fn run_with_sink(batch: &Batch, out: Outputs, nblocks: usize, threads: usize, sink: &dyn ChunkSink) -> Result<(), String> {
    run_at(batch, out, nblocks, threads, level(), Some(sink))
}

fn run_at(batch: &Batch, out: Outputs, nblocks: usize, threads: usize, level: Level, sink: Option<&dyn ChunkSink>) -> Result<(), String> {
    let b = batch;
    let width = if b.materialize { b.n } else { 0 };
    let dims = Dims {
        n_regs: b.n_regs, n_cols: b.columns.len(), n_tabs: b.lut_off.len().saturating_sub(1),
        n_consts_f: b.consts_f.len(), n_consts_i: b.consts_i.len(), n_scores: out.n_scores,
        n_segs: out.n_segs, n_masks: out.n_masks, n_topk: b.tk_meta.len(), n_slots: out.n_slots,
    };
    let code = check(b.code, &dims)?;
    check_tables(&code, b.lut_off, b.lut_f.len(), b.lut_b.len())?;
    for (c, col) in b.columns.iter().enumerate() {
        check_column(c, col.data.len(), col.valid.len(), col.offset, col.ptype, b.n)?;
    }
    if b.chunk == 0 {
        return Err("chunk must be at least 1 row".into());
    }
    let n_chunks = b.n.div_ceil(b.chunk);
    let nblocks = nblocks.max(1);
    let acc_w = out.n_slots + out.n_scores + out.n_segs;
    let sizes = [
        ("out_f", out.out_f.len(), out.n_scores * width),
        ("out_seg", out.out_seg.len(), out.n_segs * width),
        ("acc", out.acc.len(), nblocks * acc_w),
        ("masks", out.masks.len(), out.n_masks * b.n),
    ];
    for (name, got, want) in sizes {
        if got != want {
            return Err(format!("{name} has {got} entries, the batch needs {want}"));
        }
    }
    let heap = out.tk_groups * out.tk_kmax;
    if out.tk_val.len() != out.tk_row.len() || (heap > 0 && out.tk_val.len() < nblocks * heap) {
        return Err(format!("top-k state of {} entries, {nblocks} blocks need {}", out.tk_val.len(), nblocks * heap));
    }
    for (t, &[g0, ng, k]) in b.tk_meta.iter().enumerate() {
        if g0 < 0 || ng < 0 || k < 0 || (g0 + ng) as usize > out.tk_groups || k as usize > out.tk_kmax {
            return Err(format!("top-k query {t}: groups {g0}..{} and k {k} outside the heaps ({} groups of {})", g0 + ng, out.tk_groups, out.tk_kmax));
        }
    }
    if b.n == 0 {
        return Ok(());
    }
    // the heaps' empty marker inside the loop (see ROW_EMPTY)
    for (v, r) in out.tk_val.iter_mut().zip(out.tk_row.iter_mut()) {
        if *r == -1 {
            *r = ROW_EMPTY;
            *v = f64::NEG_INFINITY;
        }
    }
    let shared = Shared {
        out_f: out.out_f.as_mut_ptr(), out_seg: out.out_seg.as_mut_ptr(), acc: out.acc.as_mut_ptr(),
        masks: out.masks.as_mut_ptr(), tk_val: out.tk_val.as_mut_ptr(), tk_row: out.tk_row.as_mut_ptr(),
    };
    let ctx = Ctx { b, code: &code, shared, n_scores: out.n_scores, n_segs: out.n_segs, acc_w, heap, kmax: out.tk_kmax, n_chunks, nblocks, level, sink };
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, nblocks);
    let work = || {
        let mut regs = Regs::new(&ctx);
        loop {
            let blk = next.fetch_add(1, Ordering::Relaxed);
            if blk >= nblocks {
                break;
            }
            // SAFETY: block `blk` is taken by one thread only; see Shared.
            unsafe { ctx.block(blk, &mut regs) };
        }
    };
    if !on_threads(threads, &work) {
        return Err("a native executor thread panicked".into());
    }
    for (v, r) in out.tk_val.iter_mut().zip(out.tk_row.iter_mut()) {
        if *r == ROW_EMPTY {
            *r = -1;
            *v = NAN;
        }
    }
    Ok(())
}

/// Run `work` on `threads` threads, this one included (one: just here); false when a spawned
/// thread panicked (a panic here unwinds as usual).
pub fn on_threads(threads: usize, work: &(dyn Fn() + Sync)) -> bool {
    if threads <= 1 {
        work();
        return true;
    }
    let panicked = Mutex::new(false);
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
                    *panicked.lock().unwrap() = true;
                }
            });
        }
        work();
    });
    !panicked.into_inner().unwrap_or(true)
}

struct Ctx<'a> {
    b: &'a Batch<'a>,
    code: &'a [Insn],
    shared: Shared,
    n_scores: usize,
    n_segs: usize,
    acc_w: usize,
    heap: usize,
    kmax: usize,
    n_chunks: usize,
    nblocks: usize,
    level: Level,
    sink: Option<&'a dyn ChunkSink>,
}

/// One thread's registers and scratch rows, chunk wide, reused for every block it runs.
struct Regs {
    w: usize,
    f: Vec<f64>,
    i: Vec<i64>,
    v: Vec<u8>,
    b: Vec<u8>,
    tmp: Vec<u8>,
    tmpf: Vec<f64>,
    tmpi: Vec<i64>,
    true_b: Vec<u8>,
    /// Scores when not materialising: [n_scores, w].
    of: Vec<f64>,
    /// Segment codes of the chunk: [n_segs, w].
    og: Vec<i32>,
}

impl Regs {
    fn new(ctx: &Ctx) -> Regs {
        let w = ctx.b.chunk.min(ctx.b.n).max(1);
        let [nf, ni, nb] = ctx.b.n_regs;
        Regs {
            w, f: vec![0.0; nf * w], i: vec![0; ni * w], v: vec![0; ni * w], b: vec![0; nb * w],
            tmp: vec![0; w], tmpf: vec![0.0; w], tmpi: vec![0; w], true_b: vec![2; w],
            of: if ctx.b.materialize { Vec::new() } else { vec![0.0; ctx.n_scores * w] },
            og: vec![0; ctx.n_segs * w],
        }
    }
}

/// The CPU levels the interpreter loop is compiled for (x86-64 v4: AVX-512, v3: AVX2 + FMA,
/// else the baseline), picked at run time. Results are the same bits at every level: the
/// loops are element-wise, FMA is exact either way, and libm is called for ln/exp/pow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    Base,
    #[cfg(target_arch = "x86_64")]
    V3,
    #[cfg(target_arch = "x86_64")]
    V4,
}

fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let v3 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("bmi2") && is_x86_feature_detected!("lzcnt");
        if v3 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq") && is_x86_feature_detected!("avx512vl") {
            return Level::V4;
        }
        if v3 {
            return Level::V3;
        }
    }
    Level::Base
}

impl Ctx<'_> {
    /// Run the chunks of block `blk` with the loop compiled for this CPU. Safety: no other
    /// thread runs the same block.
    unsafe fn block(&self, blk: usize, r: &mut Regs) {
        match self.level {
            Level::Base => self.block_at(blk, r),
            #[cfg(target_arch = "x86_64")]
            Level::V3 => self.block_v3(blk, r),
            #[cfg(target_arch = "x86_64")]
            Level::V4 => self.block_v4(blk, r),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt,f16c,movbe")]
    unsafe fn block_v3(&self, blk: usize, r: &mut Regs) {
        self.block_at(blk, r)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512cd,avx2,fma,bmi1,bmi2,lzcnt,popcnt,f16c,movbe")]
    unsafe fn block_v4(&self, blk: usize, r: &mut Regs) {
        self.block_at(blk, r)
    }

    #[inline(always)]
    unsafe fn block_at(&self, blk: usize, r: &mut Regs) {
        let b = self.b;
        let c0 = blk * self.n_chunks / self.nblocks;
        let c1 = (blk + 1) * self.n_chunks / self.nblocks;
        let s = self.shared;
        let qacc = std::slice::from_raw_parts_mut(s.acc.add(blk * self.acc_w), self.acc_w);
        let (hv, hr) = if self.heap > 0 {
            (std::slice::from_raw_parts_mut(s.tk_val.add(blk * self.heap), self.heap),
             std::slice::from_raw_parts_mut(s.tk_row.add(blk * self.heap), self.heap))
        } else {
            (&mut [][..], &mut [][..])
        };
        let w = r.w;
        let (pf, pi, pv, pb) = (r.f.as_mut_ptr(), r.i.as_mut_ptr(), r.v.as_mut_ptr(), r.b.as_mut_ptr());
        let (tmp, tmpf, tmpi, true_b) = (r.tmp.as_mut_ptr(), r.tmpf.as_mut_ptr(), r.tmpi.as_mut_ptr(), r.true_b.as_ptr());
        let og = r.og.as_mut_ptr();
        // score rows: the output (stride n, at the chunk's start) or the chunk scratch
        let (of, of_stride) = if b.materialize { (s.out_f, b.n) } else { (r.of.as_mut_ptr(), w) };
        let rf = |k: i64| pf.add(k as usize * w);
        let ri = |k: i64| pi.add(k as usize * w);
        let rv = |k: i64| pv.add(k as usize * w);
        let rb = |k: i64| pb.add(k as usize * w);
        let sg = |k: i64| og.add(k as usize * w);
        let cond = |k: i64| if k >= 0 { rb(k) as *const u8 } else { true_b };
        let kf = |k: i64| b.consts_f[k as usize];
        let table = |t: i64| b.lut_off[t as usize] as usize..b.lut_off[t as usize + 1] as usize;
        for c in c0..c1 {
            let start = c * b.chunk;
            let m = b.chunk.min(b.n - start);
            let o = if b.materialize { start } else { 0 };
            let so = |k: i64| of.add(k as usize * of_stride + o);
            ops::fill(og, self.n_segs * w, -1); // SEG_SET assigns rows still -1
            let row0 = b.row_base + start as i64;
            for insn in self.code {
                let [a0, a1, a2, a3, a4] = insn.a;
                match insn.op {
                    Op::Nop => {}
                    Op::LoadF | Op::LoadI | Op::LoadB | Op::LoadDays | Op::IsNullCol | Op::LookupF
                    | Op::LookupB | Op::LookupI | Op::LookupRuleK | Op::LoadUs => {
                        let col = &b.columns[a1 as usize];
                        let (data, p) = (col.data.as_ptr(), col.ptype);
                        let base = col.offset + start;
                        let has_valid = !col.valid.is_empty();
                        // the column's validity bytes: the LOAD_I validity register, else tmp
                        let ok = if matches!(insn.op, Op::LoadI | Op::LoadUs) { rv(a0) } else { tmp };
                        if has_valid {
                            ops::bits(ok, col.valid.as_ptr(), base, m);
                        }
                        // integer types widened to int64 first (validity 1 without a bitmap)
                        let widen = match insn.op {
                            Op::LoadB => pt::is_int(p),
                            Op::LookupF | Op::LookupB | Op::LookupI | Op::LookupRuleK => pt::wide_codes(p),
                            _ => false,
                        };
                        if widen {
                            ops::load_i(tmpi, ok, data, p, has_valid, base, m);
                        }
                        match insn.op {
                            Op::LoadF => ops::load_f(rf(a0), data, p, has_valid, ok, base, m),
                            Op::LoadI => ops::load_i(ri(a0), ok, data, p, has_valid, base, m),
                            Op::LoadB => ops::load_b(rb(a0), data, p, has_valid, ok, base, m, tmpi),
                            Op::LoadDays => ops::load_days(rf(a0), data, p, has_valid, ok, base, m, b.as_of),
                            Op::LoadUs => ops::load_us(ri(a0), ok, data, p, has_valid, base, m),
                            Op::IsNullCol => ops::is_null_col(rb(a0), data, p, has_valid, ok, base, m),
                            Op::LookupB => ops::lookup(rb(a0), data, p, has_valid, ok, base, m, &b.lut_b[table(a2)], tmpi),
                            Op::LookupF => ops::lookup(rf(a0), data, p, has_valid, ok, base, m, &b.lut_f[table(a2)], tmpi),
                            Op::LookupI => {
                                ops::lookup(tmpf, data, p, has_valid, ok, base, m, &b.lut_f[table(a2)], tmpi);
                                let (d, dv) = (ri(a0), rv(a0));
                                for i in 0..m {
                                    let x = *tmpf.add(i);
                                    let valid = !x.is_nan();
                                    *d.add(i) = if valid { x as i64 } else { 0 };
                                    *dv.add(i) = valid as u8;
                                }
                            }
                            _ => {
                                // LOOKUP_RULE_K; a NULL constant adds nothing, as in RULE_K
                                let k = kf(a3);
                                if !k.is_nan() {
                                    if !has_valid {
                                        ops::fill(ok, m, 1);
                                    }
                                    let points = if a4 > 0 { &b.lut_f[table(a4 - 1)] } else { &[][..] };
                                    ops::lookup_rule_k(rf(a0), data, p, ok, base, m, &b.lut_b[table(a2)], points, k, tmpi);
                                }
                            }
                        }
                    }
                    Op::LoadScore => {
                        let (d, src) = (rf(a0), so(a1));
                        for i in 0..m {
                            *d.add(i) = *src.add(i);
                        }
                    }
                    Op::LoadSeg => {
                        let (d, dv, src) = (ri(a0), rv(a0), sg(a1));
                        for i in 0..m {
                            let x = *src.add(i);
                            *d.add(i) = x as i64;
                            *dv.add(i) = (x >= 0) as u8;
                        }
                    }
                    Op::ConstF => ops::fill(rf(a0), m, kf(a1)),
                    Op::ConstI => {
                        ops::fill(ri(a0), m, b.consts_i[a1 as usize]);
                        ops::fill(rv(a0), m, (a2 != 0) as u8);
                    }
                    Op::ConstB => ops::fill(rb(a0), m, a1 as u8),
                    Op::IToF => {
                        let (d, a, va) = (rf(a0), ri(a1), rv(a1));
                        for i in 0..m {
                            *d.add(i) = if *va.add(i) != 0 { *a.add(i) as f64 } else { NAN };
                        }
                    }
                    Op::ArithF => ops::arith_f(rf(a0), Row(rf(a1)), Row(rf(a2)), a3, m),
                    Op::ArithFK => ops::arith_f(rf(a0), Row(rf(a1)), kf(a2), a3, m),
                    Op::ArithKF => ops::arith_f(rf(a0), kf(a1), Row(rf(a2)), a3, m),
                    Op::ArithI => ops::arith_i(ri(a0), rv(a0), ri(a1), rv(a1), Row(ri(a2) as *const i64), Row(rv(a2) as *const u8), a3, m),
                    Op::ArithIK if a3 == 2 => ops::mul_k(ri(a0), rv(a0), ri(a1), rv(a1), b.consts_i[a2 as usize], m),
                    Op::ArithIK => ops::arith_i(ri(a0), rv(a0), ri(a1), rv(a1), b.consts_i[a2 as usize], 1u8, a3, m),
                    Op::MathF => ops::math_f(rf(a0), rf(a1), a2, m),
                    Op::RoundF => ops::round_f(rf(a0), rf(a1), kf(a2), a3 != 0, m),
                    Op::FToI => ops::f2i(ri(a0), rv(a0), rf(a1), m),
                    Op::NegI | Op::AbsI => {
                        // INT64_MIN overflows: NULL (the value wraps, as kernel.py's)
                        let (d, dv, a, va) = (ri(a0), rv(a0), ri(a1), rv(a1));
                        let neg = insn.op == Op::NegI;
                        for i in 0..m {
                            let x = *a.add(i);
                            *d.add(i) = if neg { x.wrapping_neg() } else { x.wrapping_abs() };
                            *dv.add(i) = *va.add(i) & (x != i64::MIN) as u8;
                        }
                    }
                    Op::CmpF => ops::cmp_f(rb(a0), rf(a1), Row(rf(a2) as *const f64), a3, m),
                    Op::CmpFK => {
                        let k = kf(a2);
                        if k.is_nan() {
                            ops::fill(rb(a0), m, 1);
                        } else {
                            ops::cmp_f(rb(a0), rf(a1), k, a3, m);
                        }
                    }
                    Op::CmpI => ops::cmp_i(rb(a0), ri(a1), rv(a1), Row(ri(a2) as *const i64), Row(rv(a2) as *const u8), a3, m),
                    Op::CmpIK => ops::cmp_i(rb(a0), ri(a1), rv(a1), b.consts_i[a2 as usize], 1u8, a3, m),
                    Op::And | Op::Or => {
                        let (d, x, y) = (rb(a0), rb(a1), rb(a2));
                        let and = insn.op == Op::And;
                        for i in 0..m {
                            let (p, q) = (*x.add(i), *y.add(i));
                            *d.add(i) = if and { p.min(q) } else { p.max(q) };
                        }
                    }
                    Op::Not => {
                        let (d, x) = (rb(a0), rb(a1));
                        for i in 0..m {
                            *d.add(i) = 2 - *x.add(i);
                        }
                    }
                    Op::IsNullF => {
                        let (d, x) = (rb(a0), rf(a1));
                        for i in 0..m {
                            *d.add(i) = if (*x.add(i)).is_nan() { 2 } else { 0 };
                        }
                    }
                    Op::IsNullI => {
                        let (d, v) = (rb(a0), rv(a1));
                        for i in 0..m {
                            *d.add(i) = (1 - *v.add(i)) << 1;
                        }
                    }
                    Op::IsNullB => {
                        let (d, x) = (rb(a0), rb(a1));
                        for i in 0..m {
                            *d.add(i) = if *x.add(i) == 1 { 2 } else { 0 };
                        }
                    }
                    Op::SelectF => {
                        let (d, c, x, y) = (rf(a0), rb(a1), rf(a2), rf(a3));
                        for i in 0..m {
                            *d.add(i) = if *c.add(i) == 2 { *x.add(i) } else { *y.add(i) };
                        }
                    }
                    Op::SelectI => {
                        let (d, dv, c, x, vx, y, vy) = (ri(a0), rv(a0), rb(a1), ri(a2), rv(a2), ri(a3), rv(a3));
                        for i in 0..m {
                            let t = *c.add(i) == 2;
                            *d.add(i) = if t { *x.add(i) } else { *y.add(i) };
                            *dv.add(i) = if t { *vx.add(i) } else { *vy.add(i) };
                        }
                    }
                    Op::SelectB => {
                        let (d, c, x, y) = (rb(a0), rb(a1), rb(a2), rb(a3));
                        for i in 0..m {
                            *d.add(i) = if *c.add(i) == 2 { *x.add(i) } else { *y.add(i) };
                        }
                    }
                    Op::MinMaxF => ops::minmax_f(rf(a0), rf(a1), rf(a2), a3 != 0, m),
                    Op::MinMaxI => ops::minmax_i(ri(a0), rv(a0), ri(a1), rv(a1), ri(a2), rv(a2), a3 != 0, m),
                    Op::CoalesceF => {
                        let (d, x, y) = (rf(a0), rf(a1), rf(a2));
                        for i in 0..m {
                            let v = *x.add(i);
                            *d.add(i) = if !v.is_nan() { v } else { *y.add(i) };
                        }
                    }
                    Op::CoalesceI => {
                        let (d, dv, x, vx, y, vy) = (ri(a0), rv(a0), ri(a1), rv(a1), ri(a2), rv(a2));
                        for i in 0..m {
                            let p = *vx.add(i);
                            *d.add(i) = if p != 0 { *x.add(i) } else { *y.add(i) };
                            *dv.add(i) = p | *vy.add(i);
                        }
                    }
                    Op::CoalesceB => {
                        let (d, x, y) = (rb(a0), rb(a1), rb(a2));
                        for i in 0..m {
                            let v = *x.add(i);
                            *d.add(i) = if v != 1 { v } else { *y.add(i) };
                        }
                    }
                    Op::Decay => ops::decay(rf(a0), rf(a1), rf(a2), rf(a3), m),
                    Op::ZeroF => ops::fill(rf(a0), m, 0.0),
                    Op::Rule => {
                        let (acc, p, c) = (rf(a0), rf(a2), cond(a1));
                        let lo = if a3 >= 0 { kf(a3) } else { f64::NEG_INFINITY };
                        let hi = if a4 >= 0 { kf(a4) } else { f64::INFINITY };
                        // a NULL floor/cap is skipped, like least/greatest
                        let lo = if lo.is_nan() { f64::NEG_INFINITY } else { lo };
                        let hi = if hi.is_nan() { f64::INFINITY } else { hi };
                        for i in 0..m {
                            let x = *p.add(i);
                            let v = if x > lo { x } else { lo };
                            let v = if v < hi { v } else { hi };
                            *acc.add(i) += if !x.is_nan() & (*c.add(i) == 2) { v } else { 0.0 };
                        }
                    }
                    Op::RuleK => {
                        let k = kf(a2);
                        if !k.is_nan() {
                            let (acc, c) = (rf(a0), cond(a1));
                            for i in 0..m {
                                *acc.add(i) += if *c.add(i) == 2 { k } else { 0.0 };
                            }
                        }
                    }
                    Op::ClampF => {
                        let acc = rf(a0);
                        let (lo, hi) = (kf(a1), kf(a2));
                        let lo = if lo.is_nan() { f64::NEG_INFINITY } else { lo };
                        let hi = if hi.is_nan() { f64::INFINITY } else { hi };
                        for i in 0..m {
                            let x = *acc.add(i);
                            let x = if x < lo { lo } else { x };
                            *acc.add(i) = if x > hi { hi } else { x };
                        }
                    }
                    Op::StoreScore => {
                        let (dst, a) = (so(a0), rf(a1));
                        if a2 == 2 {
                            // the register's NULLs become 0 too (later references read it)
                            for i in 0..m {
                                let x = *a.add(i);
                                let x = if x.is_nan() { 0.0 } else { x };
                                *dst.add(i) = x;
                                *a.add(i) = x;
                            }
                        } else if a2 != 0 {
                            for i in 0..m {
                                let x = *a.add(i);
                                *dst.add(i) = if x.is_nan() { 0.0 } else { x };
                            }
                        } else {
                            let mut nulls = 0i64;
                            for i in 0..m {
                                let x = *a.add(i);
                                *dst.add(i) = x;
                                nulls += x.is_nan() as i64;
                            }
                            qacc[self.acc_w - self.n_scores - self.n_segs + a0 as usize] += nulls;
                        }
                    }
                    Op::SegSet => {
                        let (g, c, lab) = (sg(a0), cond(a1), a2 as i32);
                        for i in 0..m {
                            let x = *g.add(i);
                            *g.add(i) = if (x == -1) & (*c.add(i) == 2) { lab } else { x };
                        }
                    }
                    Op::SegMatrix => {
                        let (g, x, y, nb) = (sg(a0), sg(a1), sg(a2), a3 as i32);
                        for i in 0..m {
                            let (p, q) = (*x.add(i), *y.add(i));
                            *g.add(i) = if (p >= 0) & (q >= 0) { p.wrapping_mul(nb).wrapping_add(q) } else { -1 };
                        }
                    }
                    Op::CountIf => {
                        let c = rb(a1);
                        let mut cnt = 0i64;
                        for i in 0..m {
                            cnt += (*c.add(i) == 2) as i64;
                        }
                        qacc[a0 as usize] += cnt;
                    }
                    Op::StoreMask => {
                        let (mk, c) = (s.masks.add(a0 as usize * b.n + start), rb(a1));
                        for i in 0..m {
                            *mk.add(i) = (*c.add(i) == 2) as u8;
                        }
                    }
                    Op::Hist => ops::hist(qacc, a0 as usize, rf(a1), &b.consts_f[a2 as usize..(a2 + a3) as usize], m),
                    Op::TopK => {
                        let [g0, ng, k] = b.tk_meta[a0 as usize];
                        let (g0, ng) = (g0 as usize * self.kmax, ng as usize);
                        let grp = if a2 >= 0 { Some((ri(a2) as *const i64, rv(a2) as *const u8)) } else { None };
                        ops::topk(&mut hv[g0..], &mut hr[g0..], self.kmax, k as usize, ng, rf(a1), grp, row0, m);
                    }
                }
            }
            if b.materialize {
                // copy the codes out, counting NULLs while they are in cache
                let g0 = self.acc_w - self.n_segs;
                for g in 0..self.n_segs {
                    let (src, dst) = (og.add(g * w), s.out_seg.add(g * b.n + start));
                    let mut nulls = 0i64;
                    for i in 0..m {
                        let x = *src.add(i);
                        *dst.add(i) = x;
                        nulls += (x < 0) as i64;
                    }
                    qacc[g0 + g] += nulls;
                }
            }
            if let Some(sink) = self.sink {
                let rows = ChunkRows { of: of.add(o), of_stride, og, w, m };
                sink.chunk(blk, c0 * b.chunk, start, &rows);
            }
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcodes::INSN_WIDTH;

    fn code(insns: &[&[i64]]) -> Vec<i64> {
        insns.iter().flat_map(|i| { let mut w = i.to_vec(); w.resize(INSN_WIDTH, 0); w }).collect()
    }

    /// score = x (NULL where x is NaN), count of x > 2, top-2 of x; 10 rows in 3-row chunks,
    /// 2 blocks on 2 threads.
    #[test]
    fn runs_blocks_on_threads_with_query_state() {
        let x: Vec<f64> = vec![1.0, f64::NAN, 5.0, 3.0, 0.5, 9.0, f64::NAN, 2.5, 7.0, 4.0];
        let data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let columns = [Column { data: &data, valid: &[], offset: 0, ptype: pt::F64 }];
        let c = code(&[
            &[Op::LoadF as i64, 0, 0], &[Op::CmpFK as i64, 0, 0, 0, 4], &[Op::CountIf as i64, 0, 0],
            &[Op::StoreScore as i64, 0, 0, 0], &[Op::TopK as i64, 0, 0, -1],
        ]);
        let (n, nblocks) = (x.len(), 2);
        let batch = Batch {
            code: &c, consts_f: &[2.0], consts_i: &[], n_regs: [1, 0, 1], columns: &columns,
            lut_f: &[], lut_b: &[], lut_off: &[0], as_of: 0, n, chunk: 3, materialize: true,
            row_base: 100, tk_meta: &[[0, 1, 2]],
        };
        let (mut out_f, mut acc) = (vec![0.0; n], vec![0i64; nblocks * 2]);
        let (mut tk_val, mut tk_row) = (vec![f64::NAN; nblocks * 2], vec![-1i64; nblocks * 2]);
        let outs = Outputs {
            out_f: &mut out_f, n_scores: 1, out_seg: &mut [], n_segs: 0, acc: &mut acc, n_slots: 1,
            masks: &mut [], n_masks: 0, tk_val: &mut tk_val, tk_row: &mut tk_row, tk_groups: 1, tk_kmax: 2,
        };
        run(&batch, outs, nblocks, 2).unwrap();
        assert_eq!(out_f.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), x.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        // block 0 = chunks 0..2 (rows 0..6), block 1 = chunks 2..4 (rows 6..10)
        assert_eq!(acc, vec![3, 1, 3, 1]); // [count, NULL scores] per block
        let mut best: Vec<(i64, f64)> = tk_row.iter().copied().zip(tk_val.iter().copied()).collect();
        best.sort_by_key(|&(r, _)| r);
        assert_eq!(best, vec![(102, 5.0), (105, 9.0), (108, 7.0), (109, 4.0)]);
    }

    /// Every CPU level this machine has gives the baseline's bits (decay's polynomial in FMAs,
    /// libm's ln/exp, division, fmod, float-to-int) on awkward values.
    #[test]
    fn every_cpu_level_gives_the_same_bits() {
        let n = 1000;
        let x: Vec<f64> = (0..n).map(|i| match i % 7 {
            0 => f64::NAN, 1 => -0.0, 2 => (i as f64) * 1e-3, 3 => -(i as f64) * 37.5, 4 => 1e300,
            5 => (i as f64).sqrt() * 3.3, _ => 1.0 / (i as f64),
        }).collect();
        let data: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let columns = [Column { data: &data, valid: &[], offset: 0, ptype: pt::F64 }];
        let c = code(&[
            &[Op::LoadF as i64, 0, 0], &[Op::ConstF as i64, 1, 0], &[Op::MathF as i64, 2, 0, 1],
            &[Op::Decay as i64, 3, 1, 2, 0], &[Op::MathF as i64, 4, 0, 2], &[Op::MathF as i64, 5, 0, 3],
            &[Op::ArithF as i64, 6, 4, 0, 4], &[Op::ArithFK as i64, 6, 6, 1, 3], &[Op::MinMaxF as i64, 6, 6, 5, 1],
            &[Op::StoreScore as i64, 0, 3, 0], &[Op::StoreScore as i64, 1, 6, 0], &[Op::StoreScore as i64, 2, 5, 0],
        ]);
        let batch = Batch {
            code: &c, consts_f: &[12.5, 0.3], consts_i: &[], n_regs: [7, 0, 0], columns: &columns, lut_f: &[],
            lut_b: &[], lut_off: &[0], as_of: 0, n, chunk: 256, materialize: true, row_base: 0, tk_meta: &[],
        };
        let at = |level: Level| {
            let (mut out_f, mut acc) = (vec![0.0; 3 * n], vec![0i64; 3]);
            let outs = Outputs {
                out_f: &mut out_f, n_scores: 3, out_seg: &mut [], n_segs: 0, acc: &mut acc, n_slots: 0,
                masks: &mut [], n_masks: 0, tk_val: &mut [], tk_row: &mut [], tk_groups: 0, tk_kmax: 0,
            };
            run_at(&batch, outs, 1, 1, level, None).unwrap();
            (out_f.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), acc)
        };
        let base = at(Level::Base);
        #[cfg(target_arch = "x86_64")]
        for lv in [Level::V3, Level::V4] {
            if lv == Level::V4 && level_is_v4() || lv == Level::V3 && level() != Level::Base {
                assert_eq!(at(lv), base, "{lv:?}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn level_is_v4() -> bool {
        level() == Level::V4
    }

    #[test]
    fn refuses_a_batch_that_does_not_fit() {
        let data = [0u8; 8];
        let columns = [Column { data: &data, valid: &[], offset: 0, ptype: pt::F64 }];
        let c = code(&[&[Op::LoadF as i64, 0, 0]]);
        let batch = Batch {
            code: &c, consts_f: &[], consts_i: &[], n_regs: [1, 0, 0], columns: &columns, lut_f: &[],
            lut_b: &[], lut_off: &[0], as_of: 0, n: 2, chunk: 8, materialize: true, row_base: 0, tk_meta: &[],
        };
        let outs = Outputs {
            out_f: &mut [], n_scores: 0, out_seg: &mut [], n_segs: 0, acc: &mut [0], n_slots: 1,
            masks: &mut [], n_masks: 0, tk_val: &mut [], tk_row: &mut [], tk_groups: 0, tk_kmax: 0,
        };
        let err = run(&batch, outs, 1, 1).unwrap_err();
        assert!(err.contains("data buffer of 8 bytes"), "{err}");
    }
}
