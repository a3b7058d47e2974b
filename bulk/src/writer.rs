//! The Parquet writer of a bulk run (and of the Python path's `_engine.ParquetWriter`): row
//! groups of exactly `row_group_rows` rows (the last one smaller), each batch's columns
//! encoded as it comes, in parallel, the given compression, dictionary pages for the segment
//! columns only (scores and kept columns plain), the Arrow schema stored in the file
//! (`ARROW:schema`) so that readers get dictionary columns back as dictionaries.

use crate::chunks::HandChunk;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::schema::types::ColumnDescPtr;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::io::{BufWriter, Write};
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

/// The most bytes one `write` call hands the kernel, and the fewest it is given at once:
/// parquet-rs's own buffer writes 8 KiB at a time, and page-cache writes cost the least per
/// byte at 64 KiB (several times less than at 8 KiB or at 128 KiB and above on Linux 6's ext4).
const WRITE_SIZE: usize = 64 << 10;

/// `path` opened for writing and empty. A file that is there and empty already (the temporary
/// file `atomic.reserve` made) is not truncated: truncating a file to size 0 makes ext4
/// allocate its blocks and start writing it out when it is closed (`auto_da_alloc`), in the
/// closing thread.
fn empty_file(path: &Path) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)?;
    if file.metadata()?.len() > 0 {
        file.set_len(0)?;
    }
    Ok(file)
}

/// The output file under a `WRITE_SIZE` buffer.
type Out = BufWriter<Sliced>;

/// A file whose writes are at most `WRITE_SIZE` bytes (a `BufWriter` hands larger slices on
/// as they are).
struct Sliced(File);

impl Write for Sliced {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(&buf[..buf.len().min(WRITE_SIZE)])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A Parquet file being written: each batch's columns are encoded as it comes, on threads
/// (the biggest first), into the open row group's column chunks; when the group holds
/// `row_group_rows` rows its chunks are appended in schema order. Float64 columns and the
/// dictionary columns of segment labels are encoded by `chunks.rs`, the others by arrow-rs.
pub struct Writer {
    file: SerializedFileWriter<Out>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    codec: Compression,
    /// the top-level field of each Parquet leaf column
    roots: Vec<usize>,
    /// per top-level field: written with dictionary pages
    dictionary: Vec<bool>,
    /// per top-level field: its chunks are copied from another file (`copying`), not encoded
    copied: Vec<bool>,
    group: Option<Group>,
    group_rows: usize,
    threads: usize,
    groups: usize,
    rows: usize,
}

/// The row group being written: per top-level field its chunk, and the rows it holds.
struct Group {
    columns: Vec<Mutex<Column>>,
    rows: usize,
}

/// One top-level field's chunk in the open row group.
enum Column {
    /// arrow-rs's writers of its leaves
    Arrow(Vec<ArrowColumnWriter>),
    /// encoded by hand; arrow-rs's writer too, for a group of no rows
    Hand(HandChunk, Vec<ArrowColumnWriter>),
    /// copied when the group closes (`end_group`)
    Copied,
}

/// A column chunk of another Parquet file to copy as it is into the row group closing: its
/// metadata there (with the offsets of that file) and the file.
pub struct Copy<'a> {
    pub field: usize,
    pub metadata: ColumnChunkMetaData,
    pub rows: u64,
    pub source: &'a File,
}

/// A closed chunk, ready to append.
enum Closed {
    Arrow(Vec<ArrowColumnChunk>),
    Hand(Bytes, ColumnCloseResult),
    Copied,
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
    parquet::file::properties::DEFAULT_CREATED_BY
        .rsplit(' ')
        .next()
        .unwrap_or("")
}

