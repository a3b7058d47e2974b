//! The per-opcode loops over one chunk of `m` rows: each a transcription of its helper in
//! `vm/kernel.py`, the same operations in the same order (so the same bits), with the sub-op
//! branched on outside the row loop. Registers are raw row pointers: an instruction may write
//! the register it reads, element by element, as the numba kernel's arrays may alias.
//!
//! Every loop is `#[inline(always)]` into the interpreter loop of `run.rs`, which is compiled
//! once per CPU level (see `run::Level`) so that they vectorise for the host's vector width.
//!
//! Safety: every pointer covers `m` elements (the caller's registers are chunk wide) and every
//! column read `base + m` elements (checked against the buffers before a batch runs).

// The loops take the numba helpers' arguments, one by one, so that each reads like its original.
#![allow(clippy::too_many_arguments, clippy::manual_range_contains)]

use super::ptype as pt;

pub const NAN: f64 = f64::NAN;
pub const US_PER_DAY: f64 = 86_400_000_000.0;

/// A source operand: a register row, or a constant broadcast over the chunk.
pub trait Src<T>: Copy {
    fn at(self, i: usize) -> T;
}

#[derive(Clone, Copy)]
pub struct Row<T>(pub *const T);

impl<T: Copy> Src<T> for Row<T> {
    #[inline(always)]
    fn at(self, i: usize) -> T {
        unsafe { *self.0.add(i) }
    }
}

macro_rules! scalar_src {
    ($($t:ty),*) => { $(impl Src<$t> for $t { #[inline(always)] fn at(self, _: usize) -> $t { self } })* };
}
scalar_src!(f64, i64, u8);

#[inline(always)]
unsafe fn rd<T: Copy>(data: *const u8, i: usize) -> T {
    data.cast::<T>().add(i).read_unaligned()
}

#[inline(always)]
unsafe fn bit(bm: *const u8, j: usize) -> u8 {
    (*bm.add(j >> 3) >> (j & 7)) & 1
}

#[inline(always)]
pub unsafe fn fill<T: Copy>(dst: *mut T, m: usize, v: T) {
    for i in 0..m {
        *dst.add(i) = v;
    }
}

/// Each bitmap byte → the 8 bytes (0 or `one`, low bit first) it expands to.
const fn byte_table(one: u64) -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            t[b] |= (((b >> j) & 1) as u64 * one) << (8 * j);
            j += 1;
        }
        b += 1;
    }
    t
}

static BYTE_TO_01: [u64; 256] = byte_table(1);
static BYTE_TO_02: [u64; 256] = byte_table(2);

/// dst[r] = `one` if bit base+r of an Arrow bitmap is set, else 0; byte-aligned runs expand 8
/// rows per table load.
#[inline(always)]
unsafe fn expand(dst: *mut u8, bm: *const u8, base: usize, m: usize, table: &[u64; 256], one: u8) {
    let mut i = 0;
    if base & 7 == 0 {
        let b0 = base >> 3;
        for k in 0..m >> 3 {
            dst.add(8 * k).cast::<u64>().write_unaligned(table[*bm.add(b0 + k) as usize]);
        }
        i = m & !7;
    }
    for r in i..m {
        *dst.add(r) = bit(bm, base + r) * one;
    }
}

/// dst[r] = bit base+r of an Arrow bitmap, as 0/1 bytes.
#[inline(always)]
pub unsafe fn bits(dst: *mut u8, bm: *const u8, base: usize, m: usize) {
    expand(dst, bm, base, m, &BYTE_TO_01, 1);
}

#[inline(always)]
unsafe fn conv<T: Copy, D>(dst: *mut D, data: *const u8, base: usize, m: usize, f: impl Fn(T) -> D) {
    for i in 0..m {
        *dst.add(i) = f(rd::<T>(data, base + i));
    }
}

unsafe fn mask_f(dst: *mut f64, ok: *const u8, m: usize) {
    for i in 0..m {
        *dst.add(i) = if *ok.add(i) != 0 { *dst.add(i) } else { NAN };
    }
}

