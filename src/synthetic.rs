//! A synthetic facility of any size: packages as Metrc would send them and one order
//! allocated from them. Benches, load tests and the demo's big mode use it; it is
//! ordinary code so what is measured is what ships.

use serde_json::{Value, json};

/// The tag of synthetic package `n` (strict shape: `1A4` + 21 hex digits).
pub fn tag(n: usize) -> String {
    format!("1A4FF01{n:017X}")
}

/// Metrc v2 package JSON for `count` packages: 20 items, each in 5 batches; every
/// 50th on hold, every 70th lab-failed, the rest eligible.
pub fn packages_json(count: usize) -> Value {
    let data: Vec<Value> = (0..count)
        .map(|n| {
            let item = n % 20;
            let batch = (n / 20) % 5;
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
                "LastModified": "2026-11-01T12:00:00Z"
            })
        })
        .collect();
    json!({"Data": data, "Total": count, "Page": 1, "TotalPages": 1})
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
