//! A synthetic facility of any size: packages as Metrc would send them and one order
//! allocated from them. Benches, load tests and the demo's big mode use it; it is
//! ordinary code so what is measured is what ships.

use serde_json::{Value, json};

/// The tag of synthetic package `n` (strict shape: `1A4` + 21 hex digits).
pub fn tag(n: usize) -> String {
    format!("1A4FF01{n:017X}")
}

/// Metrc v2 package JSON for `count` packages: 20 items, each in 5 batches; every
/// 50th on hold, every 70th lab-failed, the rest eligible. Each is in one of three
/// vaults or the cage, on one of 25 shelves; every 40th has no location.
pub fn packages_json(count: usize) -> Value {
    let data: Vec<Value> = (0..count)
        .map(|n| {
            let item = n % 20;
            let batch = (n / 20) % 5;
            let (location, shelf) = place(n);
            json!({
                "Id": n,
                "Label": tag(n),
                "Item": {"Name": format!("Item {item:02}")},
                "Quantity": 10.0,
                "UnitOfMeasureName": "Each",
                "ProductionBatchNumber": format!("B{item:02}-{batch}"),
                "SourceProductionBatchNumbers": [],
                "LabTestingState": if n % 70 == 69 { "TestFailed" } else { "TestPassed" },
                "IsOnHold": n % 50 == 49,
                "IsOnRecall": false,
                "IsOnInvestigation": false,
                "IsFinished": false,
                "ArchivedDate": null,
                "ExpirationDate": "2099-12-31",
                "UseByDate": null,
                "LastModified": "2026-11-01T12:00:00Z",
                "LocationName": location,
                "SublocationName": shelf
            })
        })
        .collect();
    json!({"Data": data, "Total": count, "Page": 1, "TotalPages": 1})
}

/// Where synthetic package `n` is: `(LocationName, SublocationName)`.
pub fn place(n: usize) -> (Option<String>, Option<String>) {
    if n % 40 == 39 {
        return (None, None);
    }
    let location = ["Vault A", "Vault B", "Vault C", "Cage"][(n / 7) % 4];
    (
        Some(location.to_string()),
        Some(format!("Shelf {}", (n / 3) % 25 + 1)),
    )
}

/// A LeafLink order `number` allocating `allocated` packages from those of
/// [`packages_json`], taken from the first batch of each item (one line per item).
/// Needs `packages >= 100 * ceil(allocated / 20)` so every line has enough packages.
pub fn order_json(number: &str, allocated: usize, packages: usize) -> Value {
    let mut lines: Vec<Vec<String>> = vec![Vec::new(); 20];
    let mut n = 0;
    let mut taken = 0;
    while taken < allocated && n < packages {
        // Package n is item n % 20, batch (n / 20) % 5: keep batch 0 only.
        if (n / 20) % 5 == 0 {
            lines[n % 20].push(tag(n));
            taken += 1;
        }
        n += 1;
    }
    let items: Vec<Value> = lines
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, tags)| {
            json!({"id": i + 1, "product": {"sku": format!("SKU-{i:02}"), "name": format!("Item {i:02}")},
                   "quantity": tags.len().to_string(), "batch": format!("B{i:02}-0"),
                   "package_tags": tags})
        })
        .collect();
    json!({"number": number, "short_id": number, "status": "Accepted",
           "customer": {"display_name": "Bench Buyer", "license_number": "C10-0000000-LIC"},
           "line_items": items})
}

/// A grey camera-like frame of `width` x `height` with `text` drawn as a barcode of
/// `format` in the middle (white background, a quiet zone, `module` pixels a module):
/// for camera-source tests and demos without a camera.
pub fn barcode_frame(
    text: &str,
    format: rxing::BarcodeFormat,
    module: u32,
    width: u32,
    height: u32,
) -> Result<crate::scan::camera::decode::GreyImage, String> {
    use rxing::Writer;
    let matrix = rxing::MultiFormatWriter
        .encode(text, &format, 0, 0)
        .map_err(|e| format!("cannot encode {text:?} as {format:?}: {e}"))?;
    let (mw, mh) = (matrix.getWidth(), matrix.getHeight());
    // 1D symbologies come back one row high: give them a height of their own.
    let rows = if mh == 1 { (mw / 4).max(20) } else { mh };
    let (bw, bh) = (mw * module, rows * if mh == 1 { 1 } else { module });
    if bw + 20 * module > width || bh + 20 * module > height {
        return Err(format!(
            "a {bw}x{bh} barcode does not fit a {width}x{height} frame"
        ));
    }
    let (x0, y0) = ((width - bw) / 2, (height - bh) / 2);
    let mut pixels = vec![235u8; (width * height) as usize];
    for y in 0..bh {
        for x in 0..bw {
            let my = if mh == 1 { 0 } else { y / module };
            if matrix.get(x / module, my) {
                pixels[((y0 + y) * width + x0 + x) as usize] = 25;
            }
        }
    }
    Ok(crate::scan::camera::decode::GreyImage {
        width,
        height,
        pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import;

    #[test]
    fn synthetic_data_parses_and_obeys_the_allocation_rules() {
        let p = packages_json(2000);
        let pkgs = import::metrc::parse("syn", p.to_string().as_bytes()).unwrap();
        assert_eq!(pkgs.len(), 2000);
        let o = order_json("SYN-1", 100, 2000);
        let orders = import::parse_orders("syn", o.to_string().as_bytes()).unwrap();
        let tags: usize = orders[0].lines.iter().map(|l| l.tags.len()).sum();
        assert_eq!(tags, 100);
        let by_label: std::collections::HashMap<_, _> =
            pkgs.into_iter().map(|p| (p.label.clone(), p)).collect();
        let facts = crate::domain::order::AllocationFacts {
            packages: by_label,
            ..Default::default()
        };
        assert_eq!(orders[0].check_allocation(&facts), vec![]);
    }
}
