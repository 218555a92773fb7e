//! Lab results and COA documents (METRC-API.md §4), pure: which packages need their
//! results read, what a results page holds, which COA documents the rows name, and
//! how a document's body is read (a raw PDF or a JSON envelope carrying base64: the
//! format is unconfirmed, so both are accepted). [`super::coa`] does the asking.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::store::{CoaCandidate, LabResultRow};

/// A package with a COA is read again after this long (a result may be revoked).
pub const RECHECK_WITH_COA: Duration = Duration::hours(24);
/// A package without one is read again after this long (a lab may release one
/// soon); the hub polls every minute, and most packages' answer does not change.
pub const RECHECK_WITHOUT_COA: Duration = Duration::hours(1);

/// Whether a pull reads `c`'s lab results now: never read, changed in Metrc since
/// (its `LastModified` moved: a new lab state, say), or read longer ago than the
/// recheck for what was found; with `full`, always. Never without a Metrc `Id`.
pub fn needs_results(c: &CoaCandidate, full: bool, now: DateTime<Utc>) -> bool {
    if c.metrc_id.is_none() {
        return false;
    }
    let at = c
        .checked_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let Some(at) = at else { return true };
    if full || c.checked_modified.as_deref() != Some(c.last_modified.as_str()) {
        return true;
    }
    let recheck = if c.has_coa {
        RECHECK_WITH_COA
    } else {
        RECHECK_WITHOUT_COA
    };
    now - at >= recheck
}

/// One row of `/labtests/v2/results` (one per test type per result), the fields kept.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabRow {
    pub lab_test_result_id: i64,
    #[serde(default)]
    pub test_type_name: Option<String>,
    #[serde(default)]
    pub test_passed: Option<bool>,
    #[serde(default)]
    pub overall_passed: Option<bool>,
    #[serde(default)]
    pub lab_test_result_document_file_id: Option<i64>,
    #[serde(default)]
    pub result_released: Option<bool>,
    #[serde(default)]
    pub revoked_date: Option<String>,
    #[serde(default)]
    pub lab_test_detail_revoked_date: Option<String>,
}

impl LabRow {
    /// Revoked (the result or this test's detail): a date that is not the year-1
    /// "no value" sentinel.
    pub fn is_revoked(&self) -> bool {
        let set = |d: &Option<String>| {
            d.as_deref()
                .is_some_and(|d| !d.trim().is_empty() && !d.starts_with("0001-01-01"))
        };
        set(&self.revoked_date) || set(&self.lab_test_detail_revoked_date)
    }

    pub fn kept(&self) -> LabResultRow {
        LabResultRow {
            result_id: self.lab_test_result_id,
            test_type: self.test_type_name.clone().unwrap_or_default(),
            passed: self.test_passed.or(self.overall_passed),
            document_id: self.lab_test_result_document_file_id,
            released: self.result_released,
        }
    }
}

/// One page of results: its rows and where the paging stands.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultsPage {
    pub rows: Vec<LabRow>,
    pub page: u32,
    pub total_pages: u32,
}

/// Read a results page: the v2 envelope (`Data`, `TotalPages`, `Page`/`CurrentPage`)
/// or a bare array (v1, one page).
pub fn results_page(asked: u32, body: &[u8]) -> Result<ResultsPage, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Envelope {
        data: Vec<LabRow>,
        #[serde(default)]
        total_pages: Option<u32>,
        #[serde(default)]
        page: Option<u32>,
        #[serde(default)]
        current_page: Option<u32>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Answer {
        Paged(Envelope),
        Bare(Vec<LabRow>),
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::Paged(e)) => Ok(ResultsPage {
            page: e.current_page.or(e.page).unwrap_or(asked),
            total_pages: e.total_pages.unwrap_or(asked),
            rows: e.data,
        }),
        Ok(Answer::Bare(rows)) => Ok(ResultsPage {
            rows,
            page: asked,
            total_pages: asked,
        }),
        Err(_) => Err(match serde_json::from_slice::<serde_json::Value>(body) {
            Err(e) => format!("not JSON: {e}"),
            Ok(_) => "expected {\"Data\": [lab result rows]} with LabTestResultId on each".into(),
        }),
    }
}

