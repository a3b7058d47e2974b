//! Page compression for the chunks the writer encodes itself (`chunks.rs`), through the same
//! codec crates and settings as parquet-rs's own writer uses (its codec module is public only
//! under a feature that pulls in much more): snappy raw, zstd, LZ4_RAW blocks, gzip, brotli.

use parquet::basic::Compression;
use parquet::errors::{ParquetError, Result};
use std::io::Write;

/// A page compressor for one codec.
pub struct Compressor {
    codec: Compression,
    /// snappy's encoder and its output, reused from call to call (the bytes are copied out):
    /// a fresh output per page was zero-filled to the bound, 1.17x the page, and faulted in
    snappy: Option<(snap::raw::Encoder, Vec<u8>)>,
}

impl Compressor {
    /// The compressor of `codec`, or None for UNCOMPRESSED.
    pub fn new(codec: Compression) -> Result<Option<Compressor>> {
        Ok(match codec {
            Compression::UNCOMPRESSED => None,
            Compression::SNAPPY => Some(Compressor { codec, snappy: Some((snap::raw::Encoder::new(), Vec::new())) }),
            Compression::ZSTD(_) | Compression::LZ4_RAW | Compression::GZIP(_) | Compression::BROTLI(_) => Some(Compressor { codec, snappy: None }),
            other => return Err(ParquetError::General(format!("the writer does not compress with {other}"))),
        })
    }

    /// A page's bytes as stored: compressed by `compressor` (the page is left as it was, for
    /// the caller to reuse), or taken as they are (UNCOMPRESSED).
    pub fn page(compressor: Option<&mut Compressor>, buf: &mut Vec<u8>) -> Result<Vec<u8>> {
        let Some(c) = compressor else { return Ok(std::mem::take(buf)) };
        let mut out = Vec::new();
        c.compress(buf, &mut out)?;
        Ok(out)
    }

    /// Append `input` compressed to `out`.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let external = |e: std::io::Error| ParquetError::External(Box::new(e));
        match self.codec {
            Compression::SNAPPY => {
                let (encoder, buf) = self.snappy.as_mut().expect("a snappy encoder");
                let bound = snap::raw::max_compress_len(input.len());
                if buf.len() < bound {
                    buf.resize(bound, 0);
                }
                let n = encoder.compress(input, buf).map_err(|e| ParquetError::External(Box::new(e)))?;
                out.extend_from_slice(&buf[..n]);
            }
            Compression::ZSTD(level) => {
                let packed = zstd::bulk::compress(input, level.compression_level()).map_err(external)?;
                out.extend_from_slice(&packed);
            }
            Compression::LZ4_RAW => {
                let at = out.len();
                out.resize(at + lz4_flex::block::get_maximum_output_size(input.len()), 0);
                let n = lz4_flex::block::compress_into(input, &mut out[at..]).map_err(|e| ParquetError::External(Box::new(e)))?;
                out.truncate(at + n);
            }
            Compression::GZIP(level) => {
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(level.compression_level()));
                enc.write_all(input).map_err(external)?;
                enc.try_finish().map_err(external)?;
            }
            Compression::BROTLI(level) => {
                // parquet-rs's settings: 4 KiB buffer, a 2^22-byte window
                let mut enc = brotli::CompressorWriter::new(out, 4096, level.compression_level(), 22);
                enc.write_all(input).map_err(external)?;
                enc.flush().map_err(external)?;
            }
            _ => unreachable!("Compressor::new takes only these"),
        }
        Ok(())
    }
}
