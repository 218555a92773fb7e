//! Parsers for what the facility imports: Metrc package JSON, LeafLink and Apex orders,
//! order CSV.
//!
//! Parsing is pure: bytes in, domain values out, or an [`ImportError`] naming the file,
//! the record and the field. Nothing here touches the store; the caller writes the whole
//! result in one transaction, so a refused file changes nothing.

pub mod apex;
pub mod leaflink;
pub mod licenses;
pub mod metrc;
pub mod order_csv;

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::Order;

/// A refused import: which file, which record, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    /// The record, e.g. `record 17 (Label 1A4...)`; `None` for file-level problems.
    pub record: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(r) = &self.record {
            write!(f, ": {r}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ImportError {}

impl ImportError {
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ImportError {
            file: file.to_string(),
            record: None,
            field: None,
            message: message.into(),
        }
    }
}

/// Read a whole file as JSON, refusing non-UTF-8 and malformed JSON with a position.
pub(crate) fn parse_json(file: &str, bytes: &[u8]) -> Result<Value, ImportError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ImportError::file(
            file,
            format!(
                "not UTF-8 text (bad byte at offset {}); is this the right file?",
                e.valid_up_to()
            ),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.is_eof() {
            "the JSON ends early (truncated file?)"
        } else {
            "not valid JSON"
        };
        ImportError::file(
            file,
            format!("{what} at line {} column {}: {e}", e.line(), e.column()),
        )
    })
}

/// Typed access to one JSON record with errors that name the record and field.
pub(crate) struct Record<'a> {
    pub file: &'a str,
    pub what: String,
    pub obj: &'a Map<String, Value>,
}

impl<'a> Record<'a> {
    pub fn new(file: &'a str, what: String, v: &'a Value) -> Result<Self, ImportError> {
        match v.as_object() {
            Some(obj) => Ok(Record { file, what, obj }),
            None => Err(ImportError {
                file: file.into(),
                record: Some(what),
                field: None,
                message: format!("expected a JSON object, found {}", kind(v)),
            }),
        }
    }

    pub fn err(&self, field: &str, message: impl Into<String>) -> ImportError {
        ImportError {
            file: self.file.into(),
            record: Some(self.what.clone()),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The value of a field, treating JSON null as absent.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    pub fn required(&self, field: &str) -> Result<&'a Value, ImportError> {
        self.get(field)
            .ok_or_else(|| self.err(field, "missing (required)"))
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<String>, ImportError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(self.err(field, format!("expected text, found {}", kind(v)))),
        }
    }

    pub fn str(&self, field: &str) -> Result<String, ImportError> {
        self.opt_str(field)?
            .ok_or_else(|| self.err(field, "missing or empty (required)"))
    }

    pub fn bool(&self, field: &str) -> Result<bool, ImportError> {
        match self.required(field)? {
            Value::Bool(b) => Ok(*b),
            v => Err(self.err(field, format!("expected true or false, found {}", kind(v)))),
        }
    }

    pub fn bool_or_false(&self, field: &str) -> Result<bool, ImportError> {
        if self.get(field).is_none() {
            Ok(false)
        } else {
            self.bool(field)
        }
    }

    pub fn f64(&self, field: &str) -> Result<f64, ImportError> {
        match self.required(field)? {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| self.err(field, "number out of range")),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| self.err(field, format!("expected a number, found {s:?}"))),
            v => Err(self.err(field, format!("expected a number, found {}", kind(v)))),
        }
    }

    /// A Metrc date: `None` for null, empty or Metrc's unset `0001-01-01...`.
    pub fn date(&self, field: &str) -> Result<Option<NaiveDate>, ImportError> {
        let Some(s) = self.opt_str(field)? else {
            return Ok(None);
        };
        if s.starts_with("0001-01-01") {
            return Ok(None);
        }
        s.get(..10)
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .map(Some)
            .ok_or_else(|| self.err(field, format!("expected an ISO 8601 date, found {s:?}")))
    }

    /// A Metrc timestamp normalised to UTC text that sorts in time order.
    pub fn timestamp(&self, field: &str) -> Result<String, ImportError> {
        let s = self.str(field)?;
        normalise_timestamp(&s)
            .ok_or_else(|| self.err(field, format!("expected an ISO 8601 time, found {s:?}")))
    }
}

/// `2025-03-01T12:00:00-07:00` and friends to `2025-03-01T19:00:00.000Z`. A time with
/// no offset is taken as UTC; a bare date as its midnight.
pub fn normalise_timestamp(s: &str) -> Option<String> {
    const OUT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).format(OUT).to_string());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.format(OUT).to_string());
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Some(d.and_hms_opt(0, 0, 0)?.format(OUT).to_string());
    }
    None
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An order file: LeafLink JSON (one order, a list, or a page with `results`), Apex
/// JSON (an `orders` page, an `order`, or orders with an `invoice_number`) or CSV with
/// the header `order,buyer,buyer_license,line,sku,batch,tag`, told apart by content.
pub fn parse_orders(file: &str, bytes: &[u8]) -> Result<Vec<Order>, ImportError> {
    let bytes = strip_bom(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(ImportError::file(file, "the file is empty")),
        Some(b'{') | Some(b'[') if apex::looks_like_apex(&parse_json(file, bytes)?) => {
            apex::parse(file, bytes)
        }
        Some(b'{') | Some(b'[') => leaflink::parse(file, bytes),
        Some(_) => order_csv::parse(file, bytes),
    }
}

/// Drop a UTF-8 byte-order mark, which spreadsheet exports often start with.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}
