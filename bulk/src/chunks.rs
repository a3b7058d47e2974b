//! Column chunks the writer encodes itself, for the two kinds of column a scoring run
//! writes: float64 (scores) as PLAIN pages, and dictionary<int32, string> (segments) as one
//! dictionary page and RLE_DICTIONARY pages.
//!
//! arrow-rs's general column writer hashes every string of a dictionary column into a
//! dictionary of its own and compares every value for the statistics; here a batch's codes
//! are remapped once per batch dictionary and the statistics come from the labels seen.
//! Definition levels are the validity bitmap itself (bit-packed with width 1 is the same
//! LSB-first layout), or one RLE run when nothing is NULL. Pages are version-1 data pages,
//! as arrow-rs writes them, of at most `PAGE_ROWS` rows; the chunk's bytes are handed to the
//! row group with `append_column`.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray};
use crate::codecs::Compressor;
use arrow_buffer::NullBuffer;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, PageEncodingStats};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::collections::HashMap;

/// The most rows a data page holds (a page of float64 values: 1 MiB, arrow-rs's page limit).
pub const PAGE_ROWS: usize = 128 * 1024;

/// A column chunk being encoded by hand.
pub enum HandChunk {
    Float(FloatChunk),
    Dict(DictChunk),
}

impl HandChunk {
    /// The chunk for a column of `array`'s type, if it is one encoded by hand: float64, or
    /// (`dictionary`: the column is written with dictionary pages) dictionary<int32, utf8>.
    pub fn for_type(
        data_type: &arrow_schema::DataType,
        dictionary: bool,
        descr: ColumnDescPtr,
        codec: Compression,
    ) -> Result<Option<HandChunk>> {
        use arrow_schema::DataType as T;
        Ok(match data_type {
            T::Float64 if descr.max_rep_level() == 0 => {
                Some(HandChunk::Float(FloatChunk::new(Pages::new(descr, codec)?)))
            }
            T::Dictionary(k, v)
                if dictionary
                    && **k == T::Int32
                    && **v == T::Utf8
                    && descr.max_rep_level() == 0 =>
            {
                Some(HandChunk::Dict(DictChunk::new(Pages::new(descr, codec)?)))
            }
            _ => None,
        })
    }

    /// Append the rows of `array` (of the column's type).
    pub fn write(&mut self, array: &ArrayRef) -> Result<()> {
        match self {
            HandChunk::Float(c) => c.write(array),
            HandChunk::Dict(c) => c.write(array),
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        match self {
            HandChunk::Float(c) => c.pages.rows,
            HandChunk::Dict(c) => c.pages.rows,
        }
    }

    /// The chunk's bytes and its metadata, for `SerializedRowGroupWriter::append_column`.
    pub fn finish(self) -> Result<(Bytes, ColumnCloseResult)> {
        match self {
            HandChunk::Float(c) => c.finish(),
            HandChunk::Dict(c) => c.finish(),
        }
    }
}

/// The encoded data pages of a chunk and the counts its metadata needs.
struct Pages {
    descr: ColumnDescPtr,
    codec: Compression,
    compressor: Option<Compressor>,
    data: Vec<CompressedPage>,
    /// a data page before compression, reused from page to page
    scratch: Vec<u8>,
    rows: u64,
    nulls: u64,
}

impl Pages {
    fn new(descr: ColumnDescPtr, codec: Compression) -> Result<Pages> {
        let compressor = Compressor::new(codec)?;
        Ok(Pages {
            descr,
            codec,
            compressor,
            data: Vec::new(),
            scratch: Vec::new(),
            rows: 0,
            nulls: 0,
        })
    }

