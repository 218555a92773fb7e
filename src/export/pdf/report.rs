//! The delivery report filed after the hand-over: every package with the receiver's
//! word, the returns, and the receiver's signature.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use miniz_oxide::deflate::compress_to_vec_zlib;

use super::super::layout::{Font, Image, Layout};
use super::super::{DeliveryReportDoc, Outcome};
use super::{NOT_SCANNED, OUTCOMES, OUTCOMES_METRC, REJECTED, or_none, quantity};

/// The largest signature kept in the PDF, pixels; larger images are scaled down.
const SIGNATURE_MAX: (u32, u32) = (1200, 600);

/// The signature PNG as a PDF image on white, or `None` if it cannot be read (empty,
/// not a PNG, larger than 8000 pixels a side or 64 MiB decoded).
fn signature_image(png: &[u8]) -> Option<Image> {
    if png.is_empty() {
        return None;
    }
    let mut reader = ImageReader::with_format(Cursor::new(png), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(8000);
    limits.max_image_height = Some(8000);
    limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(limits);
    let decoded: DynamicImage = reader.decode().ok()?;
    let (w, h) = SIGNATURE_MAX;
    let img = if decoded.width() > w || decoded.height() > h {
        decoded.thumbnail(w, h)
    } else {
        decoded
    };
    let rgba = img.to_rgba8();
    // Composite over white: the page is white and one image (no soft mask) is simpler
    // for every viewer.
    let mut rgb = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
    for px in rgba.pixels() {
        let [r, g, b, a] = px.0;
        let a = u16::from(a);
        for c in [r, g, b] {
            let v = (u16::from(c) * a + 255 * (255 - a) + 127) / 255;
            rgb.push(u8::try_from(v).unwrap_or(255));
        }
    }
    Some(Image {
        width: rgba.width(),
        height: rgba.height(),
        rgb_zlib: compress_to_vec_zlib(&rgb, 6),
    })
}

fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "Accepted",
        Outcome::Rejected { .. } => "Rejected (return)",
        Outcome::NotScanned => "Not scanned",
    }
}

