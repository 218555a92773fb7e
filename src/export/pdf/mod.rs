//! The paper: the transfer manifest that travels with a load, and the delivery report
//! filed after the hand-over.
//!
//! US Letter pages with the standard Helvetica and Courier fonts (nothing embedded),
//! WinAnsi text: characters outside Latin-1 and WinAnsi's few typographic marks (CJK,
//! emoji, ...) print as `?`. Every page repeats the document's header and says
//! "Page n of m"; tables carry their column heads onto each page they run onto. Long
//! text is cut with "…" to its column, never over the next one. Tags are printed whole
//! in Courier. Both functions are pure and never fail: an unreadable signature image is
//! said so on the page.

use super::layout::{Column, Font, Layout, ROW};
use super::{Destination, ManifestDoc, ManifestPackage, Total, money};

mod report;
pub use report::delivery_report_pdf;

/// Packages on a manifest.
const PACKAGES: &[Column] = &[
    Column::right("#", 26.0),
    Column::left("Package tag", 126.0, Font::Mono),
    Column::left("Item", 176.0, Font::Regular),
    Column::left("Batch", 76.0, Font::Regular),
    Column::right("Quantity", 64.0),
    Column::right("Price", 64.0),
];

/// Packages taken off a shipment.
const REMOVED: &[Column] = &[
    Column::left("Package tag", 126.0, Font::Mono),
    Column::left("Item", 148.0, Font::Regular),
    Column::left("Reason", 180.0, Font::Regular),
    Column::left("Removed by", 78.0, Font::Regular),
];

/// The pick and packing summary of each order line.
const LINES: &[Column] = &[
    Column::left("Order line", 190.0, Font::Regular),
    Column::left("Batch", 80.0, Font::Regular),
    Column::right("Allocated", 56.0),
    Column::right("Picked", 50.0),
    Column::right("Short", 44.0),
    Column::left("Short reason", 112.0, Font::Regular),
];

/// Rejected packages of a delivery.
pub(super) const REJECTED: &[Column] = &[
    Column::left("Package tag", 126.0, Font::Mono),
    Column::left("Item", 104.0, Font::Regular),
    Column::right("Quantity", 56.0),
    Column::left("Reason", 116.0, Font::Regular),
    Column::left("Note", 130.0, Font::Regular),
];

/// Packages not scanned at hand-over.
pub(super) const NOT_SCANNED: &[Column] = &[
    Column::left("Package tag", 126.0, Font::Mono),
    Column::left("Item", 228.0, Font::Regular),
    Column::left("Batch", 98.0, Font::Regular),
    Column::right("Quantity", 80.0),
];

/// Every package of a delivery with its outcome.
pub(super) const OUTCOMES: &[Column] = &[
    Column::right("#", 26.0),
    Column::left("Package tag", 126.0, Font::Mono),
    Column::left("Item", 168.0, Font::Regular),
    Column::left("Batch", 76.0, Font::Regular),
    Column::right("Quantity", 64.0),
    Column::left("Outcome", 72.0, Font::Regular),
];

/// Every package of a delivery with its outcome and Metrc's word on it.
pub(super) const OUTCOMES_METRC: &[Column] = &[
    Column::right("#", 26.0),
    Column::left("Package tag", 126.0, Font::Mono),
    Column::left("Item", 118.0, Font::Regular),
    Column::left("Batch", 70.0, Font::Regular),
    Column::right("Quantity", 58.0),
    Column::left("Outcome", 66.0, Font::Regular),
    Column::left("Metrc", 68.0, Font::Regular),
];

/// Shown for a missing value.
const NONE: &str = "—";

/// A package quantity with its unit: `10 Each`, `3.5 Grams`, `?` for an odd number.
pub(super) fn quantity(p: &ManifestPackage) -> String {
    if !p.quantity.is_finite() {
        return format!("? {}", p.unit);
    }
    let mut q = format!("{:.3}", p.quantity);
    while q.ends_with('0') {
        q.pop();
    }
    if q.ends_with('.') {
        q.pop();
    }
    format!("{q} {}", p.unit)
}

