//! A Metrc emulator: ordinary code that serves the endpoints tagtally calls from a
//! package file, the way `../shared/METRC-API.md` describes Metrc (HTTP Basic,
//! `licenseNumber`, the paged envelope with `pageSize` at most 20, `lastModified`
//! windows with both bounds, error bodies in Metrc's shapes), and misbehaves on
//! purpose: a window cap (400 past it), 401 for wrong keys or a foreign license,
//! injected faults (429 with and without `Retry-After`, 500, a slow answer, a v1-only
//! key, a malformed page). Lab results and COA documents: `labtests`. The tests run the real client against it on a loopback
//! port; `tagtally metrc-emulator` serves it for a demo.

// A refusal is the answer itself (`Result<_, Response>`), as axum handlers write it;
// boxing each would buy nothing on a test server.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Mutex;

mod labtests;
mod packages;
mod transfers;

pub use labtests::{DocumentFormat, coa_pdf, document_of_batch};

/// A fault the next request meets (in the order injected).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429, with `Retry-After: N` seconds or without it.
    TooMany { retry_after: Option<u64> },
    /// 500 with a `{"Message": ...}` body.
    ServerError,
    /// The answer comes after this long (past the client's timeout, say).
    Slow(Duration),
    /// 401 in plain text: "only valid for V1 API endpoints".
    V1Only,
    /// Any status with a `{"Message": ...}` body (a 405 for a license type that
    /// cannot use the endpoint, say).
    Status(u16),
    /// Nothing: lets a request through (to aim the next fault at a later request).
    Pass,
}

/// A change due once a page is answered: `((list, page), label, changes)`.
type ChangeAfter = ((String, u32), String, Value);

/// The emulated Metrc of one facility.
pub struct Emulator {
    license: String,
    vendor: String,
    user: String,
    facility: String,
    packages: Mutex<Vec<Value>>,
    window_cap_hours: Mutex<Option<i64>>,
    faults: Mutex<VecDeque<Fault>>,
    /// `(list, page)` answered with broken JSON while set.
    malformed: Mutex<Option<(String, u32)>>,
    /// A change made to a package just after `(list, page)` is answered once: the
    /// list changes between the pages of one read.
    change_after: Mutex<Option<ChangeAfter>>,
    /// Lab results and COA documents (`labtests`).
    labs: Mutex<labtests::Labs>,
    requests: AtomicU64,
    /// When each request arrived.
    arrivals: Mutex<Vec<std::time::Instant>>,
    transfers: Mutex<transfers::Transfers>,
}

impl Emulator {
    /// Serve `packages` (Metrc v2 package objects) for `license`, to the keys
    /// `vendor`:`user`.
    pub fn new(license: &str, vendor: &str, user: &str, packages: Vec<Value>) -> Arc<Emulator> {
        Arc::new(Emulator {
            license: license.into(),
            vendor: vendor.into(),
            user: user.into(),
            facility: "Demo Wholesale LLC".into(),
            packages: Mutex::new(packages),
            window_cap_hours: Mutex::new(Some(24)),
            faults: Mutex::new(VecDeque::new()),
            malformed: Mutex::new(None),
            change_after: Mutex::new(None),
            labs: Mutex::default(),
            requests: AtomicU64::new(0),
            arrivals: Mutex::new(Vec::new()),
            transfers: Mutex::new(transfers::Transfers::default()),
        })
    }