/// The delivery report of `doc`: order, buyer, driver and vehicle, delivered at, the
/// receiver's name and embedded signature, the accepted count, the rejected packages
/// with their reasons (returns to the shipper's vault), the packages not scanned and
/// the Metrc receipt deadline.
pub fn delivery_report_pdf(doc: &DeliveryReportDoc) -> Vec<u8> {
    let title = format!("Delivery report  order {}", doc.order);
    let subtitle = format!(
        "{} (license {})   delivered {}   load {}",
        doc.buyer, doc.recipient_license, doc.delivered_at, doc.load_id
    );
    let mut l = Layout::new(
        &title,
        &subtitle,
        "tagtally delivery report. Receipt and rejections are entered in Metrc by a \
         person, within 24 hours of delivery.",
    );
    let counts = doc.counts();

    l.heading("Delivery", 30.0);
    l.fields(
        2,
        &[
            ("Order", doc.order.clone()),
            ("Buyer", doc.buyer.clone()),
            ("Recipient license", doc.recipient_license.clone()),
            (
                "Shipper",
                format!("{} ({})", doc.facility.name, doc.facility.license),
            ),
            ("Load", doc.load_id.clone()),
            ("Loaded at", doc.loaded_at.clone()),
            ("Delivered at", doc.delivered_at.clone()),
            ("Received by", doc.receiver.clone()),
        ],
    );
    l.space(4.0);
    l.heading("Driver and vehicle", 30.0);
    l.fields(
        2,
        &[
            ("Driver", doc.driver.name.clone()),
            (
                "Vehicle",
                format!("{} {}", doc.vehicle.make, doc.vehicle.model),
            ),
            (
                "Occupational license",
                doc.driver.occupational_license.clone(),
            ),
            ("License plate", doc.vehicle.plate.clone()),
            ("Driver's license", doc.driver.drivers_license.clone()),
        ],
    );
    l.space(4.0);

    l.heading("Receiver's signature", 90.0);
    match signature_image(&doc.signature_png) {
        Some(image) => l.image(image, 240.0, 80.0),
        None => l.paragraph(
            Font::Bold,
            9.0,
            &format!(
                "No readable signature image ({} bytes received).",
                doc.signature_png.len()
            ),
            1,
        ),
    }
    l.paragraph(
        Font::Regular,
        9.0,
        &format!("Signed by {} at {}.", doc.receiver, doc.delivered_at),
        2,
    );
    l.space(6.0);

    l.heading("Outcome", 50.0);
    l.fields(
        2,
        &[
            ("Packages", doc.packages.len().to_string()),
            ("Accepted", counts.accepted.to_string()),
            ("Rejected (returns)", counts.rejected.to_string()),
            ("Not scanned", counts.not_scanned.to_string()),
        ],
    );
    l.paragraph(
        Font::Bold,
        10.0,
        &format!(
            "Metrc receipt deadline: {} (24 hours after delivery).",
            doc.receipt_deadline
        ),
        2,
    );

    if counts.rejected > 0 {
        l.space(6.0);
        l.heading(
            &format!(
                "Rejected: {} package{} to return to {}'s vault",
                counts.rejected,
                if counts.rejected == 1 { "" } else { "s" },
                doc.facility.name
            ),
            40.0,
        );
        l.paragraph(
            Font::Regular,
            8.5,
            "Each rejected package goes back whole to the shipper's vault and is received \
             back in Metrc as a return.",
            2,
        );
        l.table_head(REJECTED);
        for (p, o) in &doc.packages {
            if let Outcome::Rejected { reason, note } = o {
                l.table_row(
                    REJECTED,
                    &[
                        p.tag.to_string(),
                        p.item.clone(),
                        quantity(p),
                        reason.clone(),
                        or_none(note.as_deref()),
                    ],
                );
            }
        }
        l.end_table();
    }

    if counts.not_scanned > 0 {
        l.space(6.0);
        l.heading(
            &format!("Not scanned at hand-over: {}", counts.not_scanned),
            40.0,
        );
        l.paragraph(
            Font::Regular,
            8.5,
            "Find out what happened to these packages before entering receipt in Metrc.",
            2,
        );
        l.table_head(NOT_SCANNED);
        for (p, o) in &doc.packages {
            if *o == Outcome::NotScanned {
                l.table_row(
                    NOT_SCANNED,
                    &[
                        p.tag.to_string(),
                        p.item.clone(),
                        or_none(p.batch.as_deref()),
                        quantity(p),
                    ],
                );
            }
        }
        l.end_table();
    }

    if let Some(m) = &doc.metrc {
        l.space(6.0);
        l.heading("Metrc's receipt", 40.0);
        l.paragraph(
            Font::Regular,
            8.5,
            &format!(
                "Manifest {}: {} (read from Metrc {}).",
                or_none(m.manifest_number.as_deref()),
                match &m.received_at {
                    Some(t) => format!("received {t}"),
                    None => "not received in Metrc yet".into(),
                },
                m.read_at
            ),
            2,
        );
        if m.issues.is_empty() {
            l.paragraph(
                Font::Regular,
                8.5,
                "Metrc agrees with the driver's record.",
                1,
            );
        }
        for issue in &m.issues {
            l.paragraph(Font::Bold, 8.5, &format!("Exception: {issue}"), 2);
        }
    }

    l.space(6.0);
    l.heading("All packages", 40.0);
    if doc.packages.is_empty() {
        l.paragraph(Font::Regular, 9.0, "No packages on this delivery.", 1);
    } else {
        let columns = if doc.metrc.is_some() {
            OUTCOMES_METRC
        } else {
            OUTCOMES
        };
        l.table_head(columns);
        for (k, (p, o)) in doc.packages.iter().enumerate() {
            let mut row = vec![
                (k + 1).to_string(),
                p.tag.to_string(),
                p.item.clone(),
                or_none(p.batch.as_deref()),
                quantity(p),
                outcome_word(o).to_string(),
            ];
            if let Some(m) = &doc.metrc {
                row.push(or_none(m.states.get(p.tag.as_str()).map(String::as_str)));
            }
            l.table_row(columns, &row);
        }
        l.end_table();
    }
    l.finish(&title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_signatures_are_none() {
        assert!(signature_image(&[]).is_none());
        assert!(signature_image(b"not a png").is_none());
        assert!(signature_image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").is_none());
    }
}
