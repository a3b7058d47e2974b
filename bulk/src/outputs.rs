//! A scored batch as Arrow columns (float64 scores, NULL where NaN; segment codes as
//! dictionary<int32, string> over the segmentation's labels, NULL where -1), the schema
//! `lf.score` gives, and the run's summary (per score min/max/sum over non-NULL values, per
//! segmentation its label counts).

use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Float64Array, Int32Array, StringArray, TimestampMillisecondArray, TimestampSecondArray};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use leadscore_engine::batch::Scored;
use leadscore_engine::program::Program;
use std::sync::Arc;

/// The segment column type: dictionary<int32, string>.
pub fn segment_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The output schema: the program's scores, its segmentations, then the kept input fields.
pub fn schema(program: &Program, keep: &[Field]) -> Schema {
    let mut fields: Vec<Field> = program.scores.iter().map(|s| Field::new(s, DataType::Float64, true)).collect();
    fields.extend(program.segments.iter().map(|g| Field::new(&g.name, segment_type(), true)));
    fields.extend(keep.iter().cloned());
    Schema::new(fields)
}

/// A kept input field as the output holds it, the type pyarrow reads from the file (so the
/// Python path's): Parquet has no seconds unit, so a timestamp[s] column (stored in
/// milliseconds) is kept in milliseconds; and a timestamp's time zone is the one the file's
/// Arrow schema records (`hint`), which arrow-rs drops where the units differ. Others as they are.
pub fn kept_field(field: &Field, hint: Option<&Field>) -> Field {
    match field.data_type() {
        DataType::Timestamp(unit, tz) => {
            let unit = if *unit == TimeUnit::Second { TimeUnit::Millisecond } else { *unit };
            let tz = match hint.map(|h| h.data_type()) {
                Some(DataType::Timestamp(_, hinted)) => hinted.clone(),
                _ => tz.clone(),
            };
            field.clone().with_data_type(DataType::Timestamp(unit, tz))
        }
        _ => field.clone(),
    }
}

/// A kept column as `kept` (its `kept_field`) says: seconds as milliseconds, the zone relabelled.
pub fn kept_array(array: &ArrayRef, kept: &Field) -> ArrayRef {
    let DataType::Timestamp(_, tz) = kept.data_type() else { return array.clone() };
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            let secs = array.as_any().downcast_ref::<TimestampSecondArray>().expect("a timestamp[s] array");
            let ms: ScalarBuffer<i64> = secs.values().iter().map(|&v| v.wrapping_mul(1000)).collect();
            Arc::new(TimestampMillisecondArray::new(ms, secs.nulls().cloned()).with_timezone_opt(tz.clone()))
        }
        t if t == kept.data_type() => array.clone(),
        _ => arrow_array::make_array(array.to_data().into_builder().data_type(kept.data_type().clone()).build().expect("the same timestamp data")),
    }
}

/// The Arrow schema a Parquet file records (`ARROW:schema`, as pyarrow and arrow-rs write it),
/// if it has one that decodes.
pub fn recorded_schema(kv: Option<&Vec<parquet::file::metadata::KeyValue>>) -> Option<Schema> {
    use base64::Engine;
    let encoded = kv?.iter().find(|e| e.key == "ARROW:schema")?.value.as_ref()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let slice = if bytes.len() > 8 && bytes[0..4] == [255u8; 4] { &bytes[8..] } else { &bytes[..] };
    let message = arrow_ipc::root_as_message(slice).ok()?;
    arrow_ipc::convert::try_fb_to_schema(message.header_as_schema()?).ok()
}

/// Each segmentation's labels as a string array (the output dictionaries).
pub fn label_arrays(program: &Program) -> Vec<ArrayRef> {
    program.segments.iter().map(|g| Arc::new(StringArray::from(g.labels.clone())) as ArrayRef).collect()
}

