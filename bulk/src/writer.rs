//! The Parquet writer of a bulk run: row groups of exactly `row_group_rows` rows (the last
//! one smaller), each group's columns encoded in parallel, the given
//! compression, dictionary pages for the segment columns only (scores and kept columns
//! plain, as the Python path's writer), the Arrow schema stored in the file (`ARROW:schema`)
//! so that readers get dictionary columns back as dictionaries.

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A codec by name: snappy, zstd, lz4, gzip, brotli or none (zstd, gzip and brotli at
/// pyarrow's default levels: 1, 9, 8; lz4 as LZ4_RAW).
pub fn codec(name: &str) -> Result<Compression, String> {
    let level = |r: Result<Compression, ParquetError>| r.map_err(|e| e.to_string());
    Ok(match name {
        "snappy" => Compression::SNAPPY,
        "zstd" => level(ZstdLevel::try_new(1).map(Compression::ZSTD))?,
        "lz4" => Compression::LZ4_RAW,
        "gzip" => level(GzipLevel::try_new(9).map(Compression::GZIP))?,
        "brotli" => level(BrotliLevel::try_new(8).map(Compression::BROTLI))?,
        "none" | "uncompressed" | "" => Compression::UNCOMPRESSED,
        other => return Err(format!("unknown compression {other:?}")),
    })
}

/// A Parquet file being written: batches are held until a row group is complete, then each
/// top-level column of the group is encoded on a thread of its own (the biggest first) and
/// the column chunks are appended in schema order.
pub struct Writer {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// the top-level field of each Parquet leaf column
    roots: Vec<usize>,
    held: Vec<RecordBatch>,
    held_rows: usize,
    group_rows: usize,
    threads: usize,
    groups: usize,
    rows: usize,
}

/// Why a writer could not be created.
#[derive(Debug)]
pub enum OpenError {
    /// A schema or an option the writer does not take.
    Config(String),
    /// The file could not be created.
    Write(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Config(e) | OpenError::Write(e) => f.write_str(e),
        }
    }
}

fn parquet_version() -> &'static str {
    parquet::file::properties::DEFAULT_CREATED_BY.rsplit(' ').next().unwrap_or("")
}

impl Writer {
    /// Create (or truncate) `path` for a file of `schema`; `dictionary`: the top-level
    /// columns written with dictionary pages (the others plain); `threads`: columns encoded at
    /// once. Err(Config) for a schema or option the writer does not take, Err(Write) for the
    /// file.
    pub fn create(path: &Path, schema: SchemaRef, compression: &str, row_group_rows: usize, dictionary: &[String], threads: usize) -> Result<Writer, OpenError> {
        let mut props = WriterProperties::builder()
            .set_compression(codec(compression).map_err(OpenError::Config)?)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            // as pyarrow writes: date64 as DATE (int32 days), list elements named "element"
            .set_coerce_types(true)
            .set_max_row_group_row_count(Some(row_group_rows.max(1)))
            .set_created_by(format!("leadscore_fast (parquet-rs {})", parquet_version()));
        for name in dictionary {
            props = props.set_column_dictionary_enabled(ColumnPath::new(vec![name.clone()]), true);
        }
        if !schema.metadata().is_empty() {
            // as pyarrow's writer: the schema's metadata also as the file's key/value pairs
            let mut kv: Vec<KeyValue> = schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
            kv.sort_by(|a, b| a.key.cmp(&b.key));
            props = props.set_key_value_metadata(Some(kv));
        }
        let mut props = props.build();
        let descr = ArrowSchemaConverter::new().with_coerce_types(props.coerce_types()).convert(&schema).map_err(|e| OpenError::Config(e.to_string()))?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let out = File::create(path).map_err(|e| OpenError::Write(format!("{}: {e}", path.display())))?;
        let file = SerializedFileWriter::new(out, descr.root_schema_ptr(), Arc::new(props)).map_err(|e| OpenError::Write(e.to_string()))?;
        let factory = ArrowRowGroupWriterFactory::new(&file, Arc::clone(&schema));
        let leaves = file.schema_descr().num_columns();
        let roots = (0..leaves).map(|leaf| file.schema_descr().get_column_root_idx(leaf)).collect();
        Ok(Writer { file, factory, schema, roots, held: Vec::new(), held_rows: 0, group_rows: row_group_rows.max(1), threads: threads.max(1), groups: 0, rows: 0 })
    }

