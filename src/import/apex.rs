//! Apex Trading shipping orders as its API returns them (`../shared/B2B-API.md` §8-9):
//! a page `{"orders": [...], "links": .., "meta": ..}`, one `{"order": {...}}`, a bare
//! order object, or a list of them. Unknown fields pass through.
//!
//! Per order: `invoice_number` (the order's number here; `APEX-{id}` when empty),
//! `id`, `buyer.name` or `ship_name`, `buyer_state_license` (absent, null or empty:
//! none; the order still imports, and the license hold holds it), `delivery_date` or
//! `estimated_departure_date` (the ship date), the `ship_*` address,
//! `order_status_id` with `order_status.parent_status.name` and `cancelled` (the
//! status, through the parent: statuses are per company), `items`.
//! Per item: `id`, `product_sku`, `product_name`, `order_quantity` (a number or text),
//! `order_unit_measurement.alias` or `.name`, `batch_name`, `metrc_package_label`
//! (null, a tag, a comma-separated string or a list: the allocation), and the unit
//! price as `order_price_raw` (integer cents) or `order_price` (`"2,400.00"`).

use serde_json::Value;

use super::{ImportError, Record, kind, parse_json};
use crate::domain::writeback::{ApexOrderState, ApexStatusIds};
use crate::domain::{Line, Order, OrderStatus};
use crate::tag::MetrcTag;

/// Whether `doc` looks like Apex JSON (an `orders` page, an `order` wrapper, or
/// objects with an `invoice_number`) rather than LeafLink's.
pub fn looks_like_apex(doc: &Value) -> bool {
    let is_order = |v: &Value| v.get("invoice_number").is_some() || v.get("items").is_some();
    match doc {
        Value::Object(o) => {
            o.contains_key("orders") || o.contains_key("order") || o.contains_key("invoice_number")
        }
        Value::Array(a) => a.first().is_some_and(is_order),
        _ => false,
    }
}

/// The orders of an Apex document, as JSON (for the emulator and the pull).
pub fn orders_of(file: &str, doc: &Value) -> Result<Vec<Value>, ImportError> {
    Ok(match doc {
        Value::Array(a) => a.clone(),
        Value::Object(o) => match (o.get("orders"), o.get("order")) {
            (Some(Value::Array(a)), _) => a.clone(),
            (Some(v), _) => {
                return Err(ImportError::file(
                    file,
                    format!("`orders` should be a list of orders, found {}", kind(v)),
                ));
            }
            (None, Some(v @ Value::Object(_))) => vec![v.clone()],
            (None, Some(v)) => {
                return Err(ImportError::file(
                    file,
                    format!("`order` should be an order object, found {}", kind(v)),
                ));
            }
            (None, None) => vec![doc.clone()],
        },
        v => {
            return Err(ImportError::file(
                file,
                format!("expected an Apex order object, found {}", kind(v)),
            ));
        }
    })
}

/// Every order of an Apex file; statuses named through their parent in the JSON.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Order>, ImportError> {
    parse_with(file, bytes, &ApexStatusIds::default())
}

/// As [`parse`], a status without its parent named by `[apex] status_ids`.
pub fn parse_with(
    file: &str,
    bytes: &[u8],
    ids: &ApexStatusIds,
) -> Result<Vec<Order>, ImportError> {
    let doc = parse_json(file, bytes)?;
    let orders = orders_of(file, &doc)?;
    if orders.is_empty() {
        return Err(ImportError::file(file, "the file holds no orders"));
    }
    orders
        .iter()
        .enumerate()
        .map(|(i, v)| order(file, i + 1, v, ids))
        .collect()
}

/// An order's status as Apex keeps it: `order_status_id` (or `order_status.id`),
/// `order_status.parent_status.name`, `cancelled` (true/false, 1/0 or text).
pub fn state_of(v: &Value) -> Result<ApexOrderState, String> {
    let status = v.get("order_status").filter(|s| s.is_object());
    let status_id = v
        .get("order_status_id")
        .filter(|s| !s.is_null())
        .or_else(|| status.and_then(|s| s.get("id")))
        .and_then(int)
        .ok_or("no `order_status_id`")?;
    let parent = status
        .and_then(|s| s.get("parent_status"))
        .and_then(|p| p.get("name").or(Some(p)))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let cancelled = match v.get("cancelled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() != Some(0),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true" | "TRUE" | "True"),
        Some(other) => return Err(format!("`cancelled` is {}", kind(other))),
    };
    Ok(ApexOrderState {
        status_id,
        parent,
        cancelled,
    })
}