/// The score and segment columns of a scored `n`-row batch, sharing its buffers.
pub fn columns(scored: Scored, n: usize, labels: &[ArrayRef]) -> Result<Vec<ArrayRef>, String> {
    let n_scores = scored.scores.len().checked_div(n).unwrap_or(0);
    let nulls = scored.nulls;
    let scores = Buffer::from_vec(scored.scores);
    let codes = Buffer::from_vec(scored.segments);
    let mut out: Vec<ArrayRef> = Vec::with_capacity(n_scores + labels.len());
    for s in 0..n_scores {
        let values: ScalarBuffer<f64> = ScalarBuffer::new(scores.clone(), s * n, n);
        let valid = (nulls[s] > 0).then(|| NullBuffer::new(BooleanBuffer::collect_bool(n, |i| !values[i].is_nan())));
        out.push(Arc::new(Float64Array::new(values, valid)));
    }
    for (g, dictionary) in labels.iter().enumerate() {
        let keys: ScalarBuffer<i32> = ScalarBuffer::new(codes.clone(), g * n, n);
        let valid = (nulls[n_scores + g] > 0).then(|| NullBuffer::new(BooleanBuffer::collect_bool(n, |i| keys[i] >= 0)));
        let keys = Int32Array::new(keys, valid);
        let seg = DictionaryArray::<Int32Type>::try_new(keys, dictionary.clone()).map_err(|e| e.to_string())?;
        out.push(Arc::new(seg));
    }
    Ok(out)
}

/// Min, max and sum of a score's non-NULL values, and how many there were.
#[derive(Clone, Debug)]
pub struct ScoreStats {
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: u64,
}

/// What a run scored: rows, per score its stats, per segmentation its count per label then
/// of NULL (no case matched).
#[derive(Clone, Debug)]
pub struct Summary {
    pub rows: u64,
    pub scores: Vec<ScoreStats>,
    pub segments: Vec<Vec<u64>>,
}

impl Summary {
    pub fn new(program: &Program) -> Summary {
        Summary {
            rows: 0,
            scores: vec![ScoreStats { min: f64::INFINITY, max: f64::NEG_INFINITY, sum: 0.0, count: 0 }; program.scores.len()],
            segments: program.segments.iter().map(|g| vec![0; g.labels.len() + 1]).collect(),
        }
    }

    /// Fold in a scored batch of `n` rows.
    pub fn add(&mut self, scored: &Scored, n: usize) {
        self.rows += n as u64;
        for (s, st) in self.scores.iter_mut().enumerate() {
            let rows = &scored.scores[s * n..(s + 1) * n];
            if scored.nulls[s] == 0 {
                fold_valid(rows, st);
                continue;
            }
            for &x in rows {
                if !x.is_nan() {
                    st.min = st.min.min(x);
                    st.max = st.max.max(x);
                    st.sum += x;
                    st.count += 1;
                }
            }
        }
        for (g, counts) in self.segments.iter_mut().enumerate() {
            let null = counts.len() - 1;
            for &c in &scored.segments[g * n..(g + 1) * n] {
                counts[if c >= 0 && (c as usize) < null { c as usize } else { null }] += 1;
            }
        }
    }
}

/// Fold NULL-free scores into `st`, eight lanes at a time (the loop vectorises).
fn fold_valid(rows: &[f64], st: &mut ScoreStats) {
    const L: usize = 8;
    let (mut lo, mut hi, mut sum) = ([f64::INFINITY; L], [f64::NEG_INFINITY; L], [0.0; L]);
    let mut lanes = rows.chunks_exact(L);
    for ch in &mut lanes {
        for k in 0..L {
            lo[k] = lo[k].min(ch[k]);
            hi[k] = hi[k].max(ch[k]);
            sum[k] += ch[k];
        }
    }
    for &x in lanes.remainder() {
        lo[0] = lo[0].min(x);
        hi[0] = hi[0].max(x);
        sum[0] += x;
    }
    st.min = lo.iter().fold(st.min, |a, &b| a.min(b));
    st.max = hi.iter().fold(st.max, |a, &b| a.max(b));
    st.sum += sum.iter().sum::<f64>();
    st.count += rows.len() as u64;
}
