//! Paper and files that leave the building with a load: the manifest PDF, the Metrc
//! transfer template JSON, and the delivery report (PDF for the file, JSON for the
//! coordinator who completes receipt in Metrc).
//!
//! The types here are plain documents that the rest of the app fills in from the store
//! and the floor; this module never reads the store, the clock or the UI, and does no
//! IO. Every function is pure: document in, bytes or JSON out.
//!
//! - [`template::metrc_template`]: the body of Metrc `POST /transfers/v2/templates/outgoing`
//!   (see `docs/metrc-transfer-template.md` for the facts and their sources).
//! - [`pdf::manifest_pdf`] and [`pdf::delivery_report_pdf`]: Letter-size PDFs with the
//!   standard Helvetica and Courier fonts, paginated with a header and "Page n of m".
//! - [`report::delivery_report_json`]: what a coordinator needs to enter receipt.
//!
//! Money is integer cents everywhere ([`money`] formats it); a price is never an `f64`
//! until it is written into Metrc's JSON as dollars.

mod layout;
pub mod pdf;
pub mod picklist;
pub mod report;
pub mod template;
mod text;

use serde::{Deserialize, Serialize};

pub use crate::domain::transport::{Driver, Vehicle};
use crate::tag::MetrcTag;
pub use pdf::{delivery_report_pdf, manifest_pdf};
pub use report::delivery_report_json;
pub use template::metrc_template;

/// The shipping facility, which also transports the load: its license is Metrc's
/// `TransporterFacilityLicenseNumber`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facility {
    /// Licensed business name.
    pub name: String,
    /// State license number (opaque text, e.g. `C11-0000224-LIC`).
    pub license: String,
    /// Phone number for questions about the transfer (`PhoneNumberForQuestions`).
    pub phone: String,
}

/// One package on the manifest: exactly what travels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestPackage {
    /// The full 24-character Metrc tag.
    pub tag: MetrcTag,
    /// The order line the package was picked for (its id).
    pub line: String,
    /// Item name as in Metrc.
    pub item: String,
    /// Production batch, when known.
    pub batch: Option<String>,
    /// Package quantity in `unit` (Metrc `Quantity`).
    pub quantity: f64,
    /// Metrc `UnitOfMeasureName`, e.g. "Each" or "Grams".
    pub unit: String,
    /// The wholesale price of the whole package in cents (see
    /// [`package_wholesale_cents`]); `None` when not known.
    pub wholesale_price_cents: Option<i64>,
}

/// How one order line was picked and packed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSummary {
    /// Line id.
    pub id: String,
    /// What a person calls the line (product name or SKU).
    pub label: String,
    /// The batch the line is locked to.
    pub batch: Option<String>,
    /// Packages allocated to the line.
    pub allocated: usize,
    /// Packages picked.
    pub picked: usize,
    /// Packages recorded short.
    pub short: usize,
    /// Why the line is short, as recorded on the floor.
    pub short_reason: Option<String>,
}

/// A package a supervisor took off the shipment: it is neither on the manifest nor on
/// the invoice, but the paper says so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// The package's tag.
    pub tag: MetrcTag,
    /// Item name.
    pub item: String,
    /// Why it came off.
    pub reason: String,
    /// Who took it off.
    pub by: Option<String>,
}

/// One stop of the load: one order, one recipient license (one Metrc `Destinations[]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// Order number.
    pub order: String,
    /// Buyer's business name.
    pub buyer: String,
    /// Buyer's state license number (`RecipientLicenseNumber`).
    pub recipient_license: String,
    /// Metrc transfer type name, e.g. "Wholesale" (`TransferTypeName`).
    pub transfer_type: String,
    /// The planned route, as the driver will take it (`PlannedRoute`).
    pub planned_route: String,
    /// ISO 8601, as Metrc wants it (`EstimatedDepartureDateTime`).
    pub estimated_departure: String,
    /// ISO 8601, as Metrc wants it (`EstimatedArrivalDateTime`).
    pub estimated_arrival: String,
    /// Exactly the packages that travel to this stop.
    pub packages: Vec<ManifestPackage>,
    /// The pick and packing summary, one entry per order line.
    pub lines: Vec<LineSummary>,
    /// Packages taken off this shipment.
    pub removed: Vec<Removed>,
}