/// The COA documents the rows name, each once (one row per test type names the same
/// document), in the order first named; revoked rows name none.
pub fn documents_named(rows: &[LabRow]) -> Vec<i64> {
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| !r.is_revoked()) {
        if let Some(id) = r.lab_test_result_document_file_id
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// The PDF in a COA document's answer: a raw body (`application/pdf`, or starting
/// `%PDF`), or a JSON object whose `FileContents` (or `DocumentFileBase64`) is the
/// PDF in base64. Anything else is refused with a sentence naming the document.
pub fn read_document(id: i64, content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let is_pdf = |b: &[u8]| b.starts_with(b"%PDF");
    let pdf_type = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("application/pdf"));
    if is_pdf(body) {
        return Ok(body.to_vec());
    }
    if pdf_type {
        return Err(format!(
            "COA document {id} is served as application/pdf but is not a PDF (it starts {})",
            start_of(body)
        ));
    }
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        let v: serde_json::Value = serde_json::from_slice(trimmed)
            .map_err(|e| format!("COA document {id}: its JSON does not parse: {e}"))?;
        let Some(b64) = ["FileContents", "DocumentFileBase64"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
        else {
            return Err(format!(
                "COA document {id}: its JSON carries no FileContents (nor DocumentFileBase64)"
            ));
        };
        let clean: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clean.as_bytes())
            .map_err(|e| format!("COA document {id}: FileContents is not base64: {e}"))?;
        if !is_pdf(&bytes) {
            return Err(format!(
                "COA document {id}: FileContents is not a PDF (it starts {})",
                start_of(&bytes)
            ));
        }
        return Ok(bytes);
    }
    Err(format!(
        "COA document {id} is neither a PDF nor JSON carrying one (it starts {}{})",
        start_of(body),
        content_type
            .map(|c| format!(", served as {c}"))
            .unwrap_or_default()
    ))
}

