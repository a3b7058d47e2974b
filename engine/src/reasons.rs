//! Per-lead reasons: for each lead, the rules with the largest absolute contribution to a
//! score (ties in rule order, rules that added nothing left out), then the clamp's adjustment,
//! as flat Arrow-style arrays. [`select`] picks them for a run of up to [`LANES`] leads (both
//! the scoring pass's reasons sink, `explain.rs`, and [`top_reasons`] over materialised
//! contribution columns use it); [`clamp_adjustment`] is the clamp's entry.

/// `offsets[i]..offsets[i + 1]` are lead i's entries: `rules` (a rule's index, or the number
/// of rules for the clamp entry) and `points`.
#[derive(Debug, Default, PartialEq)]
pub struct Reasons {
    pub offsets: Vec<i32>,
    pub rules: Vec<i32>,
    pub points: Vec<f64>,
}

/// Rows below this run on one thread.
const PARALLEL_MIN_ROWS: usize = 1 << 16;

/// The most entries one lead keeps before its clamp entry (a `top` above it is this).
pub const MAX_TOP: usize = 32;

/// Leads one [`select`] call takes: its per-slot rows stay in L1.
pub const LANES: usize = 64;

/// The reasons of every lead: `cols` holds one contribution slice per rule (all `n` long),
/// `adj` the clamp adjustment per lead (None: the score has no range).
pub fn top_reasons(cols: &[&[f64]], adj: Option<&[f64]>, n: usize, top: usize, threads: usize) -> Reasons {
    let parts = threads.max(1).min(n.div_ceil(PARALLEL_MIN_ROWS).max(1));
    if parts == 1 {
        return rows(cols, adj, 0, n, top);
    }
    let step = n.div_ceil(parts);
    let pieces: Vec<Reasons> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts)
            .map(|p| {
                let (lo, hi) = (p * step, ((p + 1) * step).min(n));
                s.spawn(move || rows(cols, adj, lo, hi, top))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reasons thread")).collect()
    });
    let mut out = Reasons { offsets: vec![0], ..Default::default() };
    for piece in pieces {
        let base = *out.offsets.last().expect("offsets start at 0");
        out.offsets.extend(piece.offsets[1..].iter().map(|o| o + base));
        out.rules.extend(piece.rules);
        out.points.extend(piece.points);
    }
    out
}

/// The entries one lead can have: `top` (at most the rules, at most MAX_TOP), and the clamp's.
pub fn entries_per_lead(rules: usize, top: usize, ranged: bool) -> usize {
    top.min(rules).min(MAX_TOP) + ranged as usize
}

fn rows(cols: &[&[f64]], adj: Option<&[f64]>, lo: usize, hi: usize, top: usize) -> Reasons {
    let cap = (hi - lo) * entries_per_lead(cols.len(), top, adj.is_some());
    let mut out = Reasons { offsets: vec![0; hi - lo + 1], rules: vec![0; cap], points: vec![0.0; cap] };
    let mut scratch = Scratch::new();
    let mut pos = 0;
    let mut part: Vec<&[f64]> = Vec::with_capacity(cols.len());
    for i in (lo..hi).step_by(LANES) {
        let m = LANES.min(hi - i);
        part.clear();
        part.extend(cols.iter().map(|c| &c[i..i + m]));
        let ends = &mut out.offsets[i - lo + 1..i - lo + 1 + m];
        select(&part, adj.map(|a| &a[i..i + m]), top, &mut scratch, &mut pos, ends, &mut out.rules, &mut out.points);
    }
    out.rules.truncate(pos);
    out.points.truncate(pos);
    out
}