unsafe fn mask_b(dst: *mut u8, ok: *const u8, m: usize) {
    for i in 0..m {
        *dst.add(i) = if *ok.add(i) != 0 { *dst.add(i) } else { 1 };
    }
}

/// LOAD_F: any numeric column as float64 (`kernel.load_f`).
#[inline(always)]
pub unsafe fn load_f(dst: *mut f64, data: *const u8, ptype: i64, has_valid: bool, ok: *const u8, base: usize, m: usize) {
    match ptype {
        pt::F64 => conv(dst, data, base, m, |x: f64| x),
        pt::F32 => conv(dst, data, base, m, |x: f32| x as f64),
        pt::I64 | pt::TS_S | pt::TS_MS | pt::TS_US | pt::TS_NS | pt::DATE64 => conv(dst, data, base, m, |x: i64| x as f64),
        pt::I32 | pt::DATE32 => conv(dst, data, base, m, |x: i32| x as f64),
        pt::I16 => conv(dst, data, base, m, |x: i16| x as f64),
        pt::I8 => conv(dst, data, base, m, |x: i8| x as f64),
        pt::U8 => conv(dst, data, base, m, |x: u8| x as f64),
        pt::U16 => conv(dst, data, base, m, |x: u16| x as f64),
        pt::U32 => conv(dst, data, base, m, |x: u32| x as f64),
        pt::U64 => conv(dst, data, base, m, |x: u64| x as f64),
        pt::BOOL => {
            for i in 0..m {
                *dst.add(i) = bit(data, base + i) as f64;
            }
        }
        _ => return fill(dst, m, NAN),
    }
    if has_valid {
        mask_f(dst, ok, m);
    }
}

/// LOAD_I (and the widening of other reads): `dv` holds the expanded validity when
/// `has_valid`, else is set to 1 (`kernel.load_i`).
#[inline(always)]
pub unsafe fn load_i(dst: *mut i64, dv: *mut u8, data: *const u8, ptype: i64, has_valid: bool, base: usize, m: usize) {
    if ptype == pt::NULL {
        fill(dv, m, 0);
        return fill(dst, m, 0);
    }
    if !has_valid {
        fill(dv, m, 1);
    }
    match ptype {
        pt::I64 | pt::TS_S | pt::TS_MS | pt::TS_US | pt::TS_NS | pt::DATE64 | pt::U64 => conv(dst, data, base, m, |x: i64| x),
        pt::I32 | pt::DATE32 => conv(dst, data, base, m, |x: i32| x as i64),
        pt::I16 => conv(dst, data, base, m, |x: i16| x as i64),
        pt::I8 => conv(dst, data, base, m, |x: i8| x as i64),
        pt::U8 => conv(dst, data, base, m, |x: u8| x as i64),
        pt::U16 => conv(dst, data, base, m, |x: u16| x as i64),
        pt::U32 => conv(dst, data, base, m, |x: u32| x as i64),
        _ => {
            fill(dv, m, 0);
            fill(dst, m, 0);
        }
    }
}

#[inline(always)]
fn tri_of_f(x: f64) -> u8 {
    if x.is_nan() { 1 } else if x != 0.0 { 2 } else { 0 }
}

/// LOAD_B: booleans as 0/2, numbers as tri-state; integer types come widened in `tmpi`.
#[inline(always)]
pub unsafe fn load_b(dst: *mut u8, data: *const u8, ptype: i64, has_valid: bool, ok: *const u8, base: usize, m: usize, tmpi: *const i64) {
    match ptype {
        pt::BOOL => expand(dst, data, base, m, &BYTE_TO_02, 2), // 0 FALSE / 2 TRUE
        pt::F64 => conv(dst, data, base, m, |x: f64| tri_of_f(x)),
        pt::F32 => conv(dst, data, base, m, |x: f32| tri_of_f(x as f64)),
        p if pt::is_int(p) => {
            for i in 0..m {
                *dst.add(i) = if *tmpi.add(i) != 0 { 2 } else { 0 };
            }
        }
        _ => return fill(dst, m, 1),
    }
    if has_valid {
        mask_b(dst, ok, m);
    }
}

