//! Metrc package JSON, as `GET /packages/v1/active` (a bare array) or
//! `GET /packages/v2/active` (`{"Data": [...], "Total": ..., "Page": ...}`) return it.
//!
//! Required per package: `Label`, `Item.Name` (or v1 `ItemName`), `Quantity`,
//! `UnitOfMeasureName`, `LabTestingState`, `IsOnHold`, `IsFinished`, `LastModified`.
//! `IsOnRecall` and `IsOnInvestigation` are newer fields and count as false when absent.
//! Unknown fields are ignored.

use serde_json::Value;

use super::{ImportError, Record, kind, parse_json};
use crate::domain::Package;
use crate::tag::MetrcTag;

/// Parse every package in the file, or refuse the whole file.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Package>, ImportError> {
    let doc = parse_json(file, super::strip_bom(bytes))?;
    let records = match &doc {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("Data") {
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(ImportError::file(
                    file,
                    format!("`Data` should be a list of packages, found {}", kind(v)),
                ));
            }
            None => {
                return Err(ImportError::file(
                    file,
                    "expected Metrc package JSON: a list (v1) or an object with `Data` (v2)",
                ));
            }
        },
        v => {
            return Err(ImportError::file(
                file,
                format!("expected Metrc package JSON, found {}", kind(v)),
            ));
        }
    };
    records
        .iter()
        .enumerate()
        .map(|(i, v)| package(file, i + 1, v))
        .collect()
}

fn package(file: &str, n: usize, v: &Value) -> Result<Package, ImportError> {
    let label_hint = v
        .get("Label")
        .and_then(Value::as_str)
        .map(|l| format!(" (Label {l})"))
        .unwrap_or_default();
    let r = Record::new(file, format!("record {n}{label_hint}"), v)?;
    let label_text = r.str("Label")?;
    let label = MetrcTag::new(&label_text).map_err(|_| {
        r.err(
            "Label",
            format!("{label_text:?} is not a 24-character Metrc tag"),
        )
    })?;
    let item = match r.get("Item") {
        Some(item) => {
            let ir = Record::new(file, r.what.clone(), item).map_err(|e| ImportError {
                field: Some("Item".into()),
                ..e
            })?;
            ir.str("Name").map_err(|e| ImportError {
                field: Some("Item.Name".into()),
                ..e
            })?
        }
        None => r.opt_str("ItemName")?.ok_or_else(|| {
            r.err(
                "Item.Name",
                "missing (required; v1 files may give `ItemName`)",
            )
        })?,
    };
    let source_batches = match r.get("SourceProductionBatchNumbers") {
        None => vec![],
        Some(Value::String(s)) => split_list(s),
        Some(Value::Array(a)) => a
            .iter()
            .map(|b| match b {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(r.err(
                    "SourceProductionBatchNumbers",
                    format!("expected text in the list, found {}", kind(other)),
                )),
            })
            .filter(|b| b.as_ref().map_or(true, |s| !s.is_empty()))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(r.err(
                "SourceProductionBatchNumbers",
                format!("expected text or a list, found {}", kind(other)),
            ));
        }
    };
    Ok(Package {
        label,
        item,
        quantity: r.f64("Quantity")?,
        unit: r.str("UnitOfMeasureName")?,
        batch: r.opt_str("ProductionBatchNumber")?,
        source_batches,
        lab_state: r.str("LabTestingState")?,
        on_hold: r.bool("IsOnHold")?,
        on_recall: r.bool_or_false("IsOnRecall")?,
        on_investigation: r.bool_or_false("IsOnInvestigation")?,
        finished: r.bool("IsFinished")?,
        archived: r.date("ArchivedDate")?,
        expiration: r.date("ExpirationDate")?,
        use_by: r.date("UseByDate")?,
        packaged: r.date("PackagedDate")?,
        last_modified: r.timestamp("LastModified")?,
        location: r.opt_str("LocationName")?,
        sublocation: r.opt_str("SublocationName")?,
        metrc_id: metrc_id(&r)?,
        coa: None,
    })
}

/// Metrc's numeric `Id`: optional (hand-made files may lack it), a whole number when
/// given (v1 exports have sent it as a string).
fn metrc_id(r: &Record) -> Result<Option<i64>, ImportError> {
    match r.get("Id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| r.err("Id", format!("expected a whole number, found {n}"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| r.err("Id", format!("expected a whole number, found {s:?}"))),
        Some(other) => Err(r.err(
            "Id",
            format!("expected a whole number, found {}", kind(other)),
        )),
    }
}

