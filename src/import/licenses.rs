//! The state's license register as a CSV file: one license a row, the columns named by
//! [`Columns`] (matched without case, spaces, `_` and `-` counting alike, so
//! `License Number` is `license_number`; other columns are ignored).
//!
//! The file is checked whole: a missing column, a row that is not CSV, a row without a
//! license number or with an unreadable date refuses the file, naming the row, and
//! nothing is imported. Duplicates: the same license number on several rows is read
//! once when the rows agree (status and expiry); rows that disagree refuse the file,
//! naming both.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::ImportError;
use crate::domain::license::{Entry, RegisterRow, normalise};

/// Which columns hold what, and the statuses meaning "in good standing".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    pub number: String,
    pub status: String,
    /// `None`: the file has no expiration date.
    pub expiry: Option<String>,
    pub active: Vec<String>,
}

fn key(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Read a register file whole.
pub fn parse(file: &str, bytes: &[u8], cols: &Columns) -> Result<Vec<RegisterRow>, ImportError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ImportError::file(
            file,
            "not UTF-8 text; save the CSV as UTF-8",
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let header = rdr
        .headers()
        .map_err(|e| ImportError::file(file, format!("cannot read the header: {e}")))?
        .clone();
    let find = |want: &str| header.iter().position(|h| key(h) == key(want));
    let mut wanted = vec![&cols.number, &cols.status];
    wanted.extend(cols.expiry.as_ref());
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|w| find(w).is_none())
        .map(|w| w.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::file(
            file,
            format!(
                "the header has no {} column; found {}. Set [licenses] number_column, status_column, expiry_column (or a preset) to the file's columns",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                header
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let (n, s) = (find(&cols.number).unwrap(), find(&cols.status).unwrap());
    let x = cols.expiry.as_ref().and_then(|c| find(c));
    let active: Vec<String> = cols
        .active
        .iter()
        .map(|a| a.trim().to_lowercase())
        .collect();
    let mut rows: Vec<RegisterRow> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in rdr.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            ImportError {
                file: file.into(),
                record: Some(format!("row {line}")),
                field: None,
                message: format!("not a CSV row of the header's columns: {e}"),
            }
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let err = |field: &str, message: String| ImportError {
            file: file.into(),
            record: Some(format!("row {line}")),
            field: Some(field.into()),
            message,
        };
        let number = record.get(n).unwrap_or("").to_string();
        if number.is_empty() {
            return Err(err(&cols.number, "no license number".into()));
        }
        let status = record.get(s).unwrap_or("").to_string();
        let expires = match x.map(|x| record.get(x).unwrap_or("")) {
            None | Some("") => None,
            Some(text) => Some(date(text).ok_or_else(|| {
                err(
                    cols.expiry.as_deref().unwrap_or_default(),
                    format!("{text:?} is not a date (YYYY-MM-DD or MM/DD/YYYY)"),
                )
            })?),
        };
        let entry = Entry {
            active: active.contains(&status.to_lowercase()),
            number,
            status,
            expires,
        };
        let norm = normalise(&entry.number);
        if let Some(&i) = seen.get(&norm) {
            let first = &rows[i];
            if first.entry.status == entry.status && first.entry.expires == entry.expires {
                continue;
            }
            return Err(err(
                &cols.number,
                format!(
                    "license {} is also on row {} with another status or expiry ({:?}, {} here; {:?}, {} there): the register contradicts itself, nothing imported",
                    entry.number,
                    first.row,
                    entry.status,
                    entry.expires.map_or("no expiry".into(), |d| d.to_string()),
                    first.entry.status,
                    first
                        .entry
                        .expires
                        .map_or("no expiry".into(), |d| d.to_string()),
                ),
            ));
        }
        seen.insert(norm, rows.len());
        rows.push(RegisterRow { row: line, entry });
    }
    if rows.is_empty() {
        return Err(ImportError::file(
            file,
            "no licenses in the file; an empty register would hold every order, nothing imported",
        ));
    }
    Ok(rows)
}

/// `2026-12-31`, `2026-12-31T00:00:00.000` (as open-data portals write it), or
/// `12/31/2026`, each optionally followed by a time.
fn date(text: &str) -> Option<NaiveDate> {
    let day = text.split(['T', ' ']).next().unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(day, "%m/%d/%Y"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Columns {
        Columns {
            number: "license_number".into(),
            status: "status".into(),
            expiry: Some("expiration_date".into()),
            active: vec!["Active".into()],
        }
    }

    #[test]
    fn a_register_reads_whole() {
        let csv = "License Number,Status,Expiration Date,Name\n\
                   C10-1,Active,2026-12-31,A\n\
                   C10-2,Suspended,12/31/2026,B\n\
                   C10-3,active,2027-01-31T00:00:00.000,C\n\
                   C10-4,Active,,D\n\
                   c10-1,Active,2026-12-31,A again\n";
        let rows = parse("r.csv", csv.as_bytes(), &cols()).unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.row,
                    r.entry.number.as_str(),
                    r.entry.active,
                    r.entry.expires.map(|d| d.to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "C10-1", true, Some("2026-12-31".into())),
                (3, "C10-2", false, Some("2026-12-31".into())),
                (4, "C10-3", true, Some("2027-01-31".into())),
                (5, "C10-4", true, None),
            ]
        );
    }

    #[test]
    fn bad_registers_are_refused_naming_the_row() {
        let head = "license_number,status,expiration_date\n";
        let cases: &[(&str, String, &[&str])] = &[
            (
                "unknown columns",
                "licence,state\nC10-1,Active\n".into(),
                &["`license_number`", "`status`", "found `licence`"],
            ),
            (
                "garbage row",
                format!("{head}C10-1,Active,2026-12-31\nnot,a,row,at all\n"),
                &["row 3", "not a CSV row"],
            ),
            (
                "no number",
                format!("{head}C10-1,Active,2026-12-31\n,Active,2026-12-31\n"),
                &["row 3", "no license number"],
            ),
            (
                "bad date",
                format!("{head}C10-1,Active,someday\n"),
                &["row 2", "\"someday\" is not a date"],
            ),
            (
                "contradicting duplicates",
                format!("{head}C10-1,Active,2026-12-31\nC10-2,Active,\nC10-1,Revoked,2026-12-31\n"),
                &["row 4", "also on row 2", "Revoked"],
            ),
            ("empty", head.into(), &["no licenses"]),
            ("not text", "\u{0}\u{ff}".into(), &[]),
        ];
        for (name, text, want) in cases {
            let bytes = if *name == "not text" {
                vec![0xff, 0xfe, 0x00]
            } else {
                text.as_bytes().to_vec()
            };
            let e = parse("r.csv", &bytes, &cols()).unwrap_err().to_string();
            assert!(e.starts_with("r.csv"), "{name}: {e}");
            for w in *want {
                assert!(e.contains(w), "{name}: {e:?} lacks {w:?}");
            }
        }
    }
}
