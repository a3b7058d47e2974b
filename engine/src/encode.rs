//! Dictionary encoding of a string column: what the VM needs to run string predicates once
//! per distinct value instead of once per row. Distinct values are numbered in order of first
//! appearance, as Arrow's `dictionary_encode` does, and hashed as bytes (never decoded).

use crate::strings::Strings;

/// `codes[i]`: the index of value `i` in the dictionary (0 for NULL rows: the caller keeps
/// the input's validity); the dictionary as Arrow `utf8` buffers (`offsets`, `data`).
pub struct Encoded {
    pub codes: Vec<i32>,
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
}

/// Encode `values`; `None` when the dictionary would not fit `utf8` 32-bit offsets or codes
/// (the caller falls back to Arrow's encoder). The table holds (hash, code) and compares
/// candidates against the dictionary being built, which is compact and stays in cache, not
/// against a first occurrence somewhere in the column. The hasher is seeded per process: a
/// column crafted to collide cannot make encoding quadratic.
pub fn encode<S: Strings + ?Sized>(values: &S) -> Option<Encoded> {
    use std::hash::BuildHasher;
    let n = values.len();
    let mut codes = Vec::with_capacity(n);
    let mut offsets = vec![0i32];
    let mut data: Vec<u8> = Vec::new();
    let mut table: hashbrown::HashTable<(u64, i32)> = hashbrown::HashTable::new();
    let state = foldhash::fast::RandomState::default();
    let bytes = values.data();
    for i in 0..n {
        let value: Option<&[u8]> = match bytes {
            Some(b) if values.is_valid(i) => {
                let (lo, hi) = values.span(i);
                Some(&b[lo..hi])
            }
            Some(_) => None,
            None => values.get(i).map(str::as_bytes),
        };
        let Some(v) = value else {
            codes.push(0);
            continue;
        };
        let hash = state.hash_one(v);
        let found = table.find(hash, |&(h, c)| {
            h == hash && &data[offsets[c as usize] as usize..offsets[c as usize + 1] as usize] == v
        });
        let code = match found {
            Some(&(_, c)) => c,
            None => {
                let c = i32::try_from(offsets.len() - 1).ok()?;
                data.extend_from_slice(v);
                offsets.push(i32::try_from(data.len()).ok()?);
                table.insert_unique(hash, (hash, c), |&(h, _)| h);
                c
            }
        };
        codes.push(code);
    }
    Some(Encoded { codes, offsets, data })
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
}
