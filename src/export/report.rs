//! The delivery report as JSON, for the coordinator who completes receipt in Metrc's
//! web app (the API cannot): how many packages were accepted, which were rejected with
//! the reason and note (each goes back to the shipper's vault as a return), which were
//! never scanned, and by when receipt must be entered.
//!
//! The signature itself is left out: the PDF carries the image, the JSON its SHA-256
//! and size so the two can be matched.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{DeliveryReportDoc, ManifestPackage, Outcome};

fn package(p: &ManifestPackage) -> Value {
    json!({
        "tag": p.tag,
        "item": p.item,
        "batch": p.batch,
        "quantity": p.quantity,
        "unit": p.unit,
        "wholesale_price_cents": p.wholesale_price_cents,
    })
}

/// The delivery report of `doc` as JSON:
///
/// - `order`, `buyer`, `recipient_license`, `shipper`, `driver`, `vehicle`, `load_id`,
///   `loaded_at`, `delivered_at`, `receiver`, `receipt_deadline`;
/// - `signature`: `{sha256, bytes}` of the PNG;
/// - `counts`: `{packages, accepted, rejected, not_scanned}`;
/// - `accepted`: the accepted tags;
/// - `rejected`: each rejected package with `reason`, `note` and `return_to`
///   (the shipper's license: it returns to that vault);
/// - `not_scanned`: packages to find before entering receipt;
/// - `packages`: every package with its `outcome` (as [`Outcome`] serialises), and
///   `metrc_state` (Metrc's `ShipmentPackageState`) once a receipt was read back;
/// - `metrc`: Metrc's receipt as read back, with the issues in words (or `null`).
pub fn delivery_report_json(doc: &DeliveryReportDoc) -> Value {
    let counts = doc.counts();
    let accepted: Vec<&str> = doc
        .packages
        .iter()
        .filter(|(_, o)| *o == Outcome::Accepted)
        .map(|(p, _)| p.tag.as_str())
        .collect();
    let rejected: Vec<Value> = doc
        .packages
        .iter()
        .filter_map(|(p, o)| match o {
            Outcome::Rejected { reason, note } => {
                let mut v = package(p);
                v["reason"] = json!(reason);
                v["note"] = json!(note);
                v["return_to"] = json!(doc.facility.license);
                Some(v)
            }
            _ => None,
        })
        .collect();
    let not_scanned: Vec<Value> = doc
        .packages
        .iter()
        .filter(|(_, o)| *o == Outcome::NotScanned)
        .map(|(p, _)| package(p))
        .collect();
    let packages: Vec<Value> = doc
        .packages
        .iter()
        .map(|(p, o)| {
            let mut v = package(p);
            if let (Value::Object(m), Ok(Value::Object(outcome))) =
                (&mut v, serde_json::to_value(o))
            {
                m.extend(outcome);
            }
            if let Some(side) = &doc.metrc {
                v["metrc_state"] = json!(side.states.get(p.tag.as_str()));
            }
            v
        })
        .collect();
    let sha256: String = Sha256::digest(&doc.signature_png)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "order": doc.order,
        "buyer": doc.buyer,
        "recipient_license": doc.recipient_license,
        "shipper": doc.facility,
        "driver": doc.driver,
        "vehicle": doc.vehicle,
        "load_id": doc.load_id,
        "loaded_at": doc.loaded_at,
        "delivered_at": doc.delivered_at,
        "receiver": doc.receiver,
        "receipt_deadline": doc.receipt_deadline,
        "signature": {"sha256": sha256, "bytes": doc.signature_png.len()},
        "counts": {
            "packages": doc.packages.len(),
            "accepted": counts.accepted,
            "rejected": counts.rejected,
            "not_scanned": counts.not_scanned,
        },
        "accepted": accepted,
        "rejected": rejected,
        "not_scanned": not_scanned,
        "packages": packages,
        "metrc": doc.metrc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests_support::{doc, package as pkg};

    fn report(outcomes: Vec<Outcome>) -> DeliveryReportDoc {
        let m = doc(&[]);
        DeliveryReportDoc {
            order: "SO-1".into(),
            buyer: "Buyer".into(),
            recipient_license: "C10-1".into(),
            facility: m.facility,
            driver: m.driver,
            vehicle: m.vehicle,
            load_id: m.load_id,
            loaded_at: m.loaded_at,
            delivered_at: "2026-11-27T11:20:00-08:00".into(),
            receiver: "Kim Diaz".into(),
            signature_png: b"abc".to_vec(),
            receipt_deadline: "2026-11-28T11:20:00-08:00".into(),
            packages: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, o)| (pkg(i), o))
                .collect(),
            metrc: None,
        }
    }

    #[test]
    fn the_report_counts_and_lists_what_the_coordinator_enters() {
        let doc = report(vec![
            Outcome::Accepted,
            Outcome::Rejected {
                reason: "damaged".into(),
                note: Some("crushed box".into()),
            },
            Outcome::NotScanned,
            Outcome::Accepted,
        ]);
        let v = delivery_report_json(&doc);
        assert_eq!(
            v["counts"],
            json!({"packages": 4, "accepted": 2, "rejected": 1, "not_scanned": 1})
        );
        assert_eq!(v["accepted"], json!([pkg(0).tag, pkg(3).tag]));
        assert_eq!(v["rejected"][0]["tag"], json!(pkg(1).tag));
        assert_eq!(v["rejected"][0]["reason"], "damaged");
        assert_eq!(v["rejected"][0]["note"], "crushed box");
        assert_eq!(v["rejected"][0]["return_to"], "C11-0000224-LIC");
        assert_eq!(v["not_scanned"][0]["tag"], json!(pkg(2).tag));
        assert_eq!(v["packages"][1]["outcome"], "rejected");
        assert_eq!(v["packages"][2]["outcome"], "not_scanned");
        assert_eq!(v["receipt_deadline"], "2026-11-28T11:20:00-08:00");
        assert_eq!(
            v["signature"],
            json!({
                "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "bytes": 3
            })
        );
        assert_eq!(v["driver"]["occupational_license"], "OCC-4411");
        assert_eq!(v["vehicle"]["plate"], "8ABC123");
    }

    #[test]
    fn an_empty_delivery_is_a_valid_report() {
        let v = delivery_report_json(&report(vec![]));
        assert_eq!(v["counts"]["packages"], 0);
        assert_eq!(v["rejected"], json!([]));
    }

    #[test]
    fn the_document_round_trips_through_serde_with_a_base64_signature() {
        let doc = report(vec![Outcome::Accepted, Outcome::NotScanned]);
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["signature_png"], "YWJj");
        let back: DeliveryReportDoc = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);
    }
}
