//! Lab results and COA documents (METRC-API.md §4): `/labtests/v2/results?packageId=`
//! (packageId and licenseNumber required, the paged envelope, one row per test type)
//! and `/labtests/v2/labtestdocument/{id}`, a small valid PDF served raw or in a
//! `{"FileContents": base64}` envelope (the real format is unconfirmed), or garbage
//! on purpose.
//!
//! The results derive from the package file: a package whose `LabTestingState` is
//! `TestPassed` or `RetestPassed` has one result of three test types naming its
//! batch's COA (so every package of a batch shares one document), plus an older
//! revoked result naming another document; any other package has no results. A
//! batch can be set to have no COA; a package Id not in the file answers 401, as
//! Metrc does for a package not on the license.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use serde_json::{Value, json};

use super::{Emulator, bad, envelope, paging};

/// How `/labtests/v2/labtestdocument/{id}` answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DocumentFormat {
    /// The PDF itself, `Content-Type: application/pdf`.
    #[default]
    Raw,
    /// `{"FileContents": "<base64>", "ContentType": ..., "FileDownloadName": ...}`,
    /// as Metrc's manifest and item file endpoints answer.
    Envelope,
}

/// The lab side of the emulator: its one state field.
#[derive(Debug, Default)]
pub(super) struct Labs {
    format: DocumentFormat,
    /// Documents answered with bytes that are neither a PDF nor JSON.
    garbage: BTreeSet<i64>,
    /// Batches whose results name no COA document.
    no_coa: BTreeSet<String>,
    /// Documents served (not counting refusals and faults), by id.
    served: HashMap<i64, u32>,
}

const TEST_TYPES: [&str; 3] = ["Cannabinoids", "Microbiologicals", "Pesticides"];

/// The COA document of `batch`: a number from its name, the same every run.
pub fn document_of_batch(batch: &str) -> i64 {
    // FNV-1a, folded into six digits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in batch.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    100_000 + (h % 800_000) as i64
}

/// The revoked result's document of `batch` (never served: a client must not ask).
fn revoked_document_of_batch(batch: &str) -> i64 {
    document_of_batch(batch) + 900_000
}

impl Emulator {
    /// Serve COA documents raw or in a JSON envelope.
    pub fn set_document_format(&self, f: DocumentFormat) {
        self.labs.lock().expect("lock").format = f;
    }

    /// Answer document `id` with garbage (neither a PDF nor JSON) until cleared.
    pub fn garbage_document(&self, id: i64, garbage: bool) {
        let mut l = self.labs.lock().expect("lock");
        if garbage {
            l.garbage.insert(id);
        } else {
            l.garbage.remove(&id);
        }
    }

    /// The packages of `batch` get results that name no COA document.
    pub fn no_coa_for_batch(&self, batch: &str) {
        self.labs.lock().expect("lock").no_coa.insert(batch.into());
    }

    /// How many times document `id` was served.
    pub fn documents_served(&self, id: i64) -> u32 {
        self.labs
            .lock()
            .expect("lock")
            .served
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    /// The batches of packages with results, and whether each has a COA.
    fn lab_batches(&self) -> Vec<(String, bool)> {
        let no_coa = self.labs.lock().expect("lock").no_coa.clone();
        let batches: BTreeSet<String> = self
            .packages
            .lock()
            .expect("lock")
            .iter()
            .filter(|p| passed(p))
            .filter_map(|p| p["ProductionBatchNumber"].as_str().map(str::to_string))
            .collect();
        batches
            .into_iter()
            .map(|b| {
                let has = !no_coa.contains(&b);
                (b, has)
            })
            .collect()
    }
}

fn passed(p: &Value) -> bool {
    matches!(
        p["LabTestingState"].as_str(),
        Some("TestPassed") | Some("RetestPassed")
    )
}

fn not_on_license() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"Message": "The specified Package Id is not valid for the specified License Number."})),
    )
        .into_response()
}