pub(super) fn or_none(value: Option<&str>) -> String {
    value
        .filter(|v| !v.trim().is_empty())
        .unwrap_or(NONE)
        .to_string()
}

/// "Packages: 12   Value: $1,234.00 (2 without a price)".
fn totals_line(count: usize, total: Total) -> String {
    let mut s = format!("Packages: {count}    Value: {}", money(total.cents));
    if total.unpriced > 0 {
        let s_ = if total.unpriced == 1 { "" } else { "s" };
        s.push_str(&format!(
            "  ({} package{s_} without a price)",
            total.unpriced
        ));
    }
    s
}

/// The transfer manifest of `doc`: shipper, driver and vehicle, then per destination the
/// buyer, license, route and times, the package table with totals, the packages taken
/// off the shipment, the pick and packing summary and signature lines for shipper,
/// driver and receiver.
pub fn manifest_pdf(doc: &ManifestDoc) -> Vec<u8> {
    let title = format!("Transfer manifest  {}", doc.name);
    let subtitle = format!(
        "Shipper {} (license {})   Load {}   Loaded {}",
        doc.facility.name, doc.facility.license, doc.load_id, doc.loaded_at
    );
    let mut l = Layout::new(
        &title,
        &subtitle,
        "tagtally manifest. Every package listed travels; packages taken off the \
         shipment are listed as removed and are on neither the manifest nor the invoice.",
    );

    l.heading("Shipper and transporter", 30.0);
    l.fields(
        2,
        &[
            ("Shipper", doc.facility.name.clone()),
            ("License", doc.facility.license.clone()),
            ("Phone", doc.facility.phone.clone()),
            ("Load", doc.load_id.clone()),
            ("Loaded at", doc.loaded_at.clone()),
            ("Loaded by", or_none(doc.loaded_by.as_deref())),
        ],
    );
    l.space(4.0);
    l.heading("Driver and vehicle", 30.0);
    l.fields(
        2,
        &[
            ("Driver", doc.driver.name.clone()),
            ("Vehicle make", doc.vehicle.make.clone()),
            (
                "Occupational license",
                doc.driver.occupational_license.clone(),
            ),
            ("Vehicle model", doc.vehicle.model.clone()),
            ("Driver's license", doc.driver.drivers_license.clone()),
            ("License plate", doc.vehicle.plate.clone()),
        ],
    );
    l.space(4.0);
    let n = doc.destinations.len();
    l.paragraph(
        Font::Bold,
        9.5,
        &format!(
            "Destinations: {n}    {}",
            totals_line(doc.package_count(), doc.total())
        ),
        2,
    );
    if n == 0 {
        l.paragraph(Font::Regular, 9.0, "No destinations on this load.", 1);
    }
    for (i, d) in doc.destinations.iter().enumerate() {
        // Each stop starts a page, so its receiver can be handed its own pages.
        if i > 0 {
            l.page_break();
        }
        l.space(8.0);
        destination(&mut l, doc, d, i, n);
    }
    l.finish(&title)
}

