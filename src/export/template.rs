//! The Metrc transfer template of a load: the JSON body of
//! `POST /transfers/v2/templates/outgoing?licenseNumber=...`.
//!
//! The API cannot create the manifest itself: it creates a *template* that a person
//! turns into the manifest in Metrc's web app. Field names and shape follow the request
//! example of Metrc's v2 documentation (see `docs/metrc-transfer-template.md` for the
//! sources): the body is an **array** of templates (here always one); the driver and
//! vehicle go both at the top level and in each destination's `Transporters[]` (the
//! shipper is its own transporter); `GrossWeight` and `GrossUnitOfWeightName` are
//! `null` because the dock does not weigh packages; `WholesalePrice` is the package's
//! price in dollars (a JSON number with at most two decimals), or `null` when unknown;
//! `InvoiceNumber` is `null` (the invoice is not the order number).

use serde_json::{Map, Value, json};

use super::{Destination, ManifestDoc, ManifestPackage};

/// The body of Metrc `POST /transfers/v2/templates/outgoing` for `doc`: an array of one
/// template with one `Destinations[]` entry per destination, in order, each listing
/// exactly the manifest's packages.
pub fn metrc_template(doc: &ManifestDoc) -> Value {
    let destinations: Vec<Value> = doc
        .destinations
        .iter()
        .map(|d| destination(doc, d))
        .collect();
    json!([{
        "Name": doc.name,
        "TransporterFacilityLicenseNumber": doc.facility.license,
        "DriverOccupationalLicenseNumber": doc.driver.occupational_license,
        "DriverName": doc.driver.name,
        "DriverLicenseNumber": doc.driver.drivers_license,
        "PhoneNumberForQuestions": doc.facility.phone,
        "VehicleMake": doc.vehicle.make,
        "VehicleModel": doc.vehicle.model,
        "VehicleLicensePlateNumber": doc.vehicle.plate,
        "Destinations": destinations,
    }])
}

fn destination(doc: &ManifestDoc, d: &Destination) -> Value {
    let transporter = json!({
        "TransporterFacilityLicenseNumber": doc.facility.license,
        "DriverOccupationalLicenseNumber": doc.driver.occupational_license,
        "DriverName": doc.driver.name,
        "DriverLicenseNumber": doc.driver.drivers_license,
        "DriverLayoverLeg": null,
        "PhoneNumberForQuestions": doc.facility.phone,
        "VehicleMake": doc.vehicle.make,
        "VehicleModel": doc.vehicle.model,
        "VehicleLicensePlateNumber": doc.vehicle.plate,
        "IsLayover": false,
        "EstimatedDepartureDateTime": d.estimated_departure,
        "EstimatedArrivalDateTime": d.estimated_arrival,
        "TransporterDetails": null,
    });
    let packages: Vec<Value> = d.packages.iter().map(package).collect();
    json!({
        "RecipientLicenseNumber": d.recipient_license,
        "InvoiceNumber": null,
        "TransferTypeName": d.transfer_type,
        "PlannedRoute": d.planned_route,
        "EstimatedDepartureDateTime": d.estimated_departure,
        "EstimatedArrivalDateTime": d.estimated_arrival,
        "Transporters": [transporter],
        "Packages": packages,
    })
}

fn package(p: &ManifestPackage) -> Value {
    let mut m = Map::new();
    m.insert("PackageLabel".into(), Value::from(p.tag.as_str()));
    m.insert(
        "WholesalePrice".into(),
        p.wholesale_price_cents.map_or(Value::Null, dollars),
    );
    m.insert("GrossWeight".into(), Value::Null);
    m.insert("GrossUnitOfWeightName".into(), Value::Null);
    Value::Object(m)
}