/// The manifest of one load: who ships, who drives in what, and each stop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestDoc {
    /// Template and document name, e.g. "SO-1042 2026-11-27".
    pub name: String,
    /// The shipper and transporter.
    pub facility: Facility,
    /// Who drives.
    pub driver: Driver,
    /// In what.
    pub vehicle: Vehicle,
    /// The load's id on the dock.
    pub load_id: String,
    /// When the load was closed (ISO 8601).
    pub loaded_at: String,
    /// Who closed the load.
    pub loaded_by: Option<String>,
    /// The stops, in delivery order.
    pub destinations: Vec<Destination>,
}

/// What the receiver did with one package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Taken whole.
    Accepted,
    /// Refused whole (no part-rejection of a package): it goes back to the shipper's
    /// vault as a return.
    Rejected {
        /// The reason picked on the handheld.
        reason: String,
        /// Anything the receiver or driver added.
        note: Option<String>,
    },
    /// Never scanned at hand-over: someone must find out what happened before receipt
    /// is entered in Metrc.
    NotScanned,
}

/// The record of one delivery: what was accepted, what was refused and why, who
/// signed. `receipt_deadline` is computed by the caller (delivery + 24 h).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReportDoc {
    /// Order number.
    pub order: String,
    /// Buyer's business name.
    pub buyer: String,
    /// Buyer's license number.
    pub recipient_license: String,
    /// The shipper, whose vault takes the returns.
    pub facility: Facility,
    /// Who drove.
    pub driver: Driver,
    /// In what.
    pub vehicle: Vehicle,
    /// The load's id.
    pub load_id: String,
    /// When the load was closed (ISO 8601).
    pub loaded_at: String,
    /// When the receiver signed (ISO 8601).
    pub delivered_at: String,
    /// The receiver's printed name.
    pub receiver: String,
    /// The receiver's signature as a PNG (base64 in JSON).
    #[serde(with = "base64")]
    pub signature_png: Vec<u8>,
    /// When receipt must be entered in Metrc: delivery + 24 h (4 CCR 15049(b)).
    pub receipt_deadline: String,
    /// Every package of the delivery with its outcome.
    pub packages: Vec<(ManifestPackage, Outcome)>,
    /// Metrc's receipt, when the hub has read one back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrc: Option<MetrcSide>,
}

/// Metrc's side of a delivery as last read: the receiver's word per package there,
/// and where it disagrees with the driver's record (in words).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetrcSide {
    pub manifest_number: Option<String>,
    /// When the receiver entered the receipt in Metrc (ISO 8601); `None`: not yet.
    pub received_at: Option<String>,
    /// When the hub read it (ISO 8601).
    pub read_at: String,
    /// `ShipmentPackageState` by tag.
    pub states: std::collections::BTreeMap<String, String>,
    pub issues: Vec<String>,
}

/// Packages of a delivery by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Accepted whole.
    pub accepted: usize,
    /// Refused: returns to the shipper's vault.
    pub rejected: usize,
    /// Not scanned at hand-over.
    pub not_scanned: usize,
}

impl DeliveryReportDoc {
    /// How many packages were accepted, rejected and not scanned.
    pub fn counts(&self) -> OutcomeCounts {
        let mut c = OutcomeCounts::default();
        for (_, outcome) in &self.packages {
            match outcome {
                Outcome::Accepted => c.accepted += 1,
                Outcome::Rejected { .. } => c.rejected += 1,
                Outcome::NotScanned => c.not_scanned += 1,
            }
        }
        c
    }
}

/// A sum of package prices: the cents of the priced packages and how many had none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Total {
    /// Sum of the known prices, in cents (saturating).
    pub cents: i64,
    /// Packages without a price.
    pub unpriced: usize,
}

impl Total {
    /// The total of `packages`.
    pub fn of<'a>(packages: impl IntoIterator<Item = &'a ManifestPackage>) -> Total {
        let mut t = Total::default();
        for p in packages {
            match p.wholesale_price_cents {
                Some(c) => t.cents = t.cents.saturating_add(c),
                None => t.unpriced += 1,
            }
        }
        t
    }
}

impl Destination {
    /// The value of this stop's packages.
    pub fn total(&self) -> Total {
        Total::of(&self.packages)
    }
}

