//! Per-lead reasons: for each lead, the rules with the largest absolute contribution to a
//! score (ties in rule order, rules that added nothing left out), then the clamp's adjustment,
//! as flat Arrow-style arrays. The contributions come from the scoring pass (a column per
//! rule); this is the selection, at native speed, split over threads for big batches.

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

/// The most entries one lead keeps before its clamp entry (a `top` above it is this).
const MAX_TOP: usize = 32;

fn rows(cols: &[&[f64]], adj: Option<&[f64]>, lo: usize, hi: usize, top: usize) -> Reasons {
    let t = top.min(cols.len()).min(MAX_TOP);
    let cap = (hi - lo) * (t + adj.is_some() as usize);
    let mut out = Reasons { offsets: Vec::with_capacity(hi - lo + 1), rules: Vec::with_capacity(cap), points: Vec::with_capacity(cap) };
    out.offsets.push(0);
    // (|c|, rule), largest first, in a fixed array; a contribution is carried down it by
    // swaps without branches (the data's zeros make branches unpredictable). -1 is empty.
    let mut best = [(-1.0f64, 0u32); MAX_TOP];
    for i in lo..hi {
        best[..t].fill((-1.0, 0));
        for (j, col) in cols.iter().enumerate() {
            let a = col[i].abs();
            // zero (the rule did not fire) and NaN never enter; a tie stays after earlier rules
            let mut carry = (if a > 0.0 { a } else { -1.0 }, j as u32);
            for slot in best[..t].iter_mut() {
                let b = *slot;
                // a displaced entry carried down keeps its place before later rules' ties
                let gt = carry.0 > b.0 || (carry.0 == b.0 && carry.1 < b.1);
                *slot = if gt { carry } else { b };
                carry = if gt { b } else { carry };
            }
        }
        for &(a, j) in &best[..t] {
            if a > 0.0 {
                out.rules.push(j as i32);
                out.points.push(cols[j as usize][i]);
            }
        }
        if let Some(adj) = adj {
            let x = adj[i];
            if x != 0.0 && !x.is_nan() {
                out.rules.push(cols.len() as i32);
                out.points.push(x);
            }
        }
        out.offsets.push(out.rules.len() as i32);
    }
    out
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
}