/// Cents as a JSON number of dollars. `cents / 100` is the double nearest to the exact
/// amount, so it prints with at most two decimals (`1250` is `12.5`, `1999` is `19.99`).
fn dollars(cents: i64) -> Value {
    serde_json::Number::from_f64(cents as f64 / 100.0).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::export::tests_support::{doc, package as pkg};

    fn keys(v: &Value) -> BTreeSet<&str> {
        v.as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    #[test]
    fn key_sets_are_exactly_metrcs() {
        let body = metrc_template(&doc(&[3, 2]));
        let templates = body.as_array().expect("the body is an array of templates");
        assert_eq!(templates.len(), 1);
        let t = &templates[0];
        let cases: [(&Value, &[&str]); 4] = [
            (
                t,
                &[
                    "Name",
                    "TransporterFacilityLicenseNumber",
                    "DriverOccupationalLicenseNumber",
                    "DriverName",
                    "DriverLicenseNumber",
                    "PhoneNumberForQuestions",
                    "VehicleMake",
                    "VehicleModel",
                    "VehicleLicensePlateNumber",
                    "Destinations",
                ],
            ),
            (
                &t["Destinations"][0],
                &[
                    "RecipientLicenseNumber",
                    "InvoiceNumber",
                    "TransferTypeName",
                    "PlannedRoute",
                    "EstimatedDepartureDateTime",
                    "EstimatedArrivalDateTime",
                    "Transporters",
                    "Packages",
                ],
            ),
            (
                &t["Destinations"][0]["Transporters"][0],
                &[
                    "TransporterFacilityLicenseNumber",
                    "DriverOccupationalLicenseNumber",
                    "DriverName",
                    "DriverLicenseNumber",
                    "DriverLayoverLeg",
                    "PhoneNumberForQuestions",
                    "VehicleMake",
                    "VehicleModel",
                    "VehicleLicensePlateNumber",
                    "IsLayover",
                    "EstimatedDepartureDateTime",
                    "EstimatedArrivalDateTime",
                    "TransporterDetails",
                ],
            ),
            (
                &t["Destinations"][1]["Packages"][0],
                &[
                    "PackageLabel",
                    "WholesalePrice",
                    "GrossWeight",
                    "GrossUnitOfWeightName",
                ],
            ),
        ];
        for (value, want) in cases {
            assert_eq!(keys(value), set(want), "{value}");
        }
    }

    #[test]
    fn one_destination_per_order_with_exactly_its_packages() {
        for sizes in [&[][..], &[0], &[1], &[3, 2], &[500], &[1, 0, 7]] {
            let d = doc(sizes);
            let body = metrc_template(&d);
            let dests = body[0]["Destinations"].as_array().expect("destinations");
            assert_eq!(dests.len(), sizes.len(), "{sizes:?}");
            for (json, dest) in dests.iter().zip(&d.destinations) {
                assert_eq!(json["RecipientLicenseNumber"], dest.recipient_license);
                assert_eq!(json["TransferTypeName"], dest.transfer_type);
                assert_eq!(json["PlannedRoute"], dest.planned_route);
                assert_eq!(json["EstimatedArrivalDateTime"], dest.estimated_arrival);
                let labels: Vec<&str> = json["Packages"]
                    .as_array()
                    .expect("packages")
                    .iter()
                    .map(|p| p["PackageLabel"].as_str().expect("a label"))
                    .collect();
                let tags: Vec<&str> = dest.packages.iter().map(|p| p.tag.as_str()).collect();
                assert_eq!(labels, tags);
                let t = &json["Transporters"][0];
                assert_eq!(t["DriverName"], d.driver.name);
                assert_eq!(t["VehicleLicensePlateNumber"], d.vehicle.plate);
                assert_eq!(t["TransporterFacilityLicenseNumber"], d.facility.license);
                assert_eq!(t["IsLayover"], false);
            }
        }
    }

    #[test]
    fn prices_are_dollars_with_two_decimals_from_cents() {
        let cases: [(Option<i64>, &str); 8] = [
            (Some(0), "0.0"),
            (Some(1), "0.01"),
            (Some(1250), "12.5"),
            (Some(1999), "19.99"),
            (Some(123_456_789), "1234567.89"),
            (Some(10), "0.1"),
            (Some(30), "0.3"),
            (None, "null"),
        ];
        for (cents, text) in cases {
            let mut p = pkg(0);
            p.wholesale_price_cents = cents;
            let json = package(&p);
            let price = &json["WholesalePrice"];
            assert_eq!(price.to_string(), text, "{cents:?}");
            if let (Some(c), Some(f)) = (cents, price.as_f64()) {
                assert_eq!((f * 100.0).round() as i64, c);
            }
            assert!(json["GrossWeight"].is_null());
            assert!(json["GrossUnitOfWeightName"].is_null());
        }
    }
}