    /// One data page of `rows` rows: the definition levels from `valid` (the column's
    /// validity over those rows) when the column is nullable, then `values` (encoded as
    /// `encoding`, the non-NULL rows only), compressed.
    fn data_page(
        &mut self,
        valid: Option<&NullBuffer>,
        rows: usize,
        encoding: Encoding,
        values: &[u8],
    ) -> Result<()> {
        let nulls = valid.map_or(0, |v| v.null_count());
        if self.descr.max_def_level() == 0 && nulls > 0 {
            return Err(ParquetError::General(format!(
                "column {} is not nullable but holds {nulls} NULLs",
                self.descr.name()
            )));
        }
        let buf = &mut self.scratch;
        buf.clear();
        buf.reserve(values.len() + rows / 8 + 16);
        if self.descr.max_def_level() > 0 {
            def_levels_v1(buf, valid.filter(|v| v.null_count() > 0), rows);
        }
        buf.extend_from_slice(values);
        let uncompressed = buf.len();
        let buf = Compressor::page(self.compressor.as_mut(), buf)?;
        let page = Page::DataPage {
            buf: Bytes::from(buf),
            num_values: rows as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        self.data.push(CompressedPage::new(page, uncompressed));
        self.rows += rows as u64;
        self.nulls += nulls as u64;
        Ok(())
    }

    /// The chunk: `dictionary` (a PLAIN dictionary page's values and their count) first,
    /// then the data pages; the metadata holds offsets within the returned bytes.
    fn finish(
        self,
        dictionary: Option<(Vec<u8>, usize)>,
        data_encoding: Encoding,
        statistics: Statistics,
    ) -> Result<(Bytes, ColumnCloseResult)> {
        // the pages and their headers (well under 64 bytes each), without regrowing
        let size = dictionary.as_ref().map_or(0, |(v, _)| v.len()) + self.data.iter().map(|p| p.data().len() + 64).sum::<usize>() + 64;
        let mut sink = TrackedWrite::new(Vec::with_capacity(size));
        let mut stats = Vec::new();
        let (mut compressed, mut uncompressed) = (0u64, 0u64);
        let mut dictionary_offset = None;
        let mut compressor = self.compressor;
        let mut pages = SerializedPageWriter::new(&mut sink);
        if let Some((mut values, entries)) = dictionary {
            let uncompressed_len = values.len();
            let buf = Compressor::page(compressor.as_mut(), &mut values)?;
            let page = Page::DictionaryPage {
                buf: Bytes::from(buf),
                num_values: entries as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let spec = pages.write_page(CompressedPage::new(page, uncompressed_len))?;
            dictionary_offset = Some(spec.offset as i64);
            compressed += spec.compressed_size as u64;
            uncompressed += spec.uncompressed_size as u64;
            stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        let mut data_offset = None;
        let n_pages = self.data.len();
        for page in self.data {
            let spec = pages.write_page(page)?;
            data_offset.get_or_insert(spec.offset as i64);
            compressed += spec.compressed_size as u64;
            uncompressed += spec.uncompressed_size as u64;
        }
        if n_pages > 0 {
            stats.push(PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: data_encoding,
                count: n_pages as i32,
            });
        }
        pages.close()?;
        let mut encodings = vec![Encoding::PLAIN, Encoding::RLE];
        if data_encoding != Encoding::PLAIN {
            encodings.push(data_encoding);
        }
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.codec)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(stats)
            .set_total_compressed_size(compressed as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_num_values(self.rows as i64)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset)
            .set_statistics(statistics)
            .build()?;
        let bytes_written = sink.bytes_written() as u64;
        let close = ColumnCloseResult {
            bytes_written,
            rows_written: self.rows,
            metadata,
            bloom_filter: None,
            column_index: None,
            offset_index: None,
        };
        Ok((Bytes::from(sink.into_inner()?), close))
    }
}

/// Version-1 definition levels of `rows` rows (max level 1): their byte length, then one
/// RLE run of 1s when `valid` is None (nothing NULL), else the validity bitmap as bit-packed
/// groups of 8 (the bits past `rows` are never read).
fn def_levels_v1(buf: &mut Vec<u8>, valid: Option<&NullBuffer>, rows: usize) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    match valid {
        None => {
            uleb128(buf, (rows as u64) << 1);
            buf.push(1);
        }
        Some(v) => {
            let groups = rows.div_ceil(8);
            uleb128(buf, ((groups as u64) << 1) | 1);
            let bits = v.inner().sliced();
            buf.extend_from_slice(&bits.as_slice()[..groups.min(bits.len())]);
            buf.resize(buf.len() + groups.saturating_sub(bits.len()), 0);
        }
    }
    let len = (buf.len() - start - 4) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn uleb128(buf: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// A float64 column: PLAIN pages, statistics in IEEE 754 total order with NaN left out and
/// counted (as arrow-rs computes them for the column order it declares).
pub struct FloatChunk {
    pages: Pages,
    /// min and max as total-order keys; `any`: a non-NaN value was seen
    min: i64,
    max: i64,
    any: bool,
    nans: u64,
}

/// The total-order key of a float64's bits (a signed integer ordered as the floats are).
fn total_order_key(bits: i64) -> i64 {
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

impl FloatChunk {
    fn new(pages: Pages) -> FloatChunk {
        FloatChunk {
            pages,
            min: i64::MAX,
            max: i64::MIN,
            any: false,
            nans: 0,
        }
    }

    fn write(&mut self, array: &ArrayRef) -> Result<()> {
        let floats = array
            .as_primitive_opt::<arrow_array::types::Float64Type>()
            .ok_or_else(|| ParquetError::General("a float64 column got another type".into()))?;
        let mut at = 0;
        while at < floats.len() {
            let n = PAGE_ROWS.min(floats.len() - at);
            let page = floats.slice(at, n);
            let valid = page.nulls().filter(|v| v.null_count() > 0).cloned();
            match &valid {
                None => {
                    self.fold(page.values());
                    self.pages.data_page(
                        None,
                        n,
                        Encoding::PLAIN,
                        page.values().inner().as_slice(),
                    )?;
                }
                Some(v) => {
                    let present: Vec<f64> = v.valid_indices().map(|i| page.values()[i]).collect();
                    self.fold(&present);
                    let bytes: Vec<u8> = present.iter().flat_map(|x| x.to_le_bytes()).collect();
                    self.pages.data_page(Some(v), n, Encoding::PLAIN, &bytes)?;
                }
            }
            at += n;
        }
        Ok(())
    }

    /// Fold `values` (non-NULL) into the statistics, eight lanes at a time (the loop vectorises).
    fn fold(&mut self, values: &[f64]) {
        const L: usize = 8;
        let (mut lo, mut hi, mut nans) = ([i64::MAX; L], [i64::MIN; L], [0u64; L]);
        let mut step = |k: usize, v: f64| {
            let nan = v.is_nan();
            let key = total_order_key(v.to_bits() as i64);
            lo[k] = lo[k].min(if nan { i64::MAX } else { key });
            hi[k] = hi[k].max(if nan { i64::MIN } else { key });
            nans[k] += nan as u64;
        };
        let mut lanes = values.chunks_exact(L);
        for ch in &mut lanes {
            for k in 0..L {
                step(k, ch[k]);
            }
        }
        for (k, &v) in lanes.remainder().iter().enumerate() {
            step(k, v);
        }
        let nan_count: u64 = nans.iter().sum();
        self.nans += nan_count;
        if (nan_count as usize) < values.len() {
            self.any = true;
            self.min = lo.iter().fold(self.min, |a, &b| a.min(b));
            self.max = hi.iter().fold(self.max, |a, &b| a.max(b));
        }
    }

    fn finish(self) -> Result<(Bytes, ColumnCloseResult)> {
        let (min, max) = if self.any {
            (
                Some(f64::from_bits(total_order_key(self.min) as u64)),
                Some(f64::from_bits(total_order_key(self.max) as u64)),
            )
        } else {
            (None, None)
        };
        let nans = (self.pages.rows > self.pages.nulls).then_some(self.nans);
        let stats = ValueStatistics::new(min, max, None, Some(self.pages.nulls), false)
            .with_nan_count(nans)
            .with_backwards_compatible_min_max(true);
        self.pages
            .finish(None, Encoding::PLAIN, Statistics::Double(stats))
    }
}

/// A dictionary<int32, utf8> column: one dictionary page of the labels the chunk's batches
/// use (in the order first met, each batch dictionary mapped once), RLE_DICTIONARY pages of
/// the codes, byte-wise min and max of the labels seen.
pub struct DictChunk {
    pages: Pages,
    labels: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, u32>,
    /// the last batch dictionary and its values' positions in `labels` (None: a NULL value)
    last: Option<(ArrayRef, Vec<Option<u32>>)>,
    seen: Vec<bool>,
}

impl DictChunk {
    fn new(pages: Pages) -> DictChunk {
        DictChunk {
            pages,
            labels: Vec::new(),
            index: HashMap::new(),
            last: None,
            seen: Vec::new(),
        }
    }

    /// The positions in `labels` of `values`' entries, adding those not met before.
    fn mapping(&mut self, values: &ArrayRef) -> Result<Vec<Option<u32>>> {
        if let Some((d, m)) = &self.last {
            if std::sync::Arc::ptr_eq(d, values) || d.to_data() == values.to_data() {
                return Ok(m.clone());
            }
        }
        let strings = values.as_string_opt::<i32>().ok_or_else(|| {
            ParquetError::General("a dictionary column whose values are not strings".into())
        })?;
        let mut m = Vec::with_capacity(strings.len());
        for v in strings.iter() {
            m.push(v.map(|s| {
                let next = self.labels.len() as u32;
                *self.index.entry(s.as_bytes().to_vec()).or_insert_with(|| {
                    self.labels.push(s.as_bytes().to_vec());
                    self.seen.push(false);
                    next
                })
            }));
        }
        self.last = Some((values.clone(), m.clone()));
        Ok(m)
    }

    fn write(&mut self, array: &ArrayRef) -> Result<()> {
        let dict: &DictionaryArray<Int32Type> = array
            .as_dictionary_opt::<Int32Type>()
            .ok_or_else(|| ParquetError::General("a dictionary column got another type".into()))?;
        let map = self.mapping(dict.values())?;
        let mut at = 0;
        while at < dict.len() {
            let n = PAGE_ROWS.min(dict.len() - at);
            let page = dict.slice(at, n);
            // a row is NULL where its key is, or where it names a NULL label
            let codes: Vec<Option<u32>> = page
                .keys()
                .iter()
                .map(|k| k.and_then(|k| map.get(k as usize).copied().flatten()))
                .collect();
            let valid = codes
                .iter()
                .any(Option::is_none)
                .then(|| NullBuffer::from_iter(codes.iter().map(Option::is_some)));
            // a page's codes: their bit width, then bit-packed runs of the non-NULL rows' codes
            let width = bit_width(self.labels.len());
            let present: Vec<u32> = codes.iter().flatten().copied().collect();
            for &c in &present {
                self.seen[c as usize] = true;
            }
            let mut values = vec![width];
            bit_packed(&mut values, &present, width);
            self.pages
                .data_page(valid.as_ref(), n, Encoding::RLE_DICTIONARY, &values)?;
            at += n;
        }
        Ok(())
    }

    fn finish(self) -> Result<(Bytes, ColumnCloseResult)> {
        let seen = || {
            self.labels
                .iter()
                .zip(&self.seen)
                .filter(|(_, s)| **s)
                .map(|(l, _)| l.as_slice())
        };
        let min = seen().min().map(ByteArray::from);
        let max = seen().max().map(ByteArray::from);
        let stats = ValueStatistics::new(min, max, None, Some(self.pages.nulls), false);
        let mut plain = Vec::new();
        for l in &self.labels {
            plain.extend_from_slice(&(l.len() as u32).to_le_bytes());
            plain.extend_from_slice(l);
        }
        let entries = self.labels.len();
        self.pages.finish(
            Some((plain, entries)),
            Encoding::RLE_DICTIONARY,
            Statistics::ByteArray(stats),
        )
    }
}

/// Bits per code for a dictionary of `entries` labels (at least 1).
fn bit_width(entries: usize) -> u8 {
    (usize::BITS - entries.saturating_sub(1).leading_zeros()).max(1) as u8
}

/// `codes` as bit-packed runs of the RLE / bit-packed hybrid encoding, `width` bits each:
/// groups of 8 codes packed LSB first, at most 63 groups a run (a one-byte run header), the
/// last group padded with zeros (a reader takes only the page's count).
fn bit_packed(out: &mut Vec<u8>, codes: &[u32], width: u8) {
    for run in codes.chunks(63 * 8) {
        let groups = run.len().div_ceil(8);
        out.push(((groups as u8) << 1) | 1);
        let (mut acc, mut bits) = (0u64, 0u32);
        for k in 0..groups * 8 {
            acc |= (run.get(k).copied().unwrap_or(0) as u64) << bits;
            bits += width as u32;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
    }
}