fn destination(l: &mut Layout, doc: &ManifestDoc, d: &Destination, i: usize, n: usize) {
    l.heading(
        &format!(
            "Destination {} of {n}: {} (order {})",
            i + 1,
            d.buyer,
            d.order
        ),
        60.0,
    );
    l.fields(
        2,
        &[
            ("Buyer", d.buyer.clone()),
            ("Order", d.order.clone()),
            ("Recipient license", d.recipient_license.clone()),
            ("Transfer type", d.transfer_type.clone()),
            ("Est. departure", d.estimated_departure.clone()),
            ("Est. arrival", d.estimated_arrival.clone()),
        ],
    );
    l.fields(1, &[("Planned route", d.planned_route.clone())]);
    l.space(4.0);

    if d.packages.is_empty() {
        l.paragraph(Font::Regular, 9.0, "No packages for this destination.", 1);
    } else {
        l.table_head(PACKAGES);
        for (k, p) in d.packages.iter().enumerate() {
            if k + 1 == d.packages.len() {
                // The last row stays with the totals.
                l.need(ROW + 24.0);
            }
            l.table_row(
                PACKAGES,
                &[
                    (k + 1).to_string(),
                    p.tag.to_string(),
                    p.item.clone(),
                    or_none(p.batch.as_deref()),
                    quantity(p),
                    p.wholesale_price_cents.map_or(NONE.to_string(), money),
                ],
            );
        }
        l.end_table();
    }
    l.paragraph(
        Font::Bold,
        9.5,
        &format!(
            "Total for this destination:  {}",
            totals_line(d.packages.len(), d.total())
        ),
        2,
    );

    if !d.removed.is_empty() {
        l.space(6.0);
        l.heading(
            &format!(
                "Removed from this shipment ({}): not on the manifest or the invoice",
                d.removed.len()
            ),
            30.0,
        );
        l.table_head(REMOVED);
        for r in &d.removed {
            l.table_row(
                REMOVED,
                &[
                    r.tag.to_string(),
                    r.item.clone(),
                    r.reason.clone(),
                    or_none(r.by.as_deref()),
                ],
            );
        }
        l.end_table();
    }

    if !d.lines.is_empty() {
        l.space(6.0);
        l.heading("Pick and packing summary", 30.0);
        l.table_head(LINES);
        for line in &d.lines {
            l.table_row(
                LINES,
                &[
                    line.label.clone(),
                    or_none(line.batch.as_deref()),
                    line.allocated.to_string(),
                    line.picked.to_string(),
                    line.short.to_string(),
                    if line.short > 0 {
                        or_none(line.short_reason.as_deref())
                    } else {
                        String::new()
                    },
                ],
            );
        }
        l.end_table();
    }

    l.space(6.0);
    l.heading("Signatures", 140.0);
    l.signatures(&[
        ("Shipper", doc.loaded_by.as_deref()),
        ("Driver", Some(doc.driver.name.as_str())),
        ("Receiver", None),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::layout::{CONTENT_WIDTH, PAD, TABLE_SIZE, width};
    use crate::export::tests_support::{doc, package};

    #[test]
    fn tables_span_the_page_and_tags_are_never_cut() {
        let tag = crate::export::layout::winansi("1A4FF0100000000000000001");
        for (name, cols) in [
            ("packages", PACKAGES),
            ("removed", REMOVED),
            ("lines", LINES),
            ("rejected", REJECTED),
            ("not scanned", NOT_SCANNED),
            ("outcomes", OUTCOMES),
        ] {
            let total: f32 = cols.iter().map(|c| c.width).sum();
            assert_eq!(total, CONTENT_WIDTH, "{name}");
            for c in cols.iter().filter(|c| c.font == Font::Mono) {
                let room = c.width - 2.0 * PAD;
                assert!(width(Font::Mono, TABLE_SIZE, &tag) <= room, "{name}");
            }
        }
    }

    #[test]
    fn quantities_print_plainly() {
        let cases = [
            (10.0, "10 Each"),
            (3.5, "3.5 Each"),
            (0.125, "0.125 Each"),
            (1.0e-9, "0 Each"),
            (f64::NAN, "? Each"),
            (f64::INFINITY, "? Each"),
        ];
        for (q, want) in cases {
            let mut p = package(1);
            p.quantity = q;
            assert_eq!(quantity(&p), want, "{q}");
        }
    }

    #[test]
    fn odd_documents_do_not_panic() {
        let mut d = doc(&[]);
        assert!(manifest_pdf(&d).starts_with(b"%PDF-"));
        d = doc(&[0, 3]);
        d.name = "🔥".repeat(200);
        d.destinations[1].packages[0].item = format!("🔥 {}", "Very long name ".repeat(20));
        d.destinations[1].planned_route = "x".repeat(5000);
        d.destinations[1].buyer = String::new();
        assert!(manifest_pdf(&d).starts_with(b"%PDF-"));
    }
}
