//! The writer's files read back by arrow-rs: the hand-encoded float64 and dictionary
//! chunks (`chunks.rs`) give the batches written, with the statistics arrow-rs's own writer
//! would compute, across pages, batches with different dictionaries, NULLs and NaNs.

use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use leadscore_bulk::writer::Writer;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::statistics::Statistics;
use std::fs::File;
use std::sync::Arc;

fn schema(nullable: bool) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("score", DataType::Float64, nullable),
        Field::new(
            "tier",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            nullable,
        ),
        Field::new("id", DataType::Int64, false),
    ]))
}

fn batch(
    schema: &Arc<Schema>,
    scores: Vec<Option<f64>>,
    keys: Vec<Option<i32>>,
    labels: Vec<Option<&str>>,
    first_id: i64,
) -> RecordBatch {
    let n = scores.len();
    let tier = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from(keys),
        Arc::new(StringArray::from(labels)),
    )
    .unwrap();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(scores)),
        Arc::new(tier),
        Arc::new(Int64Array::from_iter_values(first_id..first_id + n as i64)),
    ];
    RecordBatch::try_new(schema.clone(), columns).unwrap()
}

/// Write `batches`, read the file back: its batches (one per row group) and its row groups'
/// statistics of the score and tier columns.
fn round_trip(
    schema: Arc<Schema>,
    batches: &[RecordBatch],
    group_rows: usize,
    compression: &str,
) -> (
    Vec<RecordBatch>,
    Vec<(Option<Statistics>, Option<Statistics>)>,
) {
    let dir = std::env::temp_dir().join(format!(
        "leadscore-bulk-writer-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.parquet");
    let mut w = Writer::create(
        &path,
        schema,
        compression,
        group_rows,
        &["tier".to_string()],
        2,
    )
    .unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    let stats = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| {
            (
                g.column(0).statistics().cloned(),
                g.column(1).statistics().cloned(),
            )
        })
        .collect();
    let got = builder
        .with_batch_size(group_rows)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    (got, stats)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn strings(a: &ArrayRef) -> Vec<Option<String>> {
    let d = a
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .unwrap();
    let v = d.values().as_any().downcast_ref::<StringArray>().unwrap();
    (0..d.len())
        .map(|i| {
            if d.is_null(i) || v.is_null(d.keys().value(i) as usize) {
                None
            } else {
                Some(v.value(d.keys().value(i) as usize).to_string())
            }
        })
        .collect()
}

fn floats(a: &ArrayRef) -> Vec<Option<u64>> {
    let f = a.as_any().downcast_ref::<Float64Array>().unwrap();
    (0..f.len())
        .map(|i| f.is_valid(i).then(|| f.value(i).to_bits()))
        .collect()
}

#[test]
fn scores_and_segments_read_back_bit_for_bit_across_pages_groups_and_dictionaries() {
    let s = schema(true);
    let n = 300_000; // more than two pages of 128Ki rows
    let scores: Vec<Option<f64>> = (0..n)
        .map(|i| match i % 97 {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(-0.0),
            _ => Some((i % 1000) as f64 * 0.25 - 3.0),
        })
        .collect();
    let keys: Vec<Option<i32>> = (0..n)
        .map(|i| {
            if i % 89 == 0 {
                None
            } else {
                Some((i % 4) as i32)
            }
        })
        .collect();
    let first = batch(
        &s,
        scores[..200_000].to_vec(),
        keys[..200_000].to_vec(),
        vec![Some("hot"), Some("warm"), Some("cold"), None],
        0,
    );
    // the second batch's dictionary is another, in another order, with a label not seen before
    let remap = |k: Option<i32>| k.map(|k| [2, 1, 0, 3][k as usize]);
    let second = batch(
        &s,
        scores[200_000..].to_vec(),
        keys[200_000..].iter().map(|&k| remap(k)).collect(),
        vec![Some("cold"), Some("warm"), Some("hot"), Some("lukewarm")],
        200_000,
    );
    for compression in ["snappy", "zstd", "lz4", "gzip", "brotli", "none"] {
        let (got, stats) = round_trip(
            s.clone(),
            &[first.clone(), second.clone()],
            250_000,
            compression,
        );
        let want_scores: Vec<Option<u64>> = scores.iter().map(|x| x.map(f64::to_bits)).collect();
        let got_scores: Vec<Option<u64>> = got.iter().flat_map(|b| floats(b.column(0))).collect();
        assert_eq!(got_scores, want_scores, "{compression}");
        let labels = ["hot", "warm", "cold"];
        let want_tiers: Vec<Option<String>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                k.and_then(|k| {
                    if k == 3 {
                        if i < 200_000 {
                            None
                        } else {
                            Some("lukewarm".to_string())
                        }
                    } else {
                        Some(labels[k as usize].to_string())
                    }
                })
            })
            .collect();
        let got_tiers: Vec<Option<String>> =
            got.iter().flat_map(|b| strings(b.column(1))).collect();
        assert_eq!(got_tiers, want_tiers, "{compression}");
        let ids: Vec<i64> = got
            .iter()
            .flat_map(|b| {
                b.column(2)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(ids, (0..n as i64).collect::<Vec<_>>());
        // statistics per row group, as arrow-rs computes them: NaN left out and counted,
        // total order (-0.0 below 0.0), labels byte-wise
        for (g, (score_stats, tier_stats)) in stats.iter().enumerate() {
            let rows = &scores[g * 250_000..((g + 1) * 250_000).min(n)];
            let present: Vec<f64> = rows
                .iter()
                .flatten()
                .copied()
                .filter(|x| !x.is_nan())
                .collect();
            let Some(Statistics::Double(st)) = score_stats else {
                panic!("no float statistics")
            };
            assert_eq!(
                st.min_opt().map(|x| x.to_bits()),
                present
                    .iter()
                    .copied()
                    .reduce(|a, b| if a.total_cmp(&b).is_le() { a } else { b })
                    .map(f64::to_bits)
            );
            assert_eq!(
                st.max_opt().copied(),
                present.iter().copied().reduce(f64::max)
            );
            assert_eq!(
                st.null_count_opt(),
                Some(rows.iter().filter(|x| x.is_none()).count() as u64)
            );
            assert_eq!(
                st.nan_count_opt(),
                Some(rows.iter().flatten().filter(|x| x.is_nan()).count() as u64)
            );
            let tiers = &want_tiers[g * 250_000..((g + 1) * 250_000).min(n)];
            let Some(Statistics::ByteArray(bt)) = tier_stats else {
                panic!("no tier statistics")
            };
            let seen: Vec<&str> = tiers.iter().flatten().map(String::as_str).collect();
            assert_eq!(
                bt.min_opt().map(|b| b.as_utf8().unwrap()),
                seen.iter().min().copied()
            );
            assert_eq!(
                bt.max_opt().map(|b| b.as_utf8().unwrap()),
                seen.iter().max().copied()
            );
            assert_eq!(
                bt.null_count_opt(),
                Some(tiers.iter().filter(|x| x.is_none()).count() as u64)
            );
        }
    }
}

#[test]
fn required_columns_an_empty_file_and_all_null_groups() {
    let s = schema(false);
    let b = batch(
        &s,
        vec![Some(1.5), Some(-2.0)],
        vec![Some(0), Some(1)],
        vec![Some("a"), Some("b")],
        0,
    );
    let (got, _) = round_trip(s.clone(), &[b.clone()], 10, "snappy");
    assert_eq!(
        floats(got[0].column(0)),
        vec![Some(1.5f64.to_bits()), Some((-2.0f64).to_bits())]
    );
    assert_eq!(
        strings(got[0].column(1)),
        vec![Some("a".into()), Some("b".into())]
    );
    let (got, _) = round_trip(s.clone(), &[], 10, "snappy");
    assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    let s = schema(true);
    let nulls = batch(&s, vec![None, None], vec![None, None], vec![Some("a")], 0);
    let (got, stats) = round_trip(s, &[nulls], 10, "snappy");
    assert_eq!(floats(got[0].column(0)), vec![None, None]);
    assert_eq!(strings(got[0].column(1)), vec![None, None]);
    let Some(Statistics::Double(st)) = &stats[0].0 else {
        panic!()
    };
    assert_eq!((st.min_opt(), st.null_count_opt()), (None, Some(2)));
}

/// The writer opens its path without truncating an empty file (the reserved temporary
/// output) but still empties a longer one that is there: both read back as written, and
/// the rows past 64 KiB writes (many pages, several row groups) are all there.
#[test]
fn an_existing_file_is_overwritten_and_an_empty_one_filled() {
    let s = schema(true);
    let n = 300_000;
    let b = batch(
        &s,
        (0..n).map(|i| if i % 7 == 0 { None } else { Some(i as f64 * 0.37) }).collect(),
        (0..n).map(|i| Some((i % 2) as i32)).collect(),
        vec![Some("hot"), Some("cold")],
        0,
    );
    let dir = std::env::temp_dir().join(format!("leadscore-bulk-overwrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, before) in [("longer.parquet", vec![0xAB; 5 << 20]), ("empty.parquet", Vec::new())] {
        let path = dir.join(name);
        std::fs::write(&path, &before).unwrap();
        let mut w = Writer::create(&path, s.clone(), "snappy", 100_000, &["tier".to_string()], 2).unwrap();
        w.write(&b).unwrap();
        assert_eq!(w.finish().unwrap(), n);
        let got: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .with_batch_size(n)
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let rows: usize = got.iter().map(|g| g.num_rows()).sum();
        assert_eq!(rows, n, "{name}");
        let back: Vec<Option<u64>> = got.iter().flat_map(|g| floats(g.column(0))).collect();
        assert_eq!(back, floats(b.column(0)), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