pub(super) async fn results(
    State(emu): State<Arc<Emulator>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    if let Err(r) = emu.licensed(&q) {
        return r;
    }
    let Some(id) = q.get("packageId") else {
        return bad("packageId is required.");
    };
    let Ok(id) = id.parse::<i64>() else {
        return bad("packageId must be a number.");
    };
    let (page, size) = match paging(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let package = emu
        .packages
        .lock()
        .expect("lock")
        .iter()
        .find(|p| p["Id"].as_i64() == Some(id))
        .cloned();
    let Some(p) = package else {
        return not_on_license();
    };
    let mut rows = Vec::new();
    if passed(&p) {
        let batch = p["ProductionBatchNumber"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let has_coa = !emu.labs.lock().expect("lock").no_coa.contains(&batch);
        let doc = document_of_batch(&batch);
        let row = |result: i64, test: &str, document: Option<i64>, revoked: Option<&str>| {
            json!({
                "PackageId": id, "LabTestResultId": result,
                "LabFacilityLicenseNumber": "405R-X0001", "LabFacilityName": "EMULATED TESTING LABS, LLC",
                "SourcePackageLabel": p["Label"], "ProductName": p["Item"]["Name"],
                "ProductCategoryName": p["Item"]["ProductCategoryName"],
                "TestPerformedDate": "2026-10-01", "OverallPassed": true, "RevokedDate": revoked,
                "LabTestResultDocumentFileId": document, "ResultReleased": true,
                "ResultReleaseDateTime": "2026-10-02T00:00:00+00:00", "ExpirationDateTime": null,
                "TestTypeName": test, "TestPassed": true, "TestResultLevel": 0.1,
                "TestComment": "", "TestInformationalOnly": false, "LabTestDetailRevokedDate": null
            })
        };
        // An older result, revoked: its document must not be asked for.
        rows.push(row(
            doc * 10 + 1,
            "Cannabinoids",
            Some(revoked_document_of_batch(&batch)),
            Some("2026-09-30T00:00:00+00:00"),
        ));
        for t in TEST_TYPES {
            rows.push(row(doc * 10 + 2, t, has_coa.then_some(doc), None));
        }
    }
    let total = rows.len();
    let size = size.unwrap_or(total.max(1));
    let data: Vec<Value> = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Json(envelope(data, page, size, total)).into_response()
}

pub(super) async fn document(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    if let Err(r) = emu.licensed(&q) {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else {
        return bad("The document id must be a number.");
    };
    let Some((batch, _)) = emu
        .lab_batches()
        .into_iter()
        .find(|(b, has)| *has && document_of_batch(b) == id)
    else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"Message": "The specified document is not valid for the specified License Number."})),
        )
            .into_response();
    };
    let (format, garbage) = {
        let mut l = emu.labs.lock().expect("lock");
        *l.served.entry(id).or_default() += 1;
        (l.format, l.garbage.contains(&id))
    };
    if garbage {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            b"GIF89a\x01\x00\x01\x00 not a COA".to_vec(),
        )
            .into_response();
    }
    let pdf = coa_pdf(&batch, id);
    match format {
        DocumentFormat::Raw => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/pdf")],
            pdf,
        )
            .into_response(),
        DocumentFormat::Envelope => Json(json!({
            "FileContents": base64::engine::general_purpose::STANDARD.encode(&pdf),
            "ContentType": "application/octet-stream",
            "FileDownloadName": format!("COA-{batch}-{id}.pdf"),
            "HttpStatusCode": "OK"
        }))
        .into_response(),
    }
}

/// A one-page PDF naming the batch and the document.
pub fn coa_pdf(batch: &str, id: i64) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree, page, font, content) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, 612.0, 792.0));
    p.parent(tree);
    p.contents(content);
    p.resources().fonts().pair(Name(b"F1"), font);
    p.finish();
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    let mut c = Content::new();
    c.begin_text();
    c.set_font(Name(b"F1"), 14.0);
    c.next_line(72.0, 700.0);
    let line = format!("Certificate of analysis: batch {batch}, document {id} (emulated)");
    c.show(Str(line.as_bytes()));
    c.end_text();
    pdf.stream(content, &c.finish());
    pdf.finish()
}