/// LOAD_DAYS: (as_of - t) in whole microseconds, one float division (`kernel.load_days`).
#[inline(always)]
pub unsafe fn load_days(dst: *mut f64, data: *const u8, ptype: i64, has_valid: bool, ok: *const u8, base: usize, m: usize, as_of: i64) {
    let days = |mult: i64| move |x: i64| as_of.wrapping_sub(x.wrapping_mul(mult)) as f64 / US_PER_DAY;
    match ptype {
        pt::TS_US => conv(dst, data, base, m, days(1)),
        // ns → µs by floor division (-1500 ns is -2 µs), as the SQL translation does
        pt::TS_NS => conv(dst, data, base, m, |x: i64| as_of.wrapping_sub(x.div_euclid(1000)) as f64 / US_PER_DAY),
        pt::TS_MS | pt::DATE64 => conv(dst, data, base, m, days(1000)),
        pt::TS_S => conv(dst, data, base, m, days(1_000_000)),
        pt::DATE32 => {
            let f = days(86_400_000_000);
            conv(dst, data, base, m, |x: i32| f(x as i64))
        }
        _ => return fill(dst, m, NAN),
    }
    if has_valid {
        mask_f(dst, ok, m);
    }
}

/// IS_NULL_COL: the validity, plus NaN in float columns.
#[inline(always)]
pub unsafe fn is_null_col(dst: *mut u8, data: *const u8, ptype: i64, has_valid: bool, ok: *const u8, base: usize, m: usize) {
    if ptype == pt::NULL {
        return fill(dst, m, 2);
    }
    if has_valid {
        for i in 0..m {
            *dst.add(i) = (1 - *ok.add(i)) << 1;
        }
    } else {
        fill(dst, m, 0);
    }
    if ptype == pt::F64 {
        for i in 0..m {
            let x: f64 = rd(data, base + i);
            *dst.add(i) = if x.is_nan() { 2 } else { *dst.add(i) };
        }
    } else if ptype == pt::F32 {
        for i in 0..m {
            let x: f32 = rd(data, base + i);
            *dst.add(i) = if x.is_nan() { 2 } else { *dst.add(i) };
        }
    }
}

/// dst = tab[code], the last (NULL) entry for NULL rows and out-of-range codes: int32/uint32
/// codes read in place, other integer types widened in `tmpi` with validity in `ok`.
#[inline(always)]
pub unsafe fn lookup<T: Copy>(dst: *mut T, data: *const u8, ptype: i64, has_valid: bool, ok: *const u8, base: usize, m: usize, tab: &[T], tmpi: *const i64) {
    let last = tab.len() - 1;
    let t = tab.as_ptr();
    let null = tab[last];
    match ptype {
        pt::I32 | pt::U32 => {
            // one unsigned compare covers both ends: a negative int32 wraps past the table
            let l = last as u32;
            for i in 0..m {
                let c: u32 = rd(data, base + i);
                *dst.add(i) = *t.add(if c < l { c } else { l } as usize);
            }
        }
        p if pt::wide_codes(p) => {
            let l = last as u64;
            for i in 0..m {
                let c = *tmpi.add(i) as u64;
                *dst.add(i) = *t.add(if c < l { c } else { l } as usize);
            }
            for i in 0..m {
                *dst.add(i) = if *ok.add(i) != 0 { *dst.add(i) } else { null };
            }
            return;
        }
        _ => return fill(dst, m, null),
    }
    if has_valid {
        for i in 0..m {
            *dst.add(i) = if *ok.add(i) != 0 { *dst.add(i) } else { null };
        }
    }
}

