//! Dictionary encoding of a string column: what the VM needs to run string predicates once
//! per distinct value instead of once per row. Distinct values are numbered in order of first
//! appearance, as Arrow's `dictionary_encode` does, and hashed as bytes (never decoded).

use crate::strings::Strings;
use std::hash::BuildHasher;

/// `codes[i]`: the index of value `i` in the dictionary (0 for NULL rows: the caller keeps
/// the input's validity); the dictionary as Arrow `utf8` buffers (`offsets`, `data`).
pub struct Encoded {
    pub codes: Vec<i32>,
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
}

/// A dictionary being built. The table holds (hash, code) and compares candidates against
/// `data`, which is compact and stays in cache, not against a first occurrence somewhere in
/// the column. The hasher is seeded per process: a column crafted to collide cannot make
/// encoding quadratic.
struct Dict {
    offsets: Vec<i32>,
    data: Vec<u8>,
    table: hashbrown::HashTable<(u64, i32)>,
    state: foldhash::fast::RandomState,
}

impl Dict {
    fn new() -> Dict {
        Dict { offsets: vec![0], data: Vec::new(), table: hashbrown::HashTable::new(), state: Default::default() }
    }

    fn value(&self, code: i32) -> &[u8] {
        &self.data[self.offsets[code as usize] as usize..self.offsets[code as usize + 1] as usize]
    }

    /// The code of `v`, added if new; `None` past 32-bit offsets or codes.
    #[inline]
    fn intern(&mut self, v: &[u8]) -> Option<i32> {
        let hash = self.state.hash_one(v);
        let (offsets, data) = (&self.offsets, &self.data);
        let found = self.table.find(hash, |&(h, c)| {
            h == hash && &data[offsets[c as usize] as usize..offsets[c as usize + 1] as usize] == v
        });
        if let Some(&(_, c)) = found {
            return Some(c);
        }
        let c = i32::try_from(self.offsets.len() - 1).ok()?;
        self.data.extend_from_slice(v);
        self.offsets.push(i32::try_from(self.data.len()).ok()?);
        self.table.insert_unique(hash, (hash, c), |&(h, _)| h);
        Some(c)
    }
}

#[inline]
fn value_at<'a, S: Strings + ?Sized>(values: &'a S, i: usize) -> Option<&'a [u8]> {
    match values.data() {
        Some(b) if values.is_valid(i) => {
            let (lo, hi) = values.span(i);
            Some(&b[lo..hi])
        }
        Some(_) => None,
        None => values.get(i).map(str::as_bytes),
    }
}

/// Rows `lo..hi` encoded into a fresh dictionary.
fn encode_rows<S: Strings + ?Sized>(values: &S, lo: usize, hi: usize) -> Option<(Vec<i32>, Dict)> {
    let mut dict = Dict::new();
    let mut codes = Vec::with_capacity(hi - lo);
    for i in lo..hi {
        codes.push(match value_at(values, i) {
            Some(v) => dict.intern(v)?,
            None => 0,
        });
    }
    Some((codes, dict))
}

/// Encode `values`; `None` when the dictionary would not fit `utf8` 32-bit offsets or codes
/// (the caller falls back to Arrow's encoder).
pub fn encode<S: Strings + ?Sized>(values: &S) -> Option<Encoded> {
    encode_parallel(values, 1)
}

/// Rows per part below which `encode_parallel` does not split: starting a thread and merging
/// dictionaries costs more than it saves.
pub const MIN_ROWS_PER_PART: usize = 65_536;

/// `encode` on up to `parts` threads: each encodes a contiguous run of rows into its own
/// dictionary, then the dictionaries are merged in row order and the later runs' codes are
/// renumbered, which gives exactly the sequential result (first-appearance order).
pub fn encode_parallel<S: Strings + ?Sized>(values: &S, parts: usize) -> Option<Encoded> {
    let n = values.len();
    let parts = parts.clamp(1, (n / MIN_ROWS_PER_PART).max(1));
    let bounds: Vec<usize> = (0..=parts).map(|p| p * n / parts).collect();
    let mut runs: Vec<Option<(Vec<i32>, Dict)>> = if parts == 1 {
        vec![encode_rows(values, 0, n)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = bounds.windows(2).map(|w| s.spawn(move || encode_rows(values, w[0], w[1]))).collect();
            handles.into_iter().map(|h| h.join().expect("encoder thread panicked")).collect()
        })
    };
    let (mut codes, mut dict) = runs.remove(0)?;
    codes.reserve(n - codes.len());
    for (run, lo) in runs.into_iter().zip(&bounds[1..]) {
        let (run_codes, run_dict) = run?;
        let renumber: Vec<i32> = (0..run_dict.offsets.len() as i32 - 1).map(|c| dict.intern(run_dict.value(c))).collect::<Option<_>>()?;
        codes.extend(run_codes.iter().enumerate().map(|(i, &c)| if values.is_valid(lo + i) { renumber[c as usize] } else { 0 }));
    }
    Some(Encoded { codes, offsets: dict.offsets, data: dict.data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(e: &Encoded, i: usize) -> &str {
        let c = e.codes[i] as usize;
        std::str::from_utf8(&e.data[e.offsets[c] as usize..e.offsets[c + 1] as usize]).unwrap()
    }

    #[test]
    fn numbers_distinct_values_in_order_of_first_appearance() {
        let values: Vec<Option<String>> = ["b", "a", "b", "", "日本", "a", ""].iter().map(|s| Some(s.to_string())).collect();
        let e = encode(values.as_slice()).unwrap();
        assert_eq!(e.codes, vec![0, 1, 0, 2, 3, 1, 2]);
        assert_eq!(e.offsets, vec![0, 1, 2, 2, 8]);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(decode(&e, i), v.as_deref().unwrap());
        }
    }

    #[test]
    fn null_rows_get_code_zero_and_add_nothing() {
        let values = vec![None, Some("x".to_string()), None, Some("y".to_string())];
        let e = encode(values.as_slice()).unwrap();
        assert_eq!(e.codes, vec![0, 0, 0, 1]);
        assert_eq!(e.offsets, vec![0, 1, 2]);
        let none: Vec<Option<String>> = vec![None, None];
        let e = encode(none.as_slice()).unwrap();
        assert_eq!((e.codes, e.offsets, e.data.len()), (vec![0, 0], vec![0], 0));
    }

    #[test]
    fn parallel_encoding_gives_the_sequential_result() {
        let n = 5 * MIN_ROWS_PER_PART + 17;
        let values: Vec<Option<String>> =
            (0..n).map(|i| if i % 13 == 0 { None } else { Some(format!("v{}", (i * 7919) % 40_000 + i / 50_000)) }).collect();
        let one = encode(values.as_slice()).unwrap();
        for parts in [2, 3, 4, 64] {
            let many = encode_parallel(values.as_slice(), parts).unwrap();
            assert_eq!(many.codes, one.codes, "{parts} parts");
            assert_eq!((&many.offsets, &many.data), (&one.offsets, &one.data), "{parts} parts");
        }
    }
}