/// An id Apex sends as a number or as digits.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How far along an Apex parent status is (Submitted 0 ... Complete 5).
pub fn parent_rank(parent: &str) -> Option<u8> {
    Some(match parent.trim().to_ascii_lowercase().as_str() {
        "submitted" => 0,
        "accepted" => 1,
        "pending shipment" => 2,
        "in transit" => 3,
        "delivered" => 4,
        "complete" | "completed" => 5,
        _ => return None,
    })
}

/// The parent status an order's status stands for: named in the answer, else the
/// stage `[apex] status_ids` gives its id.
pub fn parent_of(state: &ApexOrderState, ids: &ApexStatusIds) -> Option<String> {
    state.parent.clone().or_else(|| {
        [
            (ids.accepted, "Accepted"),
            (ids.packed, "Pending Shipment"),
            (ids.in_transit, "In Transit"),
            (ids.delivered, "Delivered"),
        ]
        .into_iter()
        .find(|(id, _)| *id == Some(state.status_id))
        .map(|(_, p)| p.to_string())
    })
}

/// The status tagtally shows: `Cancelled`, the parent status (which a delivered or
/// complete order closes on), or the bare id (open) when neither says more.
pub fn status_name(v: &Value, state: &ApexOrderState, ids: &ApexStatusIds) -> String {
    if state.cancelled {
        return "Cancelled".into();
    }
    match parent_of(state, ids) {
        Some(p) => p,
        None => {
            let name = v
                .get("order_status")
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .map(|n| format!(" ({})", n.trim()))
                .unwrap_or_default();
            format!("status {}{name}", state.status_id)
        }
    }
}

fn order(file: &str, n: usize, v: &Value, ids: &ApexStatusIds) -> Result<Order, ImportError> {
    let hint = v
        .get("invoice_number")
        .and_then(Value::as_str)
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let r = Record::new(file, format!("order {n}{hint}"), v)?;
    let id = r.str("id")?;
    let number = r.opt_str("invoice_number")?.unwrap_or(format!("APEX-{id}"));
    let state = state_of(v).map_err(|m| r.err("order_status_id", m))?;
    let buyer = match r.get("buyer") {
        Some(b @ Value::Object(_)) => Record::new(file, r.what.clone(), b)?.opt_str("name")?,
        _ => None,
    };
    let buyer = match (buyer, r.opt_str("ship_name")?) {
        (Some(b), _) | (None, Some(b)) => b,
        (None, None) => r
            .opt_str("buyer_id")?
            .map(|b| format!("buyer {b}"))
            .unwrap_or_default(),
    };
    let ship_date = match r.opt_str("delivery_date")? {
        Some(d) => Some(d),
        None => r.opt_str("estimated_departure_date")?,
    }
    .map(|d| {
        match d
            .get(..10)
            .and_then(|x| x.parse::<chrono::NaiveDate>().ok())
        {
            Some(date) => date.to_string(),
            None => d,
        }
    });
    let items = match r.required("items") {
        Ok(Value::Array(a)) => a,
        Ok(other) => return Err(r.err("items", format!("expected a list, found {}", kind(other)))),
        Err(_) => {
            return Err(r.err(
                "items",
                "missing: ask with `with_items=true` (the list leaves items out otherwise)",
            ));
        }
    };
    let lines = items
        .iter()
        .enumerate()
        .map(|(i, it)| line(file, &r.what, i + 1, it))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Order {
        number,
        short_id: None,
        status: OrderStatus(status_name(v, &state, ids)),
        buyer,
        buyer_license: r.opt_str("buyer_state_license")?,
        buyer_license_inactive: false,
        ship_date,
        delivery_address: address(&r)?,
        lines,
    })
}