impl ManifestDoc {
    /// Packages on the manifest, all stops.
    pub fn package_count(&self) -> usize {
        self.destinations.iter().map(|d| d.packages.len()).sum()
    }

    /// The value of the whole load.
    pub fn total(&self) -> Total {
        Total::of(self.destinations.iter().flat_map(|d| &d.packages))
    }
}

/// `cents` as dollars for people: `$1,234.56`, `-$0.05`.
pub fn money(cents: i64) -> String {
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{:02}", abs % 100)
}

/// Units that mean "one package" on an order line.
const PER_PACKAGE_UNITS: [&str; 4] = ["package", "packages", "pkg", "case"];

/// Canonical spelling of a unit of measure for comparison: lower case, and the usual
/// abbreviations and plurals of Metrc's names ("ea" and "unit" are "each", "g" is
/// "grams", "oz" is "ounces", "lb" is "pounds").
fn canonical_unit(unit: &str) -> String {
    let u = unit.trim().to_lowercase();
    let name = match u.as_str() {
        "ea" | "each" | "unit" | "units" | "ct" | "count" => "each",
        "g" | "gram" | "grams" | "gr" => "grams",
        "mg" | "milligram" | "milligrams" => "milligrams",
        "kg" | "kilogram" | "kilograms" => "kilograms",
        "oz" | "ounce" | "ounces" => "ounces",
        "lb" | "lbs" | "pound" | "pounds" => "pounds",
        other => return other.to_string(),
    };
    name.to_string()
}

/// The wholesale price of one package from its order line's unit price: the rule
/// tagtally uses to fill [`ManifestPackage::wholesale_price_cents`] (Metrc
/// `WholesalePrice` is the price of the whole package; see
/// `docs/metrc-transfer-template.md`).
///
/// - The line is priced per package (`unit` "package", "pkg" or "case"): the unit price.
/// - The line's unit and the package's unit agree (after canonical spelling: "ea",
///   "each" and "unit" agree, "g" and "Grams" agree): unit price x package quantity,
///   rounded half up to the cent (quantity taken to the thousandth).
/// - Otherwise (grams against pounds, a quantity that is not a finite non-negative
///   number): `None`, and the coordinator prices the package by hand. Units are never
///   converted (unconfirmed which conversions a state accepts).
pub fn package_wholesale_cents(
    unit_price_cents: i64,
    line_unit: &str,
    package_quantity: f64,
    package_unit: &str,
) -> Option<i64> {
    let line = canonical_unit(line_unit);
    if PER_PACKAGE_UNITS.contains(&line.as_str()) {
        return Some(unit_price_cents);
    }
    if line.is_empty() || line != canonical_unit(package_unit) {
        return None;
    }
    if !package_quantity.is_finite() || !(0.0..=1e12).contains(&package_quantity) {
        return None;
    }
    // Quantity in thousandths, then integer arithmetic only.
    let milli = (package_quantity * 1000.0).round() as i128;
    let product = i128::from(unit_price_cents) * milli;
    let rounded = if product >= 0 {
        (product + 500) / 1000
    } else {
        (product - 500) / 1000
    };
    i64::try_from(rounded).ok()
}