/// [`select`]'s working rows, reused from call to call: per slot (best first) the leads'
/// |contribution| (-1: empty), rule and points.
pub struct Scratch {
    v: Vec<[f64; LANES]>,
    j: Vec<[f64; LANES]>,
    p: Vec<[f64; LANES]>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { v: vec![[0.0; LANES]; MAX_TOP], j: vec![[0.0; LANES]; MAX_TOP], p: vec![[0.0; LANES]; MAX_TOP] }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

/// `x` where `c`, else `y`, as a bit mask: a select LLVM keeps in vector lanes (an `if`
/// over loaded values became a branch, or a select of addresses, and no vectors).
#[inline(always)]
fn pick(c: bool, x: f64, y: f64) -> f64 {
    let m = (c as u64).wrapping_neg();
    f64::from_bits((x.to_bits() & m) | (y.to_bits() & !m))
}

type Row = [f64; LANES];

/// One slot's update for a new rule's entries (`a` |c| or -1, `c` points, rule `jf`), the slot
/// above it being `up`. A function of its own so that its rows are known not to overlap
/// (its reference arguments), which lets the loop run in vector lanes; not inlined, so that
/// LLVM keeps that knowledge, and compiled per CPU level.
#[inline(always)]
fn slot(a: &Row, c: &Row, jf: f64, up: (&Row, &Row, &Row), this: (&mut Row, &mut Row, &mut Row)) {
    let ((uv, uj, up), (v, jj, pp)) = (up, this);
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the feature
            return unsafe { slot_v4(a, c, jf, uv, uj, up, v, jj, pp) };
        }
        if is_x86_feature_detected!("avx2") {
            return unsafe { slot_v3(a, c, jf, uv, uj, up, v, jj, pp) };
        }
    }
    slot_rows(a, c, jf, uv, uj, up, v, jj, pp)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn slot_v4(a: &Row, c: &Row, jf: f64, uv: &Row, uj: &Row, up: &Row, v: &mut Row, jj: &mut Row, pp: &mut Row) {
    slot_rows(a, c, jf, uv, uj, up, v, jj, pp)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn slot_v3(a: &Row, c: &Row, jf: f64, uv: &Row, uj: &Row, up: &Row, v: &mut Row, jj: &mut Row, pp: &mut Row) {
    slot_rows(a, c, jf, uv, uj, up, v, jj, pp)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn slot_rows(a: &Row, c: &Row, jf: f64, uv: &Row, uj: &Row, up: &Row, v: &mut Row, jj: &mut Row, pp: &mut Row) {
    for i in 0..LANES {
        let (down, take) = (a[i] > uv[i], a[i] > v[i]);
        jj[i] = pick(down, uj[i], pick(take, jf, jj[i]));
        pp[i] = pick(down, up[i], pick(take, c[i], pp[i]));
        v[i] = pick(down, uv[i], pick(take, a[i], v[i]));
    }
}

/// Slot `s` and the one above it, of one of the scratch's rows.
#[inline(always)]
fn pair(rows: &mut [[f64; LANES]], s: usize) -> (&[f64; LANES], &mut [f64; LANES]) {
    let (hi, lo) = rows.split_at_mut(s);
    (&hi[s - 1], &mut lo[0])
}

/// The reasons of `ends.len()` (at most LANES) leads: `cols` one contribution slice per rule,
/// `adj` the clamp adjustment per lead (None: no range). Entries go to `rules`/`points` from
/// `*pos` on (room for [`entries_per_lead`] per lead is needed there), and `ends[i]` is
/// `*pos` after lead i.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn select(cols: &[&[f64]], adj: Option<&[f64]>, top: usize, scratch: &mut Scratch, pos: &mut usize,
              ends: &mut [i32], rules: &mut [i32], points: &mut [f64]) {
    let m = ends.len();
    assert!(m <= LANES && cols.iter().all(|c| c.len() >= m) && adj.is_none_or(|a| a.len() >= m));
    let t = top.min(cols.len()).min(MAX_TOP);
    let room = *pos + m * entries_per_lead(cols.len(), top, adj.is_some());
    assert!(rules.len() >= room && points.len() >= room, "room for {room} entries");
    // Slots are kept in (|c| desc, rule asc) order. Rules arrive in order, so a later rule
    // only goes before strictly smaller entries, and the entries after it move down a slot.
    // Branch-free over fixed-width rows (the data's zeros make branches unpredictable): the
    // leads are the vector lanes.
    let (sv, sj, sp) = (&mut scratch.v[..t], &mut scratch.j[..t], &mut scratch.p[..t]);
    for row in sv.iter_mut() {
        *row = [-1.0; LANES];
    }
    match t {
        0 => {}
        1 => in_registers::<1>(cols, m, sv, sj, sp),
        2 => in_registers::<2>(cols, m, sv, sj, sp),
        3 => in_registers::<3>(cols, m, sv, sj, sp),
        4 => in_registers::<4>(cols, m, sv, sj, sp),
        _ => in_rows(cols, m, sv, sj, sp),
    }
    write(cols.len(), adj, t, m, sv, sj, sp, pos, ends, rules, points);
}

/// Leads per pass of [`in_registers`]: one float64 vector at AVX-512's width.
const REG_LANES: usize = 8;

/// The slot insertion of [`in_rows`] for a small `T` (a `top` of at most 4): the slots of
/// 8 leads at a time stay in registers through all the rules (3T vectors), where `in_rows`
/// loads and stores every slot row for every rule. The same updates in the same order.
#[inline(always)]
fn in_registers<const T: usize>(cols: &[&[f64]], m: usize, sv: &mut [Row], sj: &mut [Row], sp: &mut [Row]) {
    let full = m / REG_LANES * REG_LANES;
    for g in (0..full).step_by(REG_LANES) {
        group::<T, true>(cols, g, REG_LANES, sv, sj, sp);
    }
    if full < m {
        group::<T, false>(cols, full, m - full, sv, sj, sp);
    }
}

/// [`in_registers`] for leads `g..g + k` (`FULL`: k is REG_LANES, read as one vector; else
/// the lanes past k read 0, never an entry).
#[inline(always)]
fn group<const T: usize, const FULL: bool>(cols: &[&[f64]], g: usize, k: usize, sv: &mut [Row], sj: &mut [Row], sp: &mut [Row]) {
    let mut v = [[-1.0f64; REG_LANES]; T];
    let mut jj = [[0.0f64; REG_LANES]; T];
    let mut pp = [[0.0f64; REG_LANES]; T];
    for (j, col) in cols.iter().enumerate() {
        let jf = j as f64;
        let c: [f64; REG_LANES] = if FULL {
            col[g..g + REG_LANES].try_into().expect("a full group")
        } else {
            let col = &col[g..g + k];
            std::array::from_fn(|i| if i < k { col[i.min(k - 1)] } else { 0.0 })
        };
        let mut a = [0.0f64; REG_LANES];
        for i in 0..REG_LANES {
            let x = c[i].abs();
            a[i] = if x > 0.0 { x } else { -1.0 }; // zero and NaN never enter
        }
        // from the last slot up, as in_rows; above the first slot is +inf
        for s in (0..T).rev() {
            for i in 0..REG_LANES {
                let (uv, uj, up) = if s > 0 { (v[s - 1][i], jj[s - 1][i], pp[s - 1][i]) } else { (f64::INFINITY, 0.0, 0.0) };
                let (down, take) = (a[i] > uv, a[i] > v[s][i]);
                jj[s][i] = pick(down, uj, pick(take, jf, jj[s][i]));
                pp[s][i] = pick(down, up, pick(take, c[i], pp[s][i]));
                v[s][i] = pick(down, uv, pick(take, a[i], v[s][i]));
            }
        }
    }
    for s in 0..T {
        sv[s][g..g + REG_LANES].copy_from_slice(&v[s]);
        sj[s][g..g + REG_LANES].copy_from_slice(&jj[s]);
        sp[s][g..g + REG_LANES].copy_from_slice(&pp[s]);
    }
}

/// The slots filled rule by rule, over whole rows: rules arrive in order, so a later rule
/// only goes before strictly smaller entries, and the entries after it move down a slot.
#[inline(always)]
fn in_rows(cols: &[&[f64]], m: usize, sv: &mut [Row], sj: &mut [Row], sp: &mut [Row]) {
    let t = sv.len();
    let mut c = [0.0f64; LANES];
    let mut a = [0.0f64; LANES];
    for (j, col) in cols.iter().enumerate() {
        let jf = j as f64;
        c[..m].copy_from_slice(&col[..m]);
        for i in 0..LANES {
            let x = c[i].abs();
            a[i] = if x > 0.0 { x } else { -1.0 }; // zero and NaN never enter
        }
        // from the last slot up: slot s takes the entry above it where the new one beats
        // that, else the new one where it beats slot s
        for s in (1..t).rev() {
            let (uv, v) = pair(sv, s);
            let (uj, jj) = pair(sj, s);
            let (up, pp) = pair(sp, s);
            slot(&a, &c, jf, (uv, uj, up), (v, jj, pp));
        }
        if t > 0 {
            // nothing moves down into the first slot: above it is +inf
            slot(&a, &c, jf, (&[f64::INFINITY; LANES], &[0.0; LANES], &[0.0; LANES]), (&mut sv[0], &mut sj[0], &mut sp[0]));
        }
    }
}

/// The held slots of each of the `m` leads, then its clamp entry, from `*pos` on (room for
/// [`entries_per_lead`] per lead from there, checked by [`select`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn write(rules_n: usize, adj: Option<&[f64]>, t: usize, m: usize, sv: &[Row], sj: &[Row], sp: &[Row], pos: &mut usize,
         ends: &mut [i32], rules: &mut [i32], points: &mut [f64]) {
    let room = *pos + m * (t + adj.is_some() as usize);
    assert!(rules.len() >= room && points.len() >= room && ends.len() >= m);
    let n_rules = rules_n as i32;
    let mut k = *pos;
    let (rules, points) = (rules.as_mut_ptr(), points.as_mut_ptr());
    for i in 0..m {
        // SAFETY: k < room (checked above): lead i writes at most its t slots and the clamp's
        // entry, each below the room of leads 0..=i; the slots' rules are small whole numbers
        unsafe {
            for s in 0..t {
                // written unconditionally, kept only when the slot holds an entry
                *rules.add(k) = sj[s][i].to_int_unchecked::<i32>();
                *points.add(k) = sp[s][i];
                k += (sv[s][i] > 0.0) as usize;
            }
            if let Some(adj) = adj {
                let x = adj[i];
                *rules.add(k) = n_rules;
                *points.add(k) = x;
                k += (x != 0.0 && !x.is_nan()) as usize;
            }
        }
        ends[i] = k as i32;
    }
    *pos = k;
}