impl Writer {
    /// Create (or truncate) `path` for a file of `schema`; `dictionary`: the top-level
    /// columns written with dictionary pages (the others plain); `threads`: columns encoded at
    /// once. Err(Config) for a schema or option the writer does not take, Err(Write) for the
    /// file.
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        compression: &str,
        row_group_rows: usize,
        dictionary: &[String],
        threads: usize,
    ) -> Result<Writer, OpenError> {
        let codec = codec(compression).map_err(OpenError::Config)?;
        let mut props = WriterProperties::builder()
            .set_compression(codec)
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
            let mut kv: Vec<KeyValue> = schema
                .metadata()
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect();
            kv.sort_by(|a, b| a.key.cmp(&b.key));
            props = props.set_key_value_metadata(Some(kv));
        }
        let mut props = props.build();
        let descr = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)
            .map_err(|e| OpenError::Config(e.to_string()))?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let out =
            empty_file(path).map_err(|e| OpenError::Write(format!("{}: {e}", path.display())))?;
        let out = BufWriter::with_capacity(WRITE_SIZE, Sliced(out));
        let file = SerializedFileWriter::new(out, descr.root_schema_ptr(), Arc::new(props))
            .map_err(|e| OpenError::Write(e.to_string()))?;
        let factory = ArrowRowGroupWriterFactory::new(&file, Arc::clone(&schema));
        let leaves = file.schema_descr().num_columns();
        let roots = (0..leaves)
            .map(|leaf| file.schema_descr().get_column_root_idx(leaf))
            .collect();
        let dictionary = schema
            .fields()
            .iter()
            .map(|f| dictionary.iter().any(|d| d == f.name()))
            .collect();
        let schema_len = schema.fields().len();
        Ok(Writer {
            file,
            factory,
            schema,
            codec,
            roots,
            dictionary,
            copied: vec![false; schema_len],
            group: None,
            group_rows: row_group_rows.max(1),
            threads: threads.max(1),
            groups: 0,
            rows: 0,
        })
    }

    /// The file's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The Parquet leaf column of top-level field `field`, if it has one leaf.
    pub fn leaf_of(&self, field: usize) -> Option<ColumnDescPtr> {
        let leaves: Vec<usize> = (0..self.roots.len()).filter(|&l| self.roots[l] == field).collect();
        (leaves.len() == 1).then(|| self.file.schema_descr().column(leaves[0]))
    }

    /// Copy `fields`' chunks from another file instead of encoding them: batches given to
    /// `write` then hold the other fields only (in schema order), and row groups end where
    /// `end_group` says (with those chunks), not after `row_group_rows` rows.
    pub fn copying(mut self, fields: &[usize]) -> Writer {
        for &f in fields {
            self.copied[f] = true;
        }
        if !fields.is_empty() {
            self.group_rows = usize::MAX;
        }
        self
    }

    /// Close the open row group (copying): `copies` are the copied fields' chunks.
    pub fn end_group(&mut self, copies: Vec<Copy<'_>>) -> Result<(), ParquetError> {
        if self.group.is_none() {
            self.group = Some(self.open_group()?);
        }
        self.close_group(copies)
    }

    /// Rows written so far, held ones included.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Encode `batch` (of the file's schema, less the copied fields) into the open row group,
    /// closing each group that fills.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        let n = batch.num_rows();
        self.rows += n;
        let mut at = 0;
        while at < n {
            if self.group.is_none() {
                self.group = Some(self.open_group()?);
            }
            let held = self.group.as_ref().map_or(0, |g| g.rows);
            let k = (self.group_rows - held).min(n - at);
            self.encode(&batch.slice(at, k))?;
            at += k;
            if held + k == self.group_rows {
                self.close_group(Vec::new())?;
            }
        }
        Ok(())
    }

    /// Close the open row group and write the footer; the rows written. An empty file gets
    /// one empty row group, as pyarrow's writer writes.
    pub fn finish(mut self) -> Result<usize, ParquetError> {
        if self.group.is_none() && self.groups == 0 {
            self.group = Some(self.open_group()?);
        }
        if self.group.is_some() {
            if self.copied.iter().any(|&c| c) && self.groups > 0 {
                return Err(ParquetError::General("rows written after the last copied row group".into()));
            }
            self.close_group(Vec::new())?;
        }
        self.file.close()?;
        Ok(self.rows)
    }

    /// A new row group's chunks.
    fn open_group(&mut self) -> Result<Group, ParquetError> {
        let n_fields = self.schema.fields().len();
        let mut per_field: Vec<Vec<ArrowColumnWriter>> =
            (0..n_fields).map(|_| Vec::new()).collect();
        let mut first_leaf = vec![usize::MAX; n_fields];
        for (leaf, w) in self
            .factory
            .create_column_writers(self.groups)?
            .into_iter()
            .enumerate()
        {
            let f = self.roots[leaf];
            first_leaf[f] = first_leaf[f].min(leaf);
            per_field[f].push(w);
        }
        let mut columns = Vec::with_capacity(n_fields);
        for (f, writers) in per_field.into_iter().enumerate() {
            if self.copied[f] {
                columns.push(Mutex::new(Column::Copied));
                continue;
            }
            let descr = self.file.schema_descr().column(first_leaf[f]);
            let hand = if writers.len() == 1 {
                HandChunk::for_type(
                    self.schema.field(f).data_type(),
                    self.dictionary[f],
                    descr,
                    self.codec,
                )?
            } else {
                None
            };
            columns.push(Mutex::new(match hand {
                Some(h) => Column::Hand(h, writers),
                None => Column::Arrow(writers),
            }));
        }
        Ok(Group { columns, rows: 0 })
    }

    /// `threads` workers run `job(f)` for every top-level field, the biggest first.
    fn each_field(&self, size: impl Fn(usize) -> usize, job: impl Fn(usize) + Sync) {
        let n_fields = self.schema.fields().len();
        let mut order: Vec<usize> = (0..n_fields).collect();
        order.sort_by_key(|&f| std::cmp::Reverse(size(f)));
        let next = AtomicUsize::new(0);
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&f) = order.get(i) else { break };
            job(f);
        };
        let threads = self.threads.min(n_fields).max(1);
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
    }

    /// Append `batch`'s rows (no more than the open group has room for) to its chunks.
    fn encode(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        let group = self.group.as_ref().expect("an open row group");
        let failed: Mutex<Option<ParquetError>> = Mutex::new(None);
        let schema = &self.schema;
        // the batch's column of each field (the copied fields have none)
        let mut at = vec![None; self.copied.len()];
        let mut next = 0;
        for (f, copied) in self.copied.iter().enumerate() {
            if !copied {
                at[f] = Some(next);
                next += 1;
            }
        }
        if next != batch.num_columns() {
            return Err(ParquetError::General(format!("a batch of {} columns for {next} written fields", batch.num_columns())));
        }
        let column_of = |f: usize| at[f].map(|i| batch.column(i));
        self.each_field(
            |f| column_of(f).map_or(0, |c| c.get_array_memory_size()),
            |f| {
                let Some(array) = column_of(f) else { return };
                let mut column = group.columns[f].lock().unwrap();
                let done = match &mut *column {
                    Column::Arrow(writers) => encode_field(schema.field(f), array, writers),
                    Column::Hand(chunk, _) => chunk.write(array),
                    Column::Copied => Ok(()),
                };
                if let Err(e) = done {
                    failed.lock().unwrap().get_or_insert(e);
                }
            },
        );
        if let Some(e) = failed.into_inner().unwrap() {
            return Err(e);
        }
        self.group.as_mut().expect("an open row group").rows += batch.num_rows();
        Ok(())
    }

    /// Close the open group's chunks (on threads) and append them in schema order, the copied
    /// fields' from `copies`.
    fn close_group(&mut self, copies: Vec<Copy<'_>>) -> Result<(), ParquetError> {
        let mut copies: Vec<Option<Copy<'_>>> = {
            let mut by_field: Vec<Option<Copy<'_>>> = (0..self.copied.len()).map(|_| None).collect();
            for c in copies {
                let f = c.field;
                by_field[f] = Some(c);
            }
            by_field
        };
        let group = self.group.take().expect("an open row group");
        let n_fields = group.columns.len();
        let columns: Vec<Mutex<Option<Column>>> = group
            .columns
            .into_iter()
            .map(|c| Mutex::new(Some(c.into_inner().unwrap())))
            .collect();
        let done: Vec<Mutex<Option<Result<Closed, ParquetError>>>> =
            (0..n_fields).map(|_| Mutex::new(None)).collect();
        self.each_field(
            |f| f,
            |f| {
                let column = columns[f].lock().unwrap().take().expect("a chunk");
                let closed = match column {
                    Column::Hand(chunk, _) if chunk.rows() > 0 => {
                        chunk.finish().map(|(b, c)| Closed::Hand(b, c))
                    }
                    Column::Hand(_, writers) | Column::Arrow(writers) => writers
                        .into_iter()
                        .map(|w| w.close())
                        .collect::<Result<Vec<_>, _>>()
                        .map(Closed::Arrow),
                    Column::Copied => Ok(Closed::Copied),
                };
                *done[f].lock().unwrap() = Some(closed);
            },
        );
        let mut rg = self.file.next_row_group()?;
        for (f, slot) in done.into_iter().enumerate() {
            match slot
                .into_inner()
                .unwrap()
                .unwrap_or_else(|| Err(ParquetError::General("a column was not encoded".into())))?
            {
                Closed::Arrow(chunks) => {
                    for chunk in chunks {
                        chunk.append_to_row_group(&mut rg)?;
                    }
                }
                Closed::Hand(bytes, close) => rg.append_column(&bytes, close)?,
                Closed::Copied => {
                    let c = copies[f].take().ok_or_else(|| ParquetError::General(format!("no chunk to copy for column {}", self.schema.field(f).name())))?;
                    let close = ColumnCloseResult {
                        bytes_written: c.metadata.compressed_size() as u64,
                        rows_written: c.rows,
                        metadata: c.metadata,
                        bloom_filter: None,
                        column_index: None,
                        offset_index: None,
                    };
                    rg.append_column(c.source, close)?;
                }
            }
        }
        rg.close()?;
        self.groups += 1;
        Ok(())
    }
}

/// One top-level column's rows through its leaf writers.
fn encode_field(
    field: &Field,
    array: &ArrayRef,
    writers: &mut [ArrowColumnWriter],
) -> Result<(), ParquetError> {
    for (leaf, w) in compute_leaves(field, array)?
        .into_iter()
        .zip(writers.iter_mut())
    {
        w.write(&leaf)?;
    }
    Ok(())
}