/// LOOKUP_RULE_K: acc += k where the tri-state table is TRUE at the code, or with a points
/// table (k where TRUE, else 0.0) acc += points[code] (`kernel.lookup_rule_k`). `ok` must
/// hold the validity bytes, all 1 without a bitmap.
#[inline(always)]
pub unsafe fn lookup_rule_k(acc: *mut f64, data: *const u8, ptype: i64, ok: *const u8, base: usize, m: usize, tri: &[u8], points: &[f64], k: f64, tmpi: *const i64) {
    // one loop per (code source, table kind), the branches outside them
    macro_rules! add {
        ($code:expr) => {
            if !points.is_empty() {
                let last = (points.len() - 1) as u32 as u64;
                let p = points.as_ptr();
                for i in 0..m {
                    let c: u64 = $code(i);
                    let c = if (c < last) & (*ok.add(i) != 0) { c } else { last };
                    *acc.add(i) += *p.add(c as usize);
                }
            } else {
                let last = (tri.len() - 1) as u32 as u64;
                let t = tri.as_ptr();
                for i in 0..m {
                    let c: u64 = $code(i);
                    let c = if (c < last) & (*ok.add(i) != 0) { c } else { last };
                    *acc.add(i) += if *t.add(c as usize) == 2 { k } else { 0.0 };
                }
            }
        };
    }
    if ptype == pt::I32 || ptype == pt::U32 {
        add!(|i: usize| rd::<u32>(data, base + i) as u64)
    } else if pt::wide_codes(ptype) {
        add!(|i: usize| *tmpi.add(i) as u64)
    } else {
        add!(|_: usize| u64::MAX) // not a code column (the runner refuses those): the NULL entry
    }
}

/// != >= > are the negations of == < <=: XOR 2 flips a tri-state 0/2 (NULL stays 1).
#[inline(always)]
fn cmp_flip(op: i64) -> u8 {
    if op == 1 || op >= 4 { 2 } else { 0 }
}

#[inline(always)]
pub unsafe fn cmp_f(dst: *mut u8, a: *const f64, b: impl Src<f64>, op: i64, m: usize) {
    let f = cmp_flip(op);
    macro_rules! lp {
        ($t:expr) => {
            for i in 0..m {
                let x = *a.add(i);
                let y = b.at(i);
                *dst.add(i) = if x.is_nan() | y.is_nan() { 1 } else { (if $t(x, y) { 2 } else { 0 }) ^ f };
            }
        };
    }
    if op <= 1 {
        lp!(|x: f64, y: f64| x == y)
    } else if op == 2 || op == 5 {
        lp!(|x: f64, y: f64| x < y)
    } else {
        lp!(|x: f64, y: f64| x <= y)
    }
}

#[inline(always)]
pub unsafe fn cmp_i(dst: *mut u8, a: *const i64, va: *const u8, b: impl Src<i64>, vb: impl Src<u8>, op: i64, m: usize) {
    let f = cmp_flip(op);
    macro_rules! lp {
        ($t:expr) => {
            for i in 0..m {
                *dst.add(i) = if (*va.add(i) & vb.at(i)) != 0 { (if $t(*a.add(i), b.at(i)) { 2 } else { 0 }) ^ f } else { 1 };
            }
        };
    }
    if op <= 1 {
        lp!(|x: i64, y: i64| x == y)
    } else if op == 2 || op == 5 {
        lp!(|x: i64, y: i64| x < y)
    } else {
        lp!(|x: i64, y: i64| x <= y)
    }
}

/// + - * / % pow: / and % by zero give NULL; % truncates (fmod); pow(0, y < 0) is NULL.
#[inline(always)]
pub unsafe fn arith_f(dst: *mut f64, a: impl Src<f64>, b: impl Src<f64>, op: i64, m: usize) {
    match op {
        0 => (0..m).for_each(|i| *dst.add(i) = a.at(i) + b.at(i)),
        1 => (0..m).for_each(|i| *dst.add(i) = a.at(i) - b.at(i)),
        2 => (0..m).for_each(|i| *dst.add(i) = a.at(i) * b.at(i)),
        3 => (0..m).for_each(|i| {
            let y = b.at(i);
            *dst.add(i) = if y != 0.0 { a.at(i) / y } else { NAN }
        }),
        6 => (0..m).for_each(|i| {
            let (x, y) = (a.at(i), b.at(i));
            // pow(1, NaN) and pow(NaN, 0) are 1 in C: a NULL operand stays NULL
            let bad = x.is_nan() | y.is_nan() | ((x == 0.0) & (y < 0.0));
            *dst.add(i) = if bad { NAN } else { x.powf(y) }
        }),
        _ => (0..m).for_each(|i| {
            let y = b.at(i);
            *dst.add(i) = if y != 0.0 { a.at(i) % y } else { NAN }
        }),
    }
}

