//! Transfers: outgoing templates (`POST` and the windowed list), the outgoing
//! transfers a person makes from them in Metrc's web app, their deliveries and each
//! delivery's packages with their `ShipmentPackageState`, as METRC-API.md §5
//! describes them. What a person does in Metrc's web app (registering a template as a
//! transfer, the receiver accepting or rejecting packages) the emulator does on
//! [`Emulator::register`] and [`Emulator::receive`], or on its own `/emulator/...`
//! routes for a demo.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Emulator, bad, envelope, paging, window};

/// The transfers side of the emulated facility.
#[derive(Default)]
pub(super) struct Transfers {
    next_id: i64,
    templates: Vec<Template>,
    transfers: Vec<Transfer>,
    /// The next template post is stored, then answered this late.
    slow_after_write: Option<Duration>,
    /// Template posts are answered 200 with an empty body (some instances' docs
    /// say "No response").
    without_ids: bool,
}

struct Template {
    id: i64,
    name: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    body: Value,
}

struct Transfer {
    id: i64,
    manifest: String,
    template: i64,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    deliveries: Vec<Delivery>,
}

struct Delivery {
    id: i64,
    recipient: String,
    received: Option<DateTime<Utc>>,
    /// `(PackageLabel, ShipmentPackageState)`, in the template's order.
    packages: Vec<(String, String)>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

impl Transfers {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}

impl Emulator {
    /// The templates stored, `(Id, Name)`, oldest first.
    pub fn templates(&self) -> Vec<(i64, String)> {
        let t = self.transfers.lock().expect("lock");
        t.templates.iter().map(|t| (t.id, t.name.clone())).collect()
    }

    /// Template `id` as posted.
    pub fn template_body(&self, id: i64) -> Option<Value> {
        let t = self.transfers.lock().expect("lock");
        t.templates
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.body.clone())
    }

    /// The next template post is stored and then answered after `d` (past the
    /// client's timeout, say): the client cannot know it was stored.
    pub fn slow_after_write(&self, d: Duration) {
        self.transfers.lock().expect("lock").slow_after_write = Some(d);
    }

    /// Answer template posts with an empty 200 (`true`) or with their ids.
    pub fn post_without_ids(&self, on: bool) {
        self.transfers.lock().expect("lock").without_ids = on;
    }

    /// A person registers template `id` as an outgoing transfer in Metrc's web app:
    /// a manifest number, one delivery per destination, every package `Shipped`.
    /// Returns the transfer's id and its deliveries' ids.
    pub fn register(&self, template: i64) -> Option<(i64, Vec<i64>)> {
        let mut t = self.transfers.lock().expect("lock");
        let body = t.templates.iter().find(|x| x.id == template)?.body.clone();
        let now = Utc::now();
        let id = t.id();
        let mut deliveries = vec![];
        for d in body["Destinations"].as_array().into_iter().flatten() {
            let delivery_id = t.id();
            deliveries.push(Delivery {
                id: delivery_id,
                recipient: d["RecipientLicenseNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                received: None,
                packages: d["Packages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["PackageLabel"].as_str())
                    .map(|l| (l.to_string(), "Shipped".to_string()))
                    .collect(),
            });
        }
        let ids = deliveries.iter().map(|d| d.id).collect();
        t.transfers.push(Transfer {
            id,
            manifest: format!("{:010}", id),
            template,
            created: now,
            modified: now,
            deliveries,
        });
        Some((id, ids))
    }

    /// The receiver records delivery `delivery` in Metrc: each package named in
    /// `states` gets that `ShipmentPackageState`, every other one `Accepted`.
    pub fn receive(&self, delivery: i64, states: &[(&str, &str)]) -> bool {
        let mut t = self.transfers.lock().expect("lock");
        let now = Utc::now();
        let Some(tr) = t
            .transfers
            .iter_mut()
            .find(|tr| tr.deliveries.iter().any(|d| d.id == delivery))
        else {
            return false;
        };
        tr.modified = now;
        let d = tr
            .deliveries
            .iter_mut()
            .find(|d| d.id == delivery)
            .expect("found above");
        d.received = Some(now);
        for (label, state) in &mut d.packages {
            *state = states
                .iter()
                .find(|(l, _)| l == label)
                .map(|(_, s)| s.to_string())
                .unwrap_or_else(|| "Accepted".into());
        }
        true
    }
}

/// `(destination index, label)` of every package of a template body.
fn labels_of(template: &Value) -> Vec<(usize, String)> {
    template["Destinations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, d)| {
            d["Packages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |p| p["PackageLabel"].as_str().map(|l| (i, l.to_string())))
        })
        .collect()
}

/// One of Metrc's validation shapes: a list of `{row, message}`.
fn invalid(row: usize, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!([{"row": row, "message": message}])),
    )
        .into_response()
}