/// Metrc v1 sends `SourceProductionBatchNumbers` as one comma-separated string.
fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"{"Data":[{"Id":1,"Label":"1a4060300003c35000019794","PackageType":"Product",
      "Item":{"Name":"Blue Dream 3.5g","ProductCategoryName":"Flower"},"Quantity":10,
      "UnitOfMeasureName":"Each","ProductionBatchNumber":"BD-0412","SourceProductionBatchNumbers":["BD-0401"],
      "LabTestingState":"TestPassed","IsOnHold":false,"IsOnRecall":true,"IsOnInvestigation":false,
      "IsFinished":false,"ArchivedDate":null,"ExpirationDate":"2027-01-31","UseByDate":"0001-01-01T00:00:00.000",
      "LastModified":"2026-11-20T10:00:00-08:00","SomethingNew":{"x":1},
      "LocationId":7,"LocationName":" Vault A ","SublocationId":null,"SublocationName":"Shelf 3",
      "LocationTypeName":"Vault"}],"Total":1,"Page":1,"TotalPages":1}"#;

    const V1: &str = r#"[{"Label":"1A4060300003C35000019795","ItemName":"OG Kush 1g","Quantity":"4.0",
      "UnitOfMeasureName":"Grams","ProductionBatchNumber":null,"SourceProductionBatchNumbers":"OG-1, OG-2",
      "LabTestingState":"TestFailed","IsOnHold":true,"IsFinished":false,"LastModified":"2026-11-20T18:00:00.000"}]"#;

    #[test]
    fn v2_shape() {
        let p = &parse("p.json", V2.as_bytes()).unwrap()[0];
        assert_eq!(p.label.as_str(), "1A4060300003C35000019794");
        assert_eq!(p.item, "Blue Dream 3.5g");
        assert_eq!(p.batch.as_deref(), Some("BD-0412"));
        assert_eq!(p.source_batches, vec!["BD-0401"]);
        assert!(p.on_recall && !p.on_hold);
        assert_eq!(p.use_by, None);
        assert_eq!(p.expiration.unwrap().to_string(), "2027-01-31");
        assert_eq!(p.last_modified, "2026-11-20T18:00:00.000Z");
        assert_eq!(p.location.as_deref(), Some("Vault A"));
        assert_eq!(p.sublocation.as_deref(), Some("Shelf 3"));
        assert_eq!(p.metrc_id, Some(1));
    }

    #[test]
    fn the_metrc_id_is_kept_when_given_and_checked() {
        assert_eq!(parse("p.json", V1.as_bytes()).unwrap()[0].metrc_id, None);
        let cases = [
            (r#""Id":"42","#, Ok(Some(42))),
            (r#""Id":null,"#, Ok(None)),
            (r#""Id":4.5,"#, Err(())),
            (r#""Id":true,"#, Err(())),
        ];
        for (id, want) in cases {
            let text = V1.replacen("{", &format!("{{{id}"), 1);
            let got = parse("p.json", text.as_bytes()).map(|p| p[0].metrc_id);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{id}"),
                (Err(e), Err(())) => assert_eq!(e.field.as_deref(), Some("Id"), "{id}"),
                (g, w) => panic!("{id}: {g:?} vs {w:?}"),
            }
        }
    }

    #[test]
    fn a_location_may_be_absent_null_or_blank_but_not_a_list() {
        let p = &parse("p.json", V1.as_bytes()).unwrap()[0];
        assert_eq!(
            (p.location.as_deref(), p.sublocation.as_deref()),
            (None, None)
        );
        let blank = V1.replace(
            r#""IsFinished":false"#,
            r#""IsFinished":false,"LocationName":"  ","SublocationName":null"#,
        );
        let p = &parse("p.json", blank.as_bytes()).unwrap()[0];
        assert_eq!(
            (p.location.as_deref(), p.sublocation.as_deref()),
            (None, None)
        );
        let bad = V1.replace(
            r#""IsFinished":false"#,
            r#""IsFinished":false,"LocationName":[1]"#,
        );
        let e = parse("p.json", bad.as_bytes()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("LocationName"), "{e}");
    }

    #[test]
    fn v1_shape() {
        let p = &parse("p.json", V1.as_bytes()).unwrap()[0];
        assert_eq!(p.item, "OG Kush 1g");
        assert_eq!(p.quantity, 4.0);
        assert_eq!(p.batch, None);
        assert_eq!(p.source_batches, vec!["OG-1", "OG-2"]);
        assert!(p.on_hold && !p.on_recall && !p.on_investigation);
        assert_eq!(p.last_modified, "2026-11-20T18:00:00.000Z");
    }

    #[test]
    fn errors_name_file_record_and_field() {
        let no_lab = V1.replace(r#""LabTestingState":"TestFailed","#, "");
        let e = parse("pk.json", no_lab.as_bytes()).unwrap_err();
        assert_eq!(
            e.record.as_deref(),
            Some("record 1 (Label 1A4060300003C35000019795)")
        );
        assert_eq!(e.field.as_deref(), Some("LabTestingState"));
        assert!(e.to_string().starts_with("pk.json: record 1"), "{e}");

        let bad_bool = V1.replace(r#""IsOnHold":true"#, r#""IsOnHold":"yes""#);
        let e = parse("pk.json", bad_bool.as_bytes()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("IsOnHold"));

        let no_item = V1.replace(r#""ItemName":"OG Kush 1g","#, "");
        let e = parse("pk.json", no_item.as_bytes()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Item.Name"));

        let bad_label = V1.replace("1A4060300003C35000019795", "1A40603");
        assert_eq!(
            parse("pk.json", bad_label.as_bytes())
                .unwrap_err()
                .field
                .as_deref(),
            Some("Label")
        );
        let bad_date = V2.replace("2027-01-31", "31/01/2027");
        assert_eq!(
            parse("pk.json", bad_date.as_bytes())
                .unwrap_err()
                .field
                .as_deref(),
            Some("ExpirationDate")
        );
    }

    #[test]
    fn whole_file_problems() {
        let e = parse("t.json", &V2.as_bytes()[..V2.len() / 2]).unwrap_err();
        assert!(e.message.contains("truncated"), "{e}");
        let e = parse("t.json", b"\xff\xfe[]").unwrap_err();
        assert!(e.message.contains("UTF-8"), "{e}");
        let e = parse("t.json", br#"{"Total":0}"#).unwrap_err();
        assert!(e.message.contains("Data"), "{e}");
        assert!(parse("t.json", br#"{"Data":[]}"#).unwrap().is_empty());
        assert!(parse("t.json", b"\xef\xbb\xbf[]").unwrap().is_empty());
        assert!(parse("t.json", b"[1]").unwrap_err().record.is_some());
    }
}