/// Truncating remainder (the dividend's sign); by 0 or -1 it is 0 (INT64_MIN % -1 traps).
#[inline(always)]
fn trunc_mod(x: i64, y: i64) -> i64 {
    let yy = if (y != 0) & (y != -1) { y } else { 1 };
    x % yy
}

/// int64 + - * and truncating // and %: overflow and // or % by zero give NULL (the value is
/// then the wrapped result, as `kernel.arith_i`).
#[inline(always)]
pub unsafe fn arith_i(dst: *mut i64, dv: *mut u8, a: *const i64, va: *const u8, b: impl Src<i64>, vb: impl Src<u8>, op: i64, m: usize) {
    macro_rules! checked {
        ($f:ident) => {
            (0..m).for_each(|i| {
                let (r, o) = (*a.add(i)).$f(b.at(i));
                *dst.add(i) = r;
                *dv.add(i) = *va.add(i) & vb.at(i) & !o as u8;
            })
        };
    }
    match op {
        0 => checked!(overflowing_add),
        1 => checked!(overflowing_sub),
        2 => checked!(overflowing_mul),
        5 => (0..m).for_each(|i| {
            let (x, y) = (*a.add(i), b.at(i));
            // by 0 the value is x, by -1 it is -x wrapping (INT64_MIN // -1 is NULL)
            *dst.add(i) = if y == -1 { x.wrapping_neg() } else { x / if y != 0 { y } else { 1 } };
            *dv.add(i) = *va.add(i) & vb.at(i) & ((y != 0) & ((y != -1) | (x != i64::MIN))) as u8;
        }),
        _ => (0..m).for_each(|i| {
            let y = b.at(i);
            *dst.add(i) = trunc_mod(*a.add(i), y);
            *dv.add(i) = *va.add(i) & vb.at(i) & (y != 0) as u8;
        }),
    }
}

/// ARITH_IK `*`: x * k for a constant k, NULL outside the range of x whose product fits
/// int64 (bounds found once: two compares a row, as `kernel.mul_k`).
#[inline(always)]
pub unsafe fn mul_k(dst: *mut i64, dv: *mut u8, a: *const i64, va: *const u8, k: i64, m: usize) {
    // floor and ceiling of a / b (b not 0 or -1), from the truncating quotient
    let floor = |a: i64, b: i64| a / b - ((a % b != 0) & ((a % b < 0) != (b < 0))) as i64;
    let ceil = |a: i64, b: i64| a / b + ((a % b != 0) & ((a % b < 0) == (b < 0))) as i64;
    let (lo, hi) = match k {
        0 => (i64::MIN, i64::MAX),
        -1 => (i64::MIN + 1, i64::MAX),
        k if k > 0 => (ceil(i64::MIN, k), floor(i64::MAX, k)),
        // k < -1: x * k <= MAX for x >= ceil(MAX / k), >= MIN for x <= floor(MIN / k)
        k => (ceil(i64::MAX, k), floor(i64::MIN, k)),
    };
    for i in 0..m {
        let x = *a.add(i);
        *dst.add(i) = x.wrapping_mul(k);
        *dv.add(i) = *va.add(i) & ((x >= lo) & (x <= hi)) as u8;
    }
}

/// neg abs ln exp sqrt floor ceil round log10 log2; ln/log10/log2/sqrt outside their domain
/// give NULL (libm's functions, as numba's).
#[inline(always)]
pub unsafe fn math_f(dst: *mut f64, a: *const f64, fn_: i64, m: usize) {
    match fn_ {
        0 => (0..m).for_each(|i| *dst.add(i) = -*a.add(i)),
        1 => (0..m).for_each(|i| *dst.add(i) = (*a.add(i)).abs()),
        2 => (0..m).for_each(|i| {
            let x = *a.add(i);
            *dst.add(i) = if x > 0.0 { x.ln() } else { NAN }
        }),
        3 => (0..m).for_each(|i| *dst.add(i) = (*a.add(i)).exp()),
        4 => (0..m).for_each(|i| {
            let x = *a.add(i);
            *dst.add(i) = if x >= 0.0 { x.sqrt() } else { NAN }
        }),
        5 => (0..m).for_each(|i| *dst.add(i) = (*a.add(i)).floor()),
        6 => (0..m).for_each(|i| *dst.add(i) = (*a.add(i)).ceil()),
        7 => (0..m).for_each(|i| *dst.add(i) = (*a.add(i)).round()), // half away from zero
        8 => (0..m).for_each(|i| {
            let x = *a.add(i);
            *dst.add(i) = if x > 0.0 { x.log10() } else { NAN }
        }),
        _ => (0..m).for_each(|i| {
            let x = *a.add(i);
            *dst.add(i) = if x > 0.0 { x.log2() } else { NAN }
        }),
    }
}

