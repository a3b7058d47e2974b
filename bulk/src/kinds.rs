//! Arrow types as the engine's column kinds: the schema JSON `engine::compile` checks a
//! model against (`python/leadscore_fast/schema.py`'s `kind_of`, for the same types).

use arrow_schema::{DataType, Schema};

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// One of int, float, bool, string, timestamp, date, list_string, null, other.
pub fn kind_of(t: &DataType) -> &'static str {
    use DataType::*;
    match t {
        Null => "null",
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => "int",
        Float16 | Float32 | Float64 => "float",
        Boolean => "bool",
        t if is_string(t) => "string",
        Dictionary(_, v) if is_string(v) => "string",
        Timestamp(_, _) => "timestamp",
        Date32 | Date64 => "date",
        List(f) | LargeList(f) if is_string(f.data_type()) => "list_string",
        _ => "other",
    }
}

/// `[{"name": ..., "kind": ...}, ...]` in schema order.
pub fn schema_json(schema: &Schema) -> String {
    let fields: Vec<serde_json::Value> = schema
        .fields()
        .iter()
        .map(|f| serde_json::json!({"name": f.name(), "kind": kind_of(f.data_type())}))
        .collect();
    serde_json::Value::Array(fields).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, TimeUnit};
    use std::sync::Arc;

    #[test]
    fn kinds_follow_schema_py() {
        let list = DataType::List(Arc::new(Field::new("element", DataType::Utf8, true)));
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let cases = [
            (DataType::Int16, "int"), (DataType::UInt64, "int"), (DataType::Float32, "float"),
            (DataType::Boolean, "bool"), (DataType::LargeUtf8, "string"), (dict, "string"),
            (DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), "timestamp"),
            (DataType::Date32, "date"), (list, "list_string"), (DataType::Null, "null"),
            (DataType::Binary, "other"), (DataType::Decimal128(10, 2), "other"),
        ];
        for (t, want) in cases {
            assert_eq!(kind_of(&t), want, "{t}");
        }
    }
}
