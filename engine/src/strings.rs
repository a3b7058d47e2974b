//! The dictionary values a lookup table is filled from: owned strings (the Python list path)
//! or an Arrow string / large_string array read in place, so that filling a table over a
//! 100k-value dictionary creates no Python or Rust string objects.

/// Values `0..len()`, each a string or NULL. Sync: tables are filled on several threads.
pub trait Strings: Sync {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> Option<&str>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The values' bytes back to back, when they are stored so (Arrow), for searching them
    /// all at once; value `i` is `data[span(i).0..span(i).1]` (spans increase with `i`).
    fn data(&self) -> Option<&[u8]> {
        None
    }
    fn span(&self, _i: usize) -> (usize, usize) {
        (0, 0)
    }
    /// Whether value `i` is not NULL (with `data`/`span`: without making a `&str`).
    fn is_valid(&self, i: usize) -> bool {
        self.get(i).is_some()
    }
}

impl Strings for [Option<String>] {
    fn len(&self) -> usize {
        <[Option<String>]>::len(self)
    }
    fn get(&self, i: usize) -> Option<&str> {
        self[i].as_deref()
    }
}

/// The buffers of an Arrow `utf8` (32-bit offsets) or `large_utf8` (64-bit offsets) array:
/// `offsets` and `validity` are the whole buffers (element `offset` is the array's first),
/// `data` the character data. Checked once by `new` (offsets in bounds and increasing, each
/// value valid UTF-8), so that `get` need not.
pub struct ArrowStrings<'a> {
    offsets: &'a [u8],
    wide: bool,
    data: &'a [u8],
    validity: Option<&'a [u8]>,
    offset: usize,
    len: usize,
    utf8_checked: bool,
}

impl<'a> ArrowStrings<'a> {
    pub fn new(
        offsets: &'a [u8],
        wide: bool,
        data: &'a [u8],
        validity: Option<&'a [u8]>,
        offset: usize,
        len: usize,
    ) -> Result<ArrowStrings<'a>, String> {
        Self::new_bytes(offsets, wide, data, validity, offset, len)?.check_utf8()
    }

    /// As `new`, but only the offsets are checked, not that each value is UTF-8: for readers
    /// of bytes (`data`/`span`, e.g. the dictionary encoder); `get` then checks per value.
    pub fn new_bytes(
        offsets: &'a [u8],
        wide: bool,
        data: &'a [u8],
        validity: Option<&'a [u8]>,
        offset: usize,
        len: usize,
    ) -> Result<ArrowStrings<'a>, String> {
        let width = if wide { 8 } else { 4 };
        let end = offset.checked_add(len).ok_or("array length overflows")?;
        if len > 0 && offsets.len() < (end + 1) * width {
            return Err(format!("offsets buffer of {} bytes is too short for {} values", offsets.len(), end + 1));
        }
        if let Some(v) = validity {
            if v.len() < end.div_ceil(8) {
                return Err("validity bitmap is too short".into());
            }
        }
        let s = ArrowStrings { offsets, wide, data, validity, offset, len, utf8_checked: false };
        for i in 0..len {
            let (lo, hi) = (s.off(offset + i), s.off(offset + i + 1));
            if lo < 0 || hi < lo || (i > 0 && lo < s.off(offset + i - 1)) || hi as u64 > data.len() as u64 {
                return Err(format!("invalid string offsets {lo}..{hi} at value {i}"));
            }
        }
        Ok(s)
    }

    /// Check once that every non-NULL value is UTF-8, so that `get` need not.
    fn check_utf8(mut self) -> Result<ArrowStrings<'a>, String> {
        for i in 0..self.len {
            if self.valid(i) {
                let (lo, hi) = self.span(i);
                std::str::from_utf8(&self.data[lo..hi]).map_err(|e| format!("value {i} is not UTF-8: {e}"))?;
            }
        }
        self.utf8_checked = true;
        Ok(self)
    }

    #[inline]
    fn off(&self, j: usize) -> i64 {
        if self.wide {
            i64::from_le_bytes(self.offsets[8 * j..8 * j + 8].try_into().unwrap())
        } else {
            i32::from_le_bytes(self.offsets[4 * j..4 * j + 4].try_into().unwrap()) as i64
        }
    }

    #[inline]
    fn valid(&self, i: usize) -> bool {
        let j = self.offset + i;
        self.validity.is_none_or(|v| v[j / 8] >> (j % 8) & 1 == 1)
    }
}

impl Strings for ArrowStrings<'_> {
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&str> {
        if i >= self.len || !self.valid(i) {
            return None;
        }
        let (lo, hi) = (self.off(self.offset + i) as usize, self.off(self.offset + i + 1) as usize);
        if !self.utf8_checked {
            return std::str::from_utf8(&self.data[lo..hi]).ok();
        }
        // SAFETY: `new` checked that this range is in bounds and valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(&self.data[lo..hi]) })
    }
    fn data(&self) -> Option<&[u8]> {
        Some(self.data)
    }
    #[inline]
    fn span(&self, i: usize) -> (usize, usize) {
        (self.off(self.offset + i) as usize, self.off(self.offset + i + 1) as usize)
    }
    #[inline]
    fn is_valid(&self, i: usize) -> bool {
        self.valid(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffers(values: &[Option<&str>], wide: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut offs, mut data, mut valid) = (vec![], vec![], vec![0u8; values.len().div_ceil(8)]);
        let push = |o: usize, offs: &mut Vec<u8>| {
            if wide {
                offs.extend((o as i64).to_le_bytes())
            } else {
                offs.extend((o as i32).to_le_bytes())
            }
        };
        push(0, &mut offs);
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                data.extend(v.as_bytes());
                valid[i / 8] |= 1 << (i % 8);
            }
            push(data.len(), &mut offs);
        }
        (offs, data, valid)
    }

    #[test]
    fn reads_sliced_arrays_of_both_widths() {
        let values = [Some("a"), None, Some(""), Some("日本"), Some("xyz"), None, Some("é"), Some("q"), Some("last")];
        for wide in [false, true] {
            let (offs, data, valid) = buffers(&values, wide);
            for (offset, len) in [(0, 9), (1, 7), (3, 6), (8, 1), (9, 0)] {
                let s = ArrowStrings::new(&offs, wide, &data, Some(&valid), offset, len).unwrap();
                let got: Vec<Option<&str>> = (0..s.len()).map(|i| s.get(i)).collect();
                assert_eq!(got, values[offset..offset + len].to_vec());
            }
        }
    }

    #[test]
    fn rejects_bad_buffers() {
        let (offs, data, _) = buffers(&[Some("ab"), Some("c")], false);
        assert!(ArrowStrings::new(&offs, false, &data[..2], None, 0, 2).is_err()); // data too short
        assert!(ArrowStrings::new(&offs[..8], false, &data, None, 0, 2).is_err()); // offsets too short
        let bad = [0xC3u8, 0x28];
        let offs2: Vec<u8> = [0i32, 2].iter().flat_map(|o| o.to_le_bytes()).collect();
        assert!(ArrowStrings::new(&offs2, false, &bad, None, 0, 1).is_err()); // not UTF-8
    }
}