    /// The packages of a Metrc package file (v1 array or v2 `{"Data": [...]}`).
    pub fn packages_of(bytes: &[u8]) -> Result<Vec<Value>, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        match v {
            Value::Array(a) => Ok(a),
            Value::Object(mut o) => match o.remove("Data") {
                Some(Value::Array(a)) => Ok(a),
                _ => Err("expected a list of packages or {\"Data\": [...]}".into()),
            },
            _ => Err("expected a list of packages or {\"Data\": [...]}".into()),
        }
    }

    /// Refuse windows wider than `hours` with 400 (`None`: any width).
    pub fn set_window_cap(&self, hours: Option<i64>) {
        *self.window_cap_hours.lock().expect("lock") = hours;
    }

    /// The next request meets `fault` (after those injected before it).
    pub fn inject(&self, fault: Fault) {
        self.faults.lock().expect("lock").push_back(fault);
    }

    /// Answer page `page` of `list` with broken JSON until cleared (`None`).
    pub fn malformed_page(&self, at: Option<(&str, u32)>) {
        *self.malformed.lock().expect("lock") = at.map(|(l, p)| (l.to_string(), p));
    }

    /// Once page `page` of `list` is answered, change the package `label` (as
    /// [`Emulator::change`]): the list moves under a reader between two pages.
    pub fn change_after_page(&self, list: &str, page: u32, label: &str, changes: Value) {
        *self.change_after.lock().expect("lock") =
            Some(((list.to_string(), page), label.to_string(), changes));
    }

    /// Change a package (matched by `Label`) as Metrc would: its fields replaced by
    /// `changes`, `LastModified` now.
    pub fn change(&self, label: &str, changes: Value) -> bool {
        let mut pk = self.packages.lock().expect("lock");
        let Some(p) = pk.iter_mut().find(|p| p["Label"] == label) else {
            return false;
        };
        if let (Value::Object(p), Value::Object(c)) = (p, changes) {
            for (k, v) in c {
                p.insert(k, v);
            }
            p.insert(
                "LastModified".into(),
                json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)),
            );
        }
        true
    }

    /// When each request so far arrived, in order.
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        self.arrivals.lock().expect("lock").clone()
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/facilities/v2", get(facilities))
            .route("/facilities/v2/", get(facilities))
            .route("/packages/v2/{list}", get(packages::packages))
            .route(
                "/transfers/v2/templates/outgoing",
                get(transfers::list_templates).post(transfers::post_template),
            )
            .route("/transfers/v2/outgoing", get(transfers::outgoing))
            .route("/transfers/v2/{id}/deliveries", get(transfers::deliveries))
            .route(
                "/transfers/v2/deliveries/{id}/packages",
                get(transfers::delivery_packages),
            )
            .route(
                "/emulator/templates/{id}/register",
                post(transfers::admin_register),
            )
            .route(
                "/emulator/deliveries/{id}/receive",
                post(transfers::admin_receive),
            )
            .route("/labtests/v2/results", get(labtests::results))
            .route("/labtests/v2/labtestdocument/{id}", get(labtests::document))
            .with_state(self.clone())
    }

    /// Serve on `addr` until the process ends.
    pub async fn serve(self: &Arc<Self>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Serve on a loopback port of its own thread (tests, the demo, the bench);
    /// returns its base URL.
    pub fn spawn(self: &Arc<Self>) -> String {
        let addr = crate::periodic::serve_on_loopback(self.router());
        format!("http://{addr}")
    }

    /// 401 unless the request names this facility's license (`licenseNumber`).
    fn licensed(&self, q: &HashMap<String, String>) -> Result<(), Response> {
        if q.get("licenseNumber") == Some(&self.license) {
            return Ok(());
        }
        Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"Message": "No valid license was specified, or the user has no access to it."})),
        )
            .into_response())
    }

    /// Every request: count it, check the keys, meet the next fault.
    async fn gate(&self, headers: &HeaderMap) -> Result<(), Response> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.arrivals
            .lock()
            .expect("lock")
            .push(std::time::Instant::now());
        let fault = self.faults.lock().expect("lock").pop_front();
        match fault {
            Some(Fault::TooMany { retry_after }) => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"Message": "Too many requests."})),
                )
                    .into_response();
                if let Some(s) = retry_after {
                    r.headers_mut().insert(
                        header::RETRY_AFTER,
                        HeaderValue::from_str(&s.to_string()).expect("digits"),
                    );
                }
                return Err(r);
            }
            Some(Fault::ServerError) => {
                return Err((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"Message": "An error has occurred."})),
                )
                    .into_response());
            }
            Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
            Some(Fault::Status(code)) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
                return Err((
                    status,
                    Json(json!({"Message": format!("The request is not allowed ({code}).")})),
                )
                    .into_response());
            }
            Some(Fault::Pass) => {}
            Some(Fault::V1Only) => {
                return Err((
                    StatusCode::UNAUTHORIZED,
                    [(header::CONTENT_TYPE, "text/html")],
                    "The provided API key is only valid for V1 API endpoints.",
                )
                    .into_response());
            }
            None => {}
        }
        let want = format!("{}:{}", self.vendor, self.user);
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        if given.as_deref() != Some(want.as_bytes()) {
            return Err((
                StatusCode::UNAUTHORIZED,
                Json(json!({"Message": "Authorization has been denied for this request."})),
            )
                .into_response());
        }
        Ok(())
    }
}

async fn facilities(State(emu): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    Json(json!([{
        "FacilityId": 1, "HireDate": "0001-01-01", "IsOwner": false, "IsManager": true,
        "Name": emu.facility, "Alias": emu.facility, "DisplayName": emu.facility,
        "CredentialedDate": "2020-01-01",
        "FacilityType": {"IsMedical": false, "IsRetail": false},
        "License": {"Number": emu.license, "EmployeeLicenseNumber": emu.license,
                    "StartDate": "2020-01-01", "EndDate": "2030-12-31",
                    "LicenseType": "Distributor"}
    }]))
    .into_response()
}

/// A 400 in Metrc's `{"Message": ...}` shape.
fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"Message": message}))).into_response()
}

/// Both `lastModified` bounds of a windowed list, within the window cap. Without
/// both, Metrc answers an empty list: the `Err` is that answer.
fn window(
    emu: &Emulator,
    q: &HashMap<String, String>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Response> {
    let bound = |k: &str| {
        q.get(k)
            .map(|s| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)))
    };
    let (start, end) = match (bound("lastModifiedStart"), bound("lastModifiedEnd")) {
        (Some(Ok(s)), Some(Ok(e))) => (s, e),
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return Err(bad("lastModified dates could not be read."));
        }
        _ => return Err(Json(envelope(vec![], 1, 20, 0)).into_response()),
    };
    if let Some(cap) = *emu.window_cap_hours.lock().expect("lock")
        && end - start > chrono::Duration::hours(cap)
    {
        return Err(bad(&format!(
            "The date range between lastModifiedStart and lastModifiedEnd cannot exceed {cap} hours."
        )));
    }
    Ok((start, end))
}

/// `pageNumber` (default 1) and `pageSize` (1 to 20; absent: everything on one page).
fn paging(q: &HashMap<String, String>) -> Result<(usize, Option<usize>), Response> {
    let size = match q.get("pageSize").map(|s| s.parse::<usize>()) {
        None => None,
        Some(Ok(n)) if (1..=20).contains(&n) => Some(n),
        Some(_) => return Err(bad("pageSize must be between 1 and 20.")),
    };
    let page = match q.get("pageNumber").map(|s| s.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return Err(bad("pageNumber must be 1 or more.")),
    };
    Ok((page, size))
}

/// Metrc's paged envelope, all eight fields.
fn envelope(data: Vec<Value>, page: usize, size: usize, total: usize) -> Value {
    let pages = total.div_ceil(size.max(1));
    json!({
        "RecordsOnPage": data.len(), "Data": data, "Total": total, "TotalRecords": total,
        "PageSize": size, "Page": page, "CurrentPage": page, "TotalPages": pages
    })
}