fn line(file: &str, order: &str, n: usize, v: &Value) -> Result<Line, ImportError> {
    let r = Record::new(file, format!("{order}, items[{n}]"), v)?;
    let unit = match r.get("order_unit_measurement") {
        Some(u @ Value::Object(_)) => {
            let ur = Record::new(file, r.what.clone(), u)?;
            ur.opt_str("alias")?.or(ur.opt_str("name")?)
        }
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        _ => None,
    };
    let raw_tags: Vec<String> = match r.get("metrc_package_label") {
        None => vec![],
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter(|t| !t.is_null())
            .map(|t| match t {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(r.err(
                    "metrc_package_label",
                    format!("expected tags as text, found {}", kind(other)),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(r.err(
                "metrc_package_label",
                format!("expected a tag or a list of tags, found {}", kind(other)),
            ));
        }
    };
    let tags = raw_tags
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            MetrcTag::new(t)
                .map_err(|_| r.err("metrc_package_label", format!("{t:?} is not a Metrc tag")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // `order_price_raw` is integer cents a unit (B2B-API.md §7); the display string
    // `order_price` carries commas.
    let unit_price_cents = match r.get("order_price_raw") {
        Some(Value::Number(c)) => Some(c.as_i64().ok_or_else(|| {
            r.err(
                "order_price_raw",
                format!("{c} is not a whole number of cents"),
            )
        })?),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
        Some(other) => {
            return Err(r.err(
                "order_price_raw",
                format!("expected whole cents, found {}", kind(other)),
            ));
        }
        None => match r.opt_str("order_price")? {
            None => None,
            Some(p) => {
                Some(crate::domain::order::parse_cents(&p).map_err(|m| r.err("order_price", m))?)
            }
        },
    };
    Ok(Line {
        id: r.str("id")?,
        sku: r.opt_str("product_sku")?,
        name: r.opt_str("product_name")?,
        quantity: r.opt_str("order_quantity")?,
        unit,
        batch: r.opt_str("batch_name")?,
        unit_price_cents,
        tags,
    })
}

/// `ship_line_one, ship_line_two, ship_city, ship_state ship_zip` as one line.
fn address(r: &Record) -> Result<Option<String>, ImportError> {
    let mut parts = vec![];
    for k in ["ship_line_one", "ship_line_two", "ship_city"] {
        parts.extend(r.opt_str(k)?);
    }
    let state_zip: Vec<String> = [r.opt_str("ship_state")?, r.opt_str("ship_zip")?]
        .into_iter()
        .flatten()
        .collect();
    if !state_zip.is_empty() {
        parts.push(state_zip.join(" "));
    }
    Ok((!parts.is_empty()).then(|| parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"id": 48211, "uuid": "9b3c", "invoice_number": "TWISTE-1737",
      "subtotal": "2,400.00", "subtotal_raw": 240000, "order_status_id": 301, "cancelled": false,
      "deal_flow_id": 7, "delivery_date": "2026-12-04T00:00:00.000000Z",
      "ship_name": "Green Leaf Dispensary", "ship_line_one": "1 Main St", "ship_line_two": null,
      "ship_city": "Boston", "ship_state": "MA", "ship_zip": "02110",
      "buyer_state_license": "MR281234", "excise_tax": "0.00",
      "buyer": {"id": 9012, "name": "Green Leaf", "buyer_group": null},
      "order_status": {"id": 301, "name": "Approved", "position": 2,
                       "parent_status": {"id": 2, "name": "Accepted"}},
      "items": [
        {"id": 771001, "order_quantity": 10, "order_price": "2,400.00", "order_price_raw": 240000,
         "metrc_package_label": null, "product_sku": "XJ-13-CASE", "product_name": "XJ-13 1g Preroll",
         "batch_name": "XJ13-0325", "order_unit_measurement": {"id": 9, "name": "Case", "alias": "cs"}},
        {"id": "771002", "order_quantity": "24.00", "order_price": "1,018.50",
         "metrc_package_label": "1a4060300003c35000010005, 1A4060300003C35000010006",
         "batch_name": "BD-0412", "order_unit_measurement": {"name": "Each"}},
        {"id": 771003, "order_quantity": 2, "order_price_raw": "1850",
         "metrc_package_label": ["1A4060300003C35000010007"], "batch_name": "BD-0412"},
        {"id": 771004, "order_quantity": 2, "metrc_package_label": "1A4060300003C35000010008",
         "batch_name": "BD-0399"}]}"#;

    #[test]
    fn an_order_in_every_shape() {
        let o = &parse("a.json", ORDER.as_bytes()).unwrap()[0];
        assert_eq!(o.number, "TWISTE-1737");
        assert_eq!(o.buyer, "Green Leaf");
        assert_eq!(o.buyer_license.as_deref(), Some("MR281234"));
        assert_eq!(o.status.0, "Accepted");
        assert_eq!(o.ship_date.as_deref(), Some("2026-12-04"));
        assert_eq!(
            o.delivery_address.as_deref(),
            Some("1 Main St, Boston, MA 02110")
        );
        let l = &o.lines;
        assert_eq!(l.len(), 4);
        assert_eq!(
            (l[0].id.as_str(), l[0].sku.as_deref(), l[0].unit.as_deref()),
            ("771001", Some("XJ-13-CASE"), Some("cs"))
        );
        assert_eq!(l[0].quantity.as_deref(), Some("10"));
        assert_eq!(l[0].unit_price_cents, Some(240000), "raw cents first");
        assert!(l[0].tags.is_empty());
        assert_eq!(l[1].unit_price_cents, Some(101850), "commas in the string");
        assert_eq!(l[1].quantity.as_deref(), Some("24.00"));
        assert_eq!(l[1].unit.as_deref(), Some("Each"));
        assert_eq!(l[1].tags.len(), 2, "a comma-separated string");
        assert_eq!(l[1].tags[0].as_str(), "1A4060300003C35000010005");
        assert_eq!(l[2].unit_price_cents, Some(1850), "raw cents as digits");
        assert_eq!(l[2].tags.len(), 1, "a list");
        assert_eq!(l[3].tags.len(), 1, "one tag");
        assert_eq!(l[3].unit_price_cents, None);
    }

    #[test]
    fn pages_wrappers_and_lists() {
        let page = format!(
            r#"{{"orders": [{ORDER}, {}], "links": {{"next": null}}, "meta": {{"last_page": 1}}}}"#,
            ORDER.replace("TWISTE-1737", "TWISTE-1738")
        );
        let orders = parse("a.json", page.as_bytes()).unwrap();
        assert_eq!(orders[1].number, "TWISTE-1738");
        let one = format!(r#"{{"order": {ORDER}}}"#);
        assert_eq!(parse("a.json", one.as_bytes()).unwrap().len(), 1);
        let list = format!("[{ORDER}]");
        assert_eq!(parse("a.json", list.as_bytes()).unwrap().len(), 1);
        for doc in [&page, &one, &list, &ORDER.to_string()] {
            assert!(looks_like_apex(&serde_json::from_str(doc).unwrap()));
        }
        assert!(!looks_like_apex(
            &serde_json::json!({"results": [], "count": 0})
        ));
        let e = parse("a.json", br#"{"orders": [], "meta": {}}"#).unwrap_err();
        assert!(e.message.contains("no orders"), "{e}");
    }

    #[test]
    fn no_license_no_invoice_and_statuses() {
        let bare = ORDER
            .replace(
                r#""buyer_state_license": "MR281234","#,
                r#""buyer_state_license": "  ","#,
            )
            .replace(r#""invoice_number": "TWISTE-1737","#, "")
            .replace(
                r#""buyer": {"id": 9012, "name": "Green Leaf", "buyer_group": null},"#,
                "",
            );
        let o = &parse("a.json", bare.as_bytes()).unwrap()[0];
        assert_eq!(
            o.buyer_license, None,
            "blank is none; the order still imports"
        );
        assert_eq!(o.number, "APEX-48211");
        assert_eq!(
            o.buyer, "Green Leaf Dispensary",
            "ship_name without a buyer"
        );

        let v: Value = serde_json::from_str(ORDER).unwrap();
        let mut no_parent = v.clone();
        no_parent["order_status"] = Value::Null;
        no_parent["order_status_id"] = "305".into();
        let s = state_of(&no_parent).unwrap();
        assert_eq!((s.status_id, s.parent.clone()), (305, None));
        let ids = ApexStatusIds {
            packed: Some(305),
            ..ApexStatusIds::default()
        };
        assert_eq!(status_name(&no_parent, &s, &ids), "Pending Shipment");
        assert_eq!(
            status_name(&no_parent, &s, &ApexStatusIds::default()),
            "status 305"
        );
        let mut cancelled = v;
        cancelled["cancelled"] = 1.into();
        let s = state_of(&cancelled).unwrap();
        assert!(s.cancelled);
        assert_eq!(
            status_name(&cancelled, &s, &ApexStatusIds::default()),
            "Cancelled"
        );
    }

    #[test]
    fn errors_name_the_item_and_field() {
        let bad = ORDER.replace(r#""1A4060300003C35000010008""#, r#""1A4-BAD""#);
        let e = parse("a.json", bad.as_bytes()).unwrap_err();
        assert_eq!(e.record.as_deref(), Some("order 1 (TWISTE-1737), items[4]"));
        assert_eq!(e.field.as_deref(), Some("metrc_package_label"));
        let bad = ORDER.replace(r#""order_price": "1,018.50""#, r#""order_price": "ten""#);
        let e = parse("a.json", bad.as_bytes()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("order_price"));
        let v: Value = serde_json::from_str(ORDER).unwrap();
        let mut no_items = v;
        no_items.as_object_mut().unwrap().remove("items");
        let e = parse("a.json", no_items.to_string().as_bytes()).unwrap_err();
        assert!(
            e.field.as_deref() == Some("items") && e.message.contains("with_items"),
            "{e}"
        );
    }
}