fn start_of(b: &[u8]) -> String {
    if b.is_empty() {
        return "empty".into();
    }
    let s: String = String::from_utf8_lossy(&b[..b.len().min(12)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(result: i64, test: &str, doc: Option<i64>, revoked: Option<&str>) -> LabRow {
        LabRow {
            lab_test_result_id: result,
            test_type_name: Some(test.into()),
            test_passed: Some(true),
            overall_passed: Some(true),
            lab_test_result_document_file_id: doc,
            result_released: Some(true),
            revoked_date: revoked.map(str::to_string),
            lab_test_detail_revoked_date: None,
        }
    }

    #[test]
    fn documents_named_table() {
        let cases: [(&str, Vec<LabRow>, Vec<i64>); 5] = [
            ("none", vec![], vec![]),
            (
                "one per test type, one document",
                vec![
                    row(1, "THC", Some(7), None),
                    row(1, "Pesticides", Some(7), None),
                    row(1, "Microbiologicals", Some(7), None),
                ],
                vec![7],
            ),
            (
                "no document on the rows",
                vec![row(1, "THC", None, None)],
                vec![],
            ),
            (
                "a revoked result names none",
                vec![
                    row(1, "THC", Some(7), Some("2026-10-01T00:00:00+00:00")),
                    row(2, "THC", Some(8), None),
                ],
                vec![8],
            ),
            (
                "the year-1 sentinel is no revocation; two results, two documents",
                vec![
                    row(1, "THC", Some(7), Some("0001-01-01T00:00:00+00:00")),
                    row(2, "THC", Some(9), None),
                    row(2, "Pesticides", Some(9), None),
                ],
                vec![7, 9],
            ),
        ];
        for (case, rows, want) in cases {
            assert_eq!(documents_named(&rows), want, "{case}");
        }
    }

    #[test]
    fn a_results_page_reads_metrcs_example() {
        let body = br#"{"Data":[{"PackageId":2,"LabTestResultId":1,"LabFacilityLicenseNumber":"405R-X0001",
          "OverallPassed":true,"RevokedDate":null,"LabTestResultDocumentFileId":null,"ResultReleased":true,
          "TestTypeName":"Microbiologicals","TestPassed":true,"TestResultLevel":0.1,"LabTestDetailRevokedDate":null},
          {"PackageId":2,"LabTestResultId":1,"OverallPassed":true,"LabTestResultDocumentFileId":31,
          "ResultReleased":false,"TestTypeName":"THC","TestPassed":false}],
          "Total":2,"TotalRecords":2,"PageSize":2,"RecordsOnPage":2,"Page":1,"CurrentPage":1,"TotalPages":1}"#;
        let p = results_page(1, body).unwrap();
        assert_eq!((p.page, p.total_pages, p.rows.len()), (1, 1, 2));
        assert_eq!(documents_named(&p.rows), vec![31]);
        let kept = p.rows[1].kept();
        assert_eq!(
            (kept.passed, kept.released, kept.test_type.as_str()),
            (Some(false), Some(false), "THC")
        );
        assert_eq!(results_page(3, b"[]").unwrap().total_pages, 3);
        assert!(
            results_page(1, b"{\"Data\": 5}")
                .unwrap_err()
                .contains("LabTestResultId")
        );
        assert!(results_page(1, b"<html>").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn document_bodies_table() {
        let pdf = b"%PDF-1.4\n1 0 obj".to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
        let gif = base64::engine::general_purpose::STANDARD.encode(b"GIF89a....");
        let ok: [(&str, Option<&str>, Vec<u8>); 5] = [
            ("raw, typed", Some("application/pdf"), pdf.clone()),
            ("raw, untyped", None, pdf.clone()),
            ("raw, typed as octets", Some("application/octet-stream"), pdf.clone()),
            (
                "FileContents",
                Some("application/json; charset=utf-8"),
                format!(r#"{{"FileContents":"{b64}","ContentType":"application/octet-stream","FileDownloadName":"coa.pdf"}}"#).into_bytes(),
            ),
            (
                "DocumentFileBase64, with a line break in it",
                None,
                format!(
                    " {{\"DocumentFileBase64\":\"{}\\n{}\"}}",
                    &b64[..8],
                    &b64[8..]
                )
                .into_bytes(),
            ),
        ];
        for (case, ct, body) in ok {
            assert_eq!(read_document(7, ct, &body).as_ref(), Ok(&pdf), "{case}");
        }
        let bad: [(&str, Option<&str>, Vec<u8>, &str); 6] = [
            (
                "garbage",
                Some("application/octet-stream"),
                b"GIF89a...".to_vec(),
                "neither a PDF nor JSON",
            ),
            ("empty", None, vec![], "empty"),
            (
                "typed PDF, is not",
                Some("application/pdf"),
                b"<html>".to_vec(),
                "not a PDF",
            ),
            (
                "JSON without the file",
                None,
                br#"{"Message":"x"}"#.to_vec(),
                "no FileContents",
            ),
            (
                "base64 of something else",
                None,
                format!(r#"{{"FileContents":"{gif}"}}"#).into_bytes(),
                "not a PDF",
            ),
            (
                "not base64",
                None,
                br#"{"FileContents":"%%%"}"#.to_vec(),
                "not base64",
            ),
        ];
        for (case, ct, body, says) in bad {
            let e = read_document(7, ct, &body).unwrap_err();
            assert!(
                e.contains("COA document 7") && e.contains(says),
                "{case}: {e}"
            );
        }
    }

    #[test]
    fn which_packages_need_results() {
        let now: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
        let c = |id: Option<i64>, at: Option<&str>, modified: &str, has_coa: bool| CoaCandidate {
            tag: crate::tag::MetrcTag::new("1A4000000000000000000001").unwrap(),
            metrc_id: id,
            last_modified: "M2".into(),
            checked_at: at.map(str::to_string),
            checked_modified: Some(modified.into()),
            has_coa,
        };
        let cases = [
            ("never read", c(Some(1), None, "M2", false), false, true),
            ("no Metrc Id", c(None, None, "M2", false), false, false),
            (
                "read a minute ago, none",
                c(Some(1), Some("2026-12-01T11:59:00Z"), "M2", false),
                false,
                false,
            ),
            (
                "read two hours ago, none",
                c(Some(1), Some("2026-12-01T10:00:00Z"), "M2", false),
                false,
                true,
            ),
            (
                "read two hours ago, has one",
                c(Some(1), Some("2026-12-01T10:00:00Z"), "M2", true),
                false,
                false,
            ),
            (
                "read two days ago, has one",
                c(Some(1), Some("2026-11-29T10:00:00Z"), "M2", true),
                false,
                true,
            ),
            (
                "changed in Metrc since",
                c(Some(1), Some("2026-12-01T11:59:00Z"), "M1", true),
                false,
                true,
            ),
            (
                "full",
                c(Some(1), Some("2026-12-01T11:59:00Z"), "M2", true),
                true,
                true,
            ),
        ];
        for (case, cand, full, want) in cases {
            assert_eq!(needs_results(&cand, full, now), want, "{case}");
        }
    }
}