    /// The file's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows written so far, held ones included.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Hold `batch` (of the file's schema); encode every complete row group held.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.rows += batch.num_rows();
        if batch.num_rows() > 0 {
            self.held_rows += batch.num_rows();
            self.held.push(batch.clone());
        }
        while self.held_rows >= self.group_rows {
            let group = self.take(self.group_rows);
            self.encode(&group)?;
        }
        Ok(())
    }

    /// Write what is held and the footer; the rows written. An empty file gets one empty
    /// row group, as pyarrow's writer writes.
    pub fn finish(mut self) -> Result<usize, ParquetError> {
        if self.held_rows > 0 || self.groups == 0 {
            let group = self.take(self.held_rows);
            self.encode(&group)?;
        }
        self.file.close()?;
        Ok(self.rows)
    }

    /// The first `n` held rows, slicing the batch where the group ends in it.
    fn take(&mut self, n: usize) -> Vec<RecordBatch> {
        let (mut out, mut got) = (Vec::new(), 0);
        while got < n {
            let b = self.held.remove(0);
            let want = n - got;
            if b.num_rows() <= want {
                got += b.num_rows();
                out.push(b);
            } else {
                out.push(b.slice(0, want));
                self.held.insert(0, b.slice(want, b.num_rows() - want));
                got += want;
            }
        }
        self.held_rows -= n;
        out
    }

    /// One row group from `batches`.
    fn encode(&mut self, batches: &[RecordBatch]) -> Result<(), ParquetError> {
        let n_fields = self.schema.fields().len();
        let mut per_field: Vec<Vec<ArrowColumnWriter>> = (0..n_fields).map(|_| Vec::new()).collect();
        for (leaf, w) in self.factory.create_column_writers(self.groups)?.into_iter().enumerate() {
            per_field[self.roots[leaf]].push(w);
        }
        let jobs: Vec<Mutex<Option<Vec<ArrowColumnWriter>>>> = per_field.into_iter().map(|w| Mutex::new(Some(w))).collect();
        let done: Vec<Mutex<Option<Result<Vec<ArrowColumnChunk>, ParquetError>>>> = (0..n_fields).map(|_| Mutex::new(None)).collect();
        let mut order: Vec<usize> = (0..n_fields).collect();
        let size = |f: usize| batches.iter().map(|b| b.column(f).get_array_memory_size()).sum::<usize>();
        order.sort_by_key(|&f| std::cmp::Reverse(size(f)));
        let next = AtomicUsize::new(0);
        let schema = &self.schema;
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&f) = order.get(i) else { break };
            let writers = jobs[f].lock().unwrap().take().unwrap_or_default();
            let encoded = encode_field(schema.field(f), batches.iter().map(|b| b.column(f)), writers);
            *done[f].lock().unwrap() = Some(encoded);
        };
        let threads = self.threads.min(n_fields).max(1);
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
        let mut group = self.file.next_row_group()?;
        for slot in done {
            let chunks = slot.into_inner().unwrap().unwrap_or_else(|| Err(ParquetError::General("a column was not encoded".into())))?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut group)?;
            }
        }
        group.close()?;
        self.groups += 1;
        Ok(())
    }
}

/// One top-level column's arrays through its leaf writers.
fn encode_field<'a>(field: &Field, arrays: impl Iterator<Item = &'a ArrayRef>, mut writers: Vec<ArrowColumnWriter>) -> Result<Vec<ArrowColumnChunk>, ParquetError> {
    for array in arrays {
        for (leaf, w) in compute_leaves(field, array)?.into_iter().zip(writers.iter_mut()) {
            w.write(&leaf)?;
        }
    }
    writers.into_iter().map(|w| w.close()).collect()
}