/// The clamp's entry per lead: `v` (the score, clamped) less the left-to-right float64 sum of
/// the contributions (the score before its clamp), nudged by ulps until that sum plus it
/// gives `v` exactly (`v - total` is inexact when they differ by more than 2×); at most four
/// nudges, then it stands.
#[inline(always)]
pub fn clamp_adjustment(cols: &[&[f64]], v: &[f64], adj: &mut [f64]) {
    let m = adj.len();
    let total = &mut [0.0f64; LANES][..];
    for part in (0..m).step_by(LANES) {
        let k = LANES.min(m - part);
        let total = &mut total[..k];
        total.fill(0.0);
        for col in cols {
            for (t, c) in total.iter_mut().zip(&col[part..part + k]) {
                *t += c;
            }
        }
        let (v, adj) = (&v[part..part + k], &mut adj[part..part + k]);
        let mut inexact = false;
        for i in 0..k {
            adj[i] = v[i] - total[i];
            inexact |= v[i] - (total[i] + adj[i]) != 0.0;
        }
        if inexact {  // rare: only where the clamp moved the score by more than 2x
            for i in 0..k {
                let (x, t) = (v[i], total[i]);
                let mut a = adj[i];
                for _ in 0..4 {
                    let off = x - (t + a);
                    if off == 0.0 {
                        break;
                    }
                    a = next_after(a, a + off);
                }
                adj[i] = a;
            }
        }
    }
}