/// Serde helper: bytes as standard base64 text (RFC 4648, with padding).
mod base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.trim()).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_cents_for_people() {
        for (cents, text) in [
            (0, "$0.00"),
            (5, "$0.05"),
            (-5, "-$0.05"),
            (100, "$1.00"),
            (123_456, "$1,234.56"),
            (100_000_000, "$1,000,000.00"),
            (99_999, "$999.99"),
            (i64::MIN, "-$92,233,720,368,547,758.08"),
        ] {
            assert_eq!(money(cents), text, "{cents}");
        }
    }

    #[test]
    fn package_price_follows_the_documented_rule() {
        let cases: [(i64, &str, f64, &str, Option<i64>); 12] = [
            // Per package: the unit price, whatever the package holds.
            (4500, "Package", 10.0, "Each", Some(4500)),
            (4500, "case", 453.6, "Grams", Some(4500)),
            // Units agree: price x quantity.
            (500, "Each", 10.0, "Each", Some(5000)),
            (500, "ea", 10.0, "Each", Some(5000)),
            (500, "Unit", 3.0, "each", Some(1500)),
            (400, "g", 453.6, "Grams", Some(181_440)),
            // Half a cent rounds up: 3.33 x 1.5 = 4.995.
            (333, "Grams", 1.5, "Grams", Some(500)),
            (333, "Grams", 0.001, "Grams", Some(0)),
            // Units disagree or are missing: not guessed.
            (400, "Grams", 1.0, "Pounds", None),
            (400, "", 1.0, "Each", None),
            (400, "Each", f64::NAN, "Each", None),
            (400, "Each", -1.0, "Each", None),
        ];
        for (price, line_unit, qty, pkg_unit, want) in cases {
            assert_eq!(
                package_wholesale_cents(price, line_unit, qty, pkg_unit),
                want,
                "{price} per {line_unit}, {qty} {pkg_unit}"
            );
        }
    }

    #[test]
    fn totals_count_unpriced_packages_apart() {
        let tag = MetrcTag::new("1A4FF0100000000000000001").unwrap();
        let p = |c: Option<i64>| ManifestPackage {
            tag: tag.clone(),
            line: "1".into(),
            item: "x".into(),
            batch: None,
            quantity: 1.0,
            unit: "Each".into(),
            wholesale_price_cents: c,
        };
        let t = Total::of(&[p(Some(150)), p(None), p(Some(250)), p(Some(i64::MAX))]);
        assert_eq!(
            t,
            Total {
                cents: i64::MAX,
                unpriced: 1
            }
        );
        assert_eq!(Total::of(&[]), Total::default());
    }

    #[test]
    fn outcome_json_is_tagged_snake_case() {
        let rejected = Outcome::Rejected {
            reason: "damaged".into(),
            note: None,
        };
        assert_eq!(
            serde_json::to_value(&rejected).unwrap(),
            serde_json::json!({"outcome": "rejected", "reason": "damaged", "note": null})
        );
        assert_eq!(
            serde_json::to_value(Outcome::NotScanned).unwrap(),
            serde_json::json!({"outcome": "not_scanned"})
        );
    }
}

/// Documents for the unit tests of this module.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// Synthetic package `n`: a strict tag, a price of `n` dollars (none for every
    /// seventh), ten "Each".
    pub fn package(n: usize) -> ManifestPackage {
        ManifestPackage {
            tag: MetrcTag::new(&crate::synthetic::tag(n)).expect("synthetic tags are tags"),
            line: format!("L{}", n % 3),
            item: format!("Item {n}"),
            batch: Some(format!("B{}", n % 3)),
            quantity: 10.0,
            unit: "Each".into(),
            wholesale_price_cents: (n % 7 != 6).then_some(n as i64 * 100),
        }
    }

    /// A manifest with one destination per entry of `sizes`, of that many packages.
    pub fn doc(sizes: &[usize]) -> ManifestDoc {
        let mut next = 0;
        let destinations = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let packages: Vec<ManifestPackage> = (next..next + size).map(package).collect();
                next += size;
                Destination {
                    order: format!("SO-{i}"),
                    buyer: format!("Buyer {i}"),
                    recipient_license: format!("C10-000000{i}-LIC"),
                    transfer_type: "Wholesale".into(),
                    planned_route: "I-5 S to exit 12, then Main St".into(),
                    estimated_departure: "2026-11-27T09:00:00.000".into(),
                    estimated_arrival: "2026-11-27T11:30:00.000".into(),
                    packages,
                    lines: vec![LineSummary {
                        id: "L0".into(),
                        label: "Item line".into(),
                        batch: Some("B0".into()),
                        allocated: size,
                        picked: size,
                        short: 0,
                        short_reason: None,
                    }],
                    removed: vec![],
                }
            })
            .collect();
        ManifestDoc {
            name: "LOAD-7 2026-11-27".into(),
            facility: Facility {
                name: "Green Valley Distribution".into(),
                license: "C11-0000224-LIC".into(),
                phone: "555-0100".into(),
            },
            driver: Driver::new("Ana Ruiz", "OCC-4411", "D7654321").expect("a driver"),
            vehicle: Vehicle::new("Ford", "Transit 250", "8 abc 123").expect("a vehicle"),
            load_id: "LOAD-7".into(),
            loaded_at: "2026-11-27T08:40:00-08:00".into(),
            loaded_by: Some("Sam Lee".into()),
            destinations,
        }
    }
}