/// ROUND_F: round(x, digits) with k = 10^|digits| (`numeric::round_to`, DuckDB's formula).
#[inline(always)]
pub unsafe fn round_f(dst: *mut f64, a: *const f64, k: f64, negative: bool, m: usize) {
    for i in 0..m {
        let x = *a.add(i);
        *dst.add(i) = if negative {
            let r = (x / k).round() * k;
            if x.is_nan() { x } else if r.is_finite() { r } else { 0.0 }
        } else {
            let r = (x * k).round() / k;
            if r.is_finite() { r } else { x }
        };
    }
}

/// F2I: float64 → int64 rounded half to even; NULL for NaN or outside int64.
#[inline(always)]
pub unsafe fn f2i(dst: *mut i64, dv: *mut u8, a: *const f64, m: usize) {
    for i in 0..m {
        let r = (*a.add(i)).round_ties_even();
        let ok = (r >= -9.223372036854775808e18) & (r < 9.223372036854775808e18);
        *dst.add(i) = if ok { r as i64 } else { 0 };
        *dv.add(i) = ok as u8;
    }
}

/// LOAD_US: a timestamp/date column as int64 microseconds since the epoch (ns floored);
/// `dv` holds the expanded validity when `has_valid`.
#[inline(always)]
pub unsafe fn load_us(dst: *mut i64, dv: *mut u8, data: *const u8, ptype: i64, has_valid: bool, base: usize, m: usize) {
    match ptype {
        pt::TS_US => conv(dst, data, base, m, |x: i64| x),
        pt::TS_NS => conv(dst, data, base, m, |x: i64| x.div_euclid(1000)),
        pt::TS_MS | pt::DATE64 => conv(dst, data, base, m, |x: i64| x.wrapping_mul(1000)),
        pt::TS_S => conv(dst, data, base, m, |x: i64| x.wrapping_mul(1_000_000)),
        pt::DATE32 => conv(dst, data, base, m, |x: i32| (x as i64).wrapping_mul(86_400_000_000)),
        _ => {
            fill(dst, m, 0);
            return fill(dv, m, 0);
        }
    }
    if !has_valid {
        fill(dv, m, 1);
    }
}

pub const LN2: f64 = std::f64::consts::LN_2;
/// 1/k! for k = 0..=13: `2**f` for |f| <= 1/2 as e**(f ln 2) (`kernel.decay`).
const E: [f64; 14] = [
    1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0,
    1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0, 1.0 / 479001600.0,
    1.0 / 6227020800.0,
];