/// C's nextafter (numpy's): the float after `x` towards `y`.
fn next_after(x: f64, y: f64) -> f64 {
    if y > x {
        x.next_up()
    } else if y < x {
        x.next_down()
    } else if x == y {
        y
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_first_ties_in_rule_order_zeros_out_range_last() {
        let a = [10.0, 0.0, 0.0, 3.0];
        let b = [-20.0, 0.0, 5.0, 3.0];
        let c = [10.0, 0.0, 0.0, 3.0];
        let adj = [0.0, 0.0, 0.0, -1.0];
        let r = top_reasons(&[&a, &b, &c], Some(&adj), 4, 2, 1);
        // a larger later rule pushes the earlier of two ties down, still before the later one
        let r2 = top_reasons(&[&a, &c, &b], None, 4, 2, 1);
        assert_eq!(&r2.rules[..2], &[2, 0]);
        assert_eq!(r.offsets, vec![0, 2, 2, 3, 6]);
        assert_eq!(r.rules, vec![1, 0, 1, 0, 1, 3]);
        assert_eq!(r.points, vec![-20.0, 10.0, 5.0, 3.0, 3.0, -1.0]);
    }

    #[test]
    fn threads_give_the_one_thread_answer() {
        let n = 200_000;
        let cols: Vec<Vec<f64>> = (0..5).map(|j| (0..n).map(|i| ((i * 7 + j * 3) % 11) as f64 - 5.0).collect()).collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        assert_eq!(top_reasons(&refs, None, n, 3, 1), top_reasons(&refs, None, n, 3, 4));
    }

    /// The per-lead sort written plainly: (|c| desc, rule asc), nonzero, first `top`.
    fn plain(cols: &[Vec<f64>], adj: Option<&[f64]>, n: usize, top: usize) -> Reasons {
        let mut out = Reasons { offsets: vec![0], ..Default::default() };
        for i in 0..n {
            let mut e: Vec<(usize, f64)> = cols.iter().enumerate().map(|(j, c)| (j, c[i])).filter(|&(_, c)| c.abs() > 0.0).collect();
            e.sort_by(|x, y| y.1.abs().partial_cmp(&x.1.abs()).unwrap().then(x.0.cmp(&y.0)));
            for &(j, c) in e.iter().take(top.min(MAX_TOP)) {
                out.rules.push(j as i32);
                out.points.push(c);
            }
            if let Some(a) = adj {
                if a[i] != 0.0 && !a[i].is_nan() {
                    out.rules.push(cols.len() as i32);
                    out.points.push(a[i]);
                }
            }
            out.offsets.push(out.rules.len() as i32);
        }
        out
    }

    #[test]
    fn select_agrees_with_a_plain_sort_on_ties_zeros_nans_and_signs() {
        let vals = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 7.0, f64::NAN, 1e-300, -3.0];
        let mut seed = 12345u64;
        let mut next = || { seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (seed >> 33) as usize };
        for rules in [0usize, 1, 2, 5, 9, 40] {
            let n = 300;
            let cols: Vec<Vec<f64>> = (0..rules).map(|_| (0..n).map(|_| vals[next() % vals.len()]).collect()).collect();
            let adj: Vec<f64> = (0..n).map(|_| vals[next() % vals.len()]).collect();
            let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
            for top in [1, 2, 3, 4, 8, 50] {
                for a in [None, Some(adj.as_slice())] {
                    let got = top_reasons(&refs, a, n, top, 1);
                    let want = plain(&cols, a, n, top);
                    assert_eq!(got.offsets, want.offsets, "rules {rules} top {top}");
                    assert_eq!(got.rules, want.rules, "rules {rules} top {top}");
                    assert_eq!(got.points.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
                               want.points.iter().map(|p| p.to_bits()).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn the_clamp_entry_makes_the_sum_exact() {
        // 0.1 + 0.2 + 0.3 clamped to 0.5; 1000.1 + 0.001 + 0.3 clamped to 100
        let a = [0.1, 1000.1, 5.0];
        let b = [0.2, 0.001, -20.0];
        let c = [0.3, 0.3, 0.0];
        let v = [0.5, 100.0, 0.0];
        let mut adj = [0.0; 3];
        clamp_adjustment(&[&a, &b, &c], &v, &mut adj);
        for i in 0..3 {
            let total = 0.0 + a[i] + b[i] + c[i];
            assert_eq!(total + adj[i], v[i], "lead {i}");
        }
        assert_eq!(adj[2], 15.0);
    }
}
