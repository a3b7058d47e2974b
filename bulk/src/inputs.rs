//! arrow-rs arrays as the native executor's inputs (`engine::batch::Input`), read in place:
//! numbers, booleans, dates and timestamps as their buffers, dictionary columns as codes plus
//! their values, plain strings to be dictionary-encoded by the engine. The same physical
//! types as the Arrow C data interface path (`bindings/src/batch.rs`); None where a column
//! needs the Python runner's binding (other types, or a validity bitmap that does not start
//! where the data does).

use arrow_array::{Array, RecordBatch};
use arrow_data::ArrayData;
use arrow_schema::{DataType, TimeUnit};
use leadscore_engine::batch::Input;
use leadscore_engine::exec::{ptype as pt, Column};
use leadscore_engine::strings::ArrowStrings;

/// The arrays a batch's inputs borrow from: one per program column, in program order.
pub struct Bound {
    datas: Vec<ArrayData>,
}

impl Bound {
    /// The program's columns of `batch`, by name.
    pub fn new(batch: &RecordBatch, names: &[String]) -> Result<Bound, String> {
        let schema = batch.schema();
        let mut datas = Vec::with_capacity(names.len());
        for name in names {
            let i = schema.index_of(name).map_err(|_| format!("the batch has no column {name:?}"))?;
            datas.push(batch.column(i).to_data());
        }
        Ok(Bound { datas })
    }

    /// One `Input` per program column, or None where one needs the runner's path.
    pub fn inputs(&self) -> Result<Option<Vec<Input<'_>>>, String> {
        let mut out = Vec::with_capacity(self.datas.len());
        for d in &self.datas {
            match input(d)? {
                Some(i) => out.push(i),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

/// The executor's physical type of a primitive Arrow type.
fn ptype(t: &DataType) -> Option<i64> {
    use DataType::*;
    Some(match t {
        Boolean => pt::BOOL,
        Int8 => pt::I8,
        UInt8 => pt::U8,
        Int16 => pt::I16,
        UInt16 => pt::U16,
        Int32 => pt::I32,
        UInt32 => pt::U32,
        Int64 => pt::I64,
        UInt64 => pt::U64,
        Float32 => pt::F32,
        Float64 => pt::F64,
        Date32 => pt::DATE32,
        Date64 => pt::DATE64,
        Timestamp(TimeUnit::Second, _) => pt::TS_S,
        Timestamp(TimeUnit::Millisecond, _) => pt::TS_MS,
        Timestamp(TimeUnit::Microsecond, _) => pt::TS_US,
        Timestamp(TimeUnit::Nanosecond, _) => pt::TS_NS,
        _ => return None,
    })
}

/// The validity bitmap of `d` (whole, from its buffer's first bit) when it has NULLs; None
/// where the bitmap's offset is not the data's.
fn validity(d: &ArrayData) -> Option<&[u8]> {
    match d.nulls() {
        Some(nb) if nb.null_count() > 0 => (nb.offset() == d.offset()).then(|| nb.buffer().as_slice()),
        _ => Some(&[]),
    }
}

fn primitive(d: &ArrayData, p: i64) -> Result<Option<Column<'_>>, String> {
    let Some(valid) = validity(d) else { return Ok(None) };
    let (offset, n) = (d.offset(), d.len());
    let data: &[u8] = if n == 0 {
        &[]
    } else {
        let bytes = pt::data_bytes(p, offset, n).ok_or("no data width")?;
        let buf = d.buffers().first().ok_or("malformed Arrow column: no data buffer")?.as_slice();
        buf.get(..bytes).ok_or("malformed Arrow column: data buffer too short")?
    };
    Ok(Some(Column { data, valid, offset, ptype: p }))
}

/// A utf8 / large_utf8 array's buffers as ArrowStrings (which checks the offsets, and with
/// `check_utf8` each value).
fn strings(d: &ArrayData, check_utf8: bool) -> Result<Option<ArrowStrings<'_>>, String> {
    let wide = match d.data_type() {
        DataType::Utf8 => false,
        DataType::LargeUtf8 => true,
        _ => return Ok(None),
    };
    let Some(valid) = validity(d) else { return Ok(None) };
    let valid = (!valid.is_empty()).then_some(valid);
    let (offset, n) = (d.offset(), d.len());
    if n == 0 {
        return ArrowStrings::new(&[], wide, &[], None, 0, 0).map(Some);
    }
    let bufs = d.buffers();
    let (offsets, data) = (bufs[0].as_slice(), bufs.get(1).map(|b| b.as_slice()).unwrap_or(&[]));
    let made = if check_utf8 {
        ArrowStrings::new(offsets, wide, data, valid, offset, n)
    } else {
        ArrowStrings::new_bytes(offsets, wide, data, valid, offset, n)
    };
    made.map(Some)
}

fn input(d: &ArrayData) -> Result<Option<Input<'_>>, String> {
    match d.data_type() {
        DataType::Dictionary(key, _) => {
            let Some(p) = ptype(key).filter(|p| !matches!(*p, pt::BOOL | pt::F32 | pt::F64 | pt::DATE32 | pt::DATE64 | pt::TS_S | pt::TS_MS | pt::TS_US | pt::TS_NS)) else {
                return Ok(None);
            };
            let Some(values) = d.child_data().first() else { return Err("malformed Arrow dictionary".into()) };
            let Some(values) = strings(values, true)? else { return Ok(None) };
            Ok(primitive(d, p)?.map(|col| Input::Dict(col, values)))
        }
        DataType::Utf8 | DataType::LargeUtf8 => {
            let Some(valid) = validity(d) else { return Ok(None) };
            let Some(values) = strings(d, false)? else { return Ok(None) };
            Ok(Some(Input::Strings { values, valid, offset: d.offset() }))
        }
        t => match ptype(t) {
            Some(p) => Ok(primitive(d, p)?.map(Input::Plain)),
            None => Ok(None),
        },
    }
}