/// DECAY: p * 0.5 ** (age / hl), NULL when hl is 0. `2**t` is 2**round(t) (exponent bits)
/// times a degree-13 polynomial in fused multiply-adds, exactly as `kernel.decay` and the
/// fused kernels; NULLs and exponents beyond ±1022 are recomputed with libm's pow.
#[inline(always)]
pub unsafe fn decay(dst: *mut f64, p: *const f64, age: *const f64, hl: *const f64, m: usize) {
    for i in 0..m {
        let t = -(*age.add(i) / *hl.add(i));
        let ok = (t >= -1022.0) & (t <= 1022.0); // false for NaN/inf (NULL age, hl = 0)
        let t = if ok { t } else { 0.0 };
        let n = (t + 0.5).floor();
        let x = (t - n) * LN2;
        let mut y = E[13].mul_add(x, E[12]);
        y = y.mul_add(x, E[11]);
        y = y.mul_add(x, E[10]);
        y = y.mul_add(x, E[9]);
        y = y.mul_add(x, E[8]);
        y = y.mul_add(x, E[7]);
        y = y.mul_add(x, E[6]);
        y = y.mul_add(x, E[5]);
        y = y.mul_add(x, E[4]);
        y = y.mul_add(x, E[3]);
        y = y.mul_add(x, E[2]);
        y = y.mul_add(x, E[1]);
        y = y.mul_add(x, E[0]);
        let v = *p.add(i) * y * f64::from_bits(((n as i64 + 1023) << 52) as u64);
        *dst.add(i) = if ok { v } else { NAN };
    }
    for i in 0..m {
        if (*dst.add(i)).is_nan() {
            let h = *hl.add(i);
            *dst.add(i) = if h != 0.0 { *p.add(i) * 0.5f64.powf(*age.add(i) / h) } else { NAN };
        }
    }
}

/// least/greatest skipping NULLs (NULL only when both are).
#[inline(always)]
pub unsafe fn minmax_f(dst: *mut f64, a: *const f64, b: *const f64, greatest: bool, m: usize) {
    for i in 0..m {
        let (x, y) = (*a.add(i), *b.add(i));
        let r = if greatest { if x > y { x } else { y } } else if x < y { x } else { y };
        let r = if x.is_nan() { y } else { r };
        *dst.add(i) = if y.is_nan() { x } else { r };
    }
}

#[inline(always)]
pub unsafe fn minmax_i(dst: *mut i64, dv: *mut u8, a: *const i64, va: *const u8, b: *const i64, vb: *const u8, greatest: bool, m: usize) {
    for i in 0..m {
        let (x, y, p, q) = (*a.add(i), *b.add(i), *va.add(i), *vb.add(i));
        let r = if greatest { if x > y { x } else { y } } else if x < y { x } else { y };
        let r = if (p & q) != 0 { r } else if p != 0 { x } else { y };
        *dst.add(i) = r;
        *dv.add(i) = p | q;
    }
}

/// Up to this many edges a branch-free count beats a binary search (`kernel.HIST_LINEAR_MAX`).
const HIST_LINEAR_MAX: usize = 16;

/// acc[slot] counts NULLs; acc[slot + 1 + j] with j = #edges <= x (edges ascending).
#[inline(always)]
pub unsafe fn hist(acc: &mut [i64], slot: usize, x: *const f64, edges: &[f64], m: usize) {
    let ne = edges.len();
    for i in 0..m {
        let v = *x.add(i);
        if v.is_nan() {
            acc[slot] += 1;
            continue;
        }
        let j = if ne <= HIST_LINEAR_MAX {
            edges.iter().map(|&e| (e <= v) as usize).sum::<usize>()
        } else {
            edges.partition_point(|&e| e <= v)
        };
        acc[slot + 1 + j] += 1;
    }
}

/// Ranking: larger value first, then earlier row; "worse" ranks after.
#[inline(always)]
fn worse(v1: f64, r1: i64, v2: f64, r2: i64) -> bool {
    (v1 < v2) | ((v1 == v2) & (r1 > r2))
}

/// Min-heap of k entries (root = worst kept): replace the root by (v, r) and sift it down.
fn heap_replace_root(hv: &mut [f64], hr: &mut [i64], k: usize, v: f64, r: i64) {
    let mut i = 0;
    loop {
        let mut c = 2 * i + 1;
        if c >= k {
            break;
        }
        if c + 1 < k && worse(hv[c + 1], hr[c + 1], hv[c], hr[c]) {
            c += 1;
        }
        if !worse(hv[c], hr[c], v, r) {
            break;
        }
        hv[i] = hv[c];
        hr[i] = hr[c];
        i = c;
    }
    hv[i] = v;
    hr[i] = r;
}