type Q = Query<HashMap<String, String>>;

pub(super) async fn post_template(
    State(emu): State<Arc<Emulator>>,
    Query(q): Q,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    if let Err(r) = emu.licensed(&q) {
        return r;
    }
    let Ok(Value::Array(templates)) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body must be a list of templates.");
    };
    if templates.is_empty() {
        return bad("The request body must be a list of templates.");
    }
    let known: std::collections::HashSet<String> = emu
        .packages
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|p| p["Label"].as_str().map(str::to_string))
        .collect();
    for (row, t) in templates.iter().enumerate() {
        if t["Name"].as_str().is_none_or(|n| n.trim().is_empty()) {
            return invalid(row, "Name is required.".into());
        }
        let Some(ds) = t["Destinations"].as_array().filter(|d| !d.is_empty()) else {
            return invalid(row, "At least one destination is required.".into());
        };
        for d in ds {
            if d["RecipientLicenseNumber"]
                .as_str()
                .is_none_or(|l| l.trim().is_empty())
            {
                return invalid(row, "RecipientLicenseNumber is required.".into());
            }
            if d["Packages"].as_array().is_none_or(|p| p.is_empty()) {
                return invalid(row, "At least one package is required.".into());
            }
        }
        if let Some((_, l)) = labels_of(t).into_iter().find(|(_, l)| !known.contains(l)) {
            return invalid(row, format!("Package {l} was not found."));
        }
    }
    let (ids, late, without_ids) = {
        let mut tr = emu.transfers.lock().expect("lock");
        let now = Utc::now();
        let mut ids = vec![];
        for t in templates {
            let id = tr.id();
            tr.templates.push(Template {
                id,
                name: t["Name"].as_str().unwrap_or_default().to_string(),
                created: now,
                modified: now,
                body: t,
            });
            ids.push(id);
        }
        (ids, tr.slow_after_write.take(), tr.without_ids)
    };
    if let Some(d) = late {
        tokio::time::sleep(d).await;
    }
    if without_ids {
        return StatusCode::OK.into_response();
    }
    Json(json!({"Ids": ids, "Warnings": null})).into_response()
}