/// TOPK over one chunk: per group keep the k best (x desc, row asc) in heaps `hv`/`hr`
/// (`groups` rows of `stride` entries). Rows only increase within a block, so a value equal
/// to the root's never displaces it. `grp`: the group register and its validity, or None.
#[inline(always)]
pub unsafe fn topk(hv: &mut [f64], hr: &mut [i64], stride: usize, k: usize, groups: usize, x: *const f64, grp: Option<(*const i64, *const u8)>, row0: i64, m: usize) {
    if k == 0 {
        return;
    }
    let mut offer = |g: usize, v: f64, row: i64| {
        let (h, r) = (&mut hv[g * stride..g * stride + k], &mut hr[g * stride..g * stride + k]);
        // the fast reject; NaN fails it too
        if v >= h[0] && ((v > h[0]) | (row < r[0])) {
            heap_replace_root(h, r, k, v, row);
        }
    };
    match grp {
        Some((gr, gv)) => {
            for i in 0..m {
                let g = *gr.add(i);
                // NULL or out-of-range group: skipped (unsigned compare also rejects g < 0)
                if (*gv.add(i) != 0) & ((g as u64) < groups as u64) {
                    offer(g as usize, *x.add(i), row0 + i as i64);
                }
            }
        }
        None => {
            for i in 0..m {
                offer(0, *x.add(i), row0 + i as i64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_expand_at_any_offset() {
        let bm = [0b1010_0110u8, 0b0000_0001, 0xff];
        for base in 0..9 {
            let m = 24 - base;
            let mut got = [9u8; 24];
            unsafe { bits(got.as_mut_ptr(), bm.as_ptr(), base, m) };
            for r in 0..m {
                assert_eq!(got[r], (bm[(base + r) / 8] >> ((base + r) % 8)) & 1, "base {base} row {r}");
            }
        }
    }

    #[test]
    fn constants_match_the_python_kernel() {
        assert_eq!(LN2, 2f64.ln());
        for (k, e) in E.iter().enumerate() {
            let fact: u64 = (1..=k as u64).product();
            assert_eq!(*e, 1.0 / fact as f64);
        }
    }

    #[test]
    fn decay_is_exact_at_whole_half_lives_and_null_at_zero() {
        let p = [8.0, 8.0, 8.0, 1.0, f64::NAN];
        let age = [0.0, 10.0, 30.0, 1e6, 1.0];
        let hl = [10.0, 10.0, 10.0, 1.0, 1.0];
        let mut out = [0.0; 5];
        unsafe { decay(out.as_mut_ptr(), p.as_ptr(), age.as_ptr(), hl.as_ptr(), 5) };
        assert_eq!(&out[..4], &[8.0, 4.0, 1.0, 0.0]);
        assert!(out[4].is_nan());
        let mut z = [0.0];
        unsafe { decay(z.as_mut_ptr(), [1.0].as_ptr(), [1.0].as_ptr(), [0.0].as_ptr(), 1) };
        assert!(z[0].is_nan());
    }

    #[test]
    fn mul_k_is_null_exactly_where_the_product_overflows() {
        let xs = [i64::MIN, i64::MIN + 1, -3_037_000_500, -7, -1, 0, 1, 7, 3_037_000_499, 3_037_000_500, i64::MAX - 1, i64::MAX];
        for k in [2i64, 3, -3, -1, 0, 7, -7, 1_000_003, -1_000_003, i64::MAX, i64::MIN + 1, 1 << 32, -(1 << 32)] {
            let (mut d, mut dv, va) = ([0i64; 12], [0u8; 12], [1u8; 12]);
            unsafe { mul_k(d.as_mut_ptr(), dv.as_mut_ptr(), xs.as_ptr(), va.as_ptr(), k, 12) };
            for (i, x) in xs.iter().enumerate() {
                assert_eq!(dv[i] == 1, x.checked_mul(k).is_some(), "{x} * {k}");
                assert_eq!(d[i], x.wrapping_mul(k));
            }
        }
    }

    #[test]
    fn trunc_mod_has_the_dividends_sign() {
        assert_eq!(trunc_mod(-7, 2), -1);
        assert_eq!(trunc_mod(7, -2), 1);
        assert_eq!(trunc_mod(i64::MIN, -1), 0);
        assert_eq!(trunc_mod(5, 0), 0);
    }
}