/// Page `q` asks for of `rows`.
fn page_of(rows: Vec<Value>, q: &HashMap<String, String>) -> Response {
    let (page, size) = match paging(q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let total = rows.len();
    let size = size.unwrap_or(total.max(1));
    let data = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Json(envelope(data, page, size, total)).into_response()
}

pub(super) async fn list_templates(
    State(emu): State<Arc<Emulator>>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await.and_then(|_| emu.licensed(&q)) {
        return r;
    }
    let (start, end) = match window(&emu, &q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let rows = {
        let t = emu.transfers.lock().expect("lock");
        t.templates
            .iter()
            .filter(|x| x.modified >= start && x.modified <= end)
            .map(|x| {
                let labels = labels_of(&x.body);
                json!({
                    "Id": x.id, "ManifestNumber": null, "InvoiceNumber": null,
                    "ShipmentLicenseType": 0, "ShipperFacilityLicenseNumber": emu.license,
                    "ShipperFacilityName": emu.facility, "Name": x.name,
                    "DriverName": x.body["DriverName"], "VehicleMake": x.body["VehicleMake"],
                    "DeliveryCount": x.body["Destinations"].as_array().map_or(0, Vec::len),
                    "ReceivedDeliveryCount": 0, "PackageCount": labels.len(),
                    "ReceivedPackageCount": 0, "IsVoided": false,
                    "CreatedDateTime": stamp(x.created), "CreatedByUserName": null,
                    "LastModified": stamp(x.modified), "DeliveryId": 0,
                    "EstimatedDepartureDateTime": "0001-01-01T00:00:00.000",
                    "ActualDepartureDateTime": null, "ReceivedDateTime": null,
                    "OriginatingTemplateId": null
                })
            })
            .collect()
    };
    page_of(rows, &q)
}

pub(super) async fn outgoing(
    State(emu): State<Arc<Emulator>>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await.and_then(|_| emu.licensed(&q)) {
        return r;
    }
    let (start, end) = match window(&emu, &q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let rows = {
        let t = emu.transfers.lock().expect("lock");
        t.transfers
            .iter()
            .filter(|x| x.modified >= start && x.modified <= end)
            .map(|x| {
                let packages: usize = x.deliveries.iter().map(|d| d.packages.len()).sum();
                let received = x.deliveries.iter().filter(|d| d.received.is_some());
                json!({
                    "Id": x.id, "ManifestNumber": x.manifest, "Name": null,
                    // Live NY answers a string here; the docs show 0 (METRC-API.md §5).
                    "ShipmentLicenseType": "Licensed",
                    "ShipperFacilityLicenseNumber": emu.license,
                    "ShipperFacilityName": emu.facility,
                    "DeliveryCount": x.deliveries.len(),
                    "ReceivedDeliveryCount": received.clone().count(),
                    "PackageCount": packages,
                    "ReceivedPackageCount": received.map(|d| d.packages.len()).sum::<usize>(),
                    "IsVoided": false, "CreatedDateTime": stamp(x.created),
                    "LastModified": stamp(x.modified),
                    "DeliveryId": x.deliveries.first().map_or(0, |d| d.id),
                    "RecipientFacilityLicenseNumber": null, "ShipmentTypeName": null,
                    "OriginatingTemplateId": null,
                    "ContainsPreTreatedProductPackage": false
                })
            })
            .collect()
    };
    page_of(rows, &q)
}

pub(super) async fn deliveries(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    let rows = {
        let t = emu.transfers.lock().expect("lock");
        let Some(x) = id
            .parse::<i64>()
            .ok()
            .and_then(|id| t.transfers.iter().find(|x| x.id == id))
        else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"Message": "No such transfer."})),
            )
                .into_response();
        };
        x.deliveries
            .iter()
            .enumerate()
            .map(|(i, d)| {
                json!({
                    "Id": d.id, "ManifestNumber": x.manifest, "DeliveryNumber": i + 1,
                    "RecipientFacilityLicenseNumber": d.recipient,
                    "RecipientFacilityName": null, "ShipmentTypeName": "Transfer",
                    "ShipmentTransactionType": "Standard", "InvoiceNumber": null,
                    "ActualDepartureDateTime": null, "ActualArrivalDateTime": null,
                    "DeliveryPackageCount": d.packages.len(),
                    "DeliveryReceivedPackageCount": if d.received.is_some() { d.packages.len() } else { 0 },
                    "ReceivedDateTime": d.received.map(stamp),
                    "RejectedPackagesReturned": false, "PDFDocumentFileSystemId": null,
                    "OriginatingTemplateId": x.template
                })
            })
            .collect()
    };
    page_of(rows, &q)
}

pub(super) async fn delivery_packages(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    let rows = {
        let t = emu.transfers.lock().expect("lock");
        let Some(d) = id.parse::<i64>().ok().and_then(|id| {
            t.transfers
                .iter()
                .flat_map(|x| &x.deliveries)
                .find(|d| d.id == id)
        }) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"Message": "No such delivery."})),
            )
                .into_response();
        };
        d.packages
            .iter()
            .enumerate()
            .map(|(i, (label, state))| {
                let received = state == "Accepted";
                json!({
                    "PackageId": i + 1, "PackageLabel": label, "PackageType": "Product",
                    "ItemName": null, "LabTestingState": "TestPassed",
                    "ShipmentPackageState": state, "ShippedQuantity": 1.0,
                    "ShippedUnitOfMeasureName": "Each",
                    "ReceivedQuantity": if received { json!(1.0) } else { Value::Null },
                    "ReceivedUnitOfMeasureName": if received { json!("Each") } else { Value::Null },
                    "PackagedDate": null, "ExpirationDate": null, "SellByDate": null,
                    "UseByDate": "0001-01-01T00:00:00.000", "IsFinishedGood": false
                })
            })
            .collect()
    };
    page_of(rows, &q)
}

/// `POST /emulator/templates/{id}/register`: the demo's stand-in for a person
/// registering the template in Metrc's web app. Answers the transfer and deliveries.
pub(super) async fn admin_register(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<i64>,
) -> Response {
    match emu.register(id) {
        Some((transfer, deliveries)) => {
            Json(json!({"TransferId": transfer, "DeliveryIds": deliveries})).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such template").into_response(),
    }
}

/// `POST /emulator/deliveries/{id}/receive` with `{"Rejected": [labels]}` (every
/// other package accepted): the receiver's side in Metrc, for a demo.
pub(super) async fn admin_receive(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rejected: Vec<&str> = v["Rejected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let states: Vec<(&str, &str)> = rejected.iter().map(|l| (*l, "Rejected")).collect();
    if emu.receive(id, &states) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::NOT_FOUND, "no such delivery").into_response()
    }
}
