//! LeafLink orders as the Marketplace API returns them: one order object, a list of
//! them, or a page `{"count": .., "results": [...]}`.
//!
//! Per order: `number` (required), `short_id`, `status` (required), `customer` (an object
//! with `display_name` and `license_number`, or just an id), `ship_date`, `line_items`.
//! Per line: `id` (required), `product` (an id, or an object with `sku` and `name`),
//! `quantity` (LeafLink sends a string), `unit_of_measure`, `batch` (text, or an object
//! whose `production_batch_number`/`batch_number`/`name` is the batch), and
//! `package_tags` (a list of tags, or one comma-separated string).

use serde_json::Value;

use super::{ImportError, Record, kind, parse_json};
use crate::domain::{Line, Order, OrderStatus};
use crate::tag::MetrcTag;

pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Order>, ImportError> {
    let doc = parse_json(file, bytes)?;
    let orders: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) if o.contains_key("results") => match &o["results"] {
            Value::Array(a) => a.iter().collect(),
            v => {
                return Err(ImportError::file(
                    file,
                    format!("`results` should be a list of orders, found {}", kind(v)),
                ));
            }
        },
        Value::Object(_) => vec![&doc],
        v => {
            return Err(ImportError::file(
                file,
                format!("expected a LeafLink order object, found {}", kind(v)),
            ));
        }
    };
    if orders.is_empty() {
        return Err(ImportError::file(file, "the file holds no orders"));
    }
    orders
        .iter()
        .enumerate()
        .map(|(i, v)| order(file, i + 1, v))
        .collect()
}

fn order(file: &str, n: usize, v: &Value) -> Result<Order, ImportError> {
    let hint = v
        .get("number")
        .and_then(Value::as_str)
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let r = Record::new(file, format!("order {n}{hint}"), v)?;
    let number = r.str("number")?;
    let (buyer, buyer_license, buyer_license_inactive) = match r.get("customer") {
        None => (String::new(), None, false),
        Some(Value::Object(_)) => {
            let c = Record::new(file, r.what.clone(), &r.obj["customer"])?;
            let name = c.opt_str("display_name")?.or(c.opt_str("name")?);
            // `license_inactive`: LeafLink's own word that the license is inactive.
            let inactive = c.get("license_inactive").and_then(Value::as_bool) == Some(true);
            (
                name.unwrap_or_default(),
                c.opt_str("license_number")?,
                inactive,
            )
        }
        Some(Value::Number(id)) => (format!("customer {id}"), None, false),
        Some(other) => {
            return Err(r.err(
                "customer",
                format!("expected an object or an id, found {}", kind(other)),
            ));
        }
    };
    let items = match r.required("line_items")? {
        Value::Array(a) => a,
        other => {
            return Err(r.err(
                "line_items",
                format!("expected a list, found {}", kind(other)),
            ));
        }
    };
    let lines = items
        .iter()
        .enumerate()
        .map(|(i, li)| line(file, &r.what, i + 1, li))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Order {
        number,
        short_id: r.opt_str("short_id")?,
        status: OrderStatus(r.str("status")?),
        buyer,
        buyer_license,
        buyer_license_inactive,
        ship_date: r.opt_str("ship_date")?,
        delivery_address: address(&r)?,
        lines,
    })
}

fn line(file: &str, order: &str, n: usize, v: &Value) -> Result<Line, ImportError> {
    let r = Record::new(file, format!("{order}, line_items[{n}]"), v)?;
    let id = r.str("id")?;
    let (sku, name) = match r.get("product") {
        Some(p @ Value::Object(_)) => {
            let pr = Record::new(file, r.what.clone(), p)?;
            (pr.opt_str("sku")?, pr.opt_str("name")?)
        }
        Some(Value::Number(_)) | None => (None, None),
        Some(other) => {
            return Err(r.err(
                "product",
                format!("expected an id or an object, found {}", kind(other)),
            ));
        }
    };
    let batch = match r.get("batch") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(b @ Value::Object(_)) => {
            let br = Record::new(file, r.what.clone(), b)?;
            let found = br
                .opt_str("production_batch_number")?
                .or(br.opt_str("batch_number")?)
                .or(br.opt_str("name")?);
            Some(found.ok_or_else(|| {
                r.err(
                    "batch",
                    "the batch object has no production_batch_number, batch_number or name",
                )
            })?)
        }
        Some(other) => {
            return Err(r.err(
                "batch",
                format!("expected text or an object, found {}", kind(other)),
            ));
        }
    };
    let raw_tags: Vec<String> = match r.get("package_tags") {
        None => vec![],
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(r.err(
                    "package_tags",
                    format!("expected tags as text, found {}", kind(other)),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(r.err(
                "package_tags",
                format!("expected a list of tags, found {}", kind(other)),
            ));
        }
    };
    let tags = raw_tags
        .iter()
        .map(|t| {
            MetrcTag::new(t).map_err(|_| r.err("package_tags", format!("{t:?} is not a Metrc tag")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let unit_price_cents = match r.get("ordered_unit_price") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let amount = match p {
                Value::Object(o) => o.get("amount").cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            let text = match amount {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                other => {
                    return Err(r.err(
                        "ordered_unit_price",
                        format!("expected an amount, found {}", kind(&other)),
                    ));
                }
            };
            Some(
                crate::domain::order::parse_cents(&text)
                    .map_err(|m| r.err("ordered_unit_price", m))?,
            )
        }
    };
    Ok(Line {
        id,
        sku,
        name,
        quantity: r.opt_str("quantity")?,
        unit: r.opt_str("unit_of_measure")?,
        batch,
        unit_price_cents,
        tags,
    })
}

/// `delivery_address` as one line: LeafLink sends text or an object of address parts.
fn address(r: &Record) -> Result<Option<String>, ImportError> {
    Ok(match r.get("delivery_address") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(Value::Object(o)) => {
            let parts: Vec<String> = [
                "address",
                "street",
                "street_2",
                "city",
                "state",
                "zipcode",
                "postal_code",
            ]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Some(other) => {
            return Err(r.err(
                "delivery_address",
                format!("expected text or an address object, found {}", kind(other)),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"number":"a1b2c3","short_id":"LL-1042","status":"Accepted",
      "customer":{"id":9,"display_name":"Green Door","license_number":"C10-0000001-LIC"},
      "ship_date":"2026-12-01","external_ids":{},
      "line_items":[
        {"id":501,"product":{"id":77,"sku":"BD-35","name":"Blue Dream 3.5g"},"quantity":"2.0000",
         "unit_of_measure":"Unit","batch":"BD-0412","package_tags":["1a4060300003c35000019794","1A4060300003C35000019795"],
         "ordered_unit_price":{"amount":"12.00","currency":"USD"}},
        {"id":502,"product":78,"quantity":"1","batch":{"id":3,"production_batch_number":"OG-1"},
         "package_tags":"1A4060300003C35000019796"}]}"#;

    #[test]
    fn one_order() {
        let o = &parse("o.json", ORDER.as_bytes()).unwrap()[0];
        assert_eq!(o.number, "a1b2c3");
        assert_eq!(o.short_id.as_deref(), Some("LL-1042"));
        assert_eq!(o.buyer, "Green Door");
        assert_eq!(o.lines.len(), 2);
        assert_eq!(o.lines[0].id, "501");
        assert_eq!(o.lines[0].sku.as_deref(), Some("BD-35"));
        assert_eq!(o.lines[0].tags[0].as_str(), "1A4060300003C35000019794");
        assert_eq!(o.lines[1].batch.as_deref(), Some("OG-1"));
        assert_eq!(o.lines[1].tags.len(), 1);
        assert_eq!(o.lines[1].quantity.as_deref(), Some("1"));
    }

    #[test]
    fn pages_and_lists() {
        let page = format!(r#"{{"count":1,"next":null,"results":[{ORDER}]}}"#);
        assert_eq!(parse("o.json", page.as_bytes()).unwrap().len(), 1);
        let list = format!("[{ORDER},{}]", ORDER.replace("a1b2c3", "z9"));
        assert_eq!(parse("o.json", list.as_bytes()).unwrap()[1].number, "z9");
        assert!(
            parse("o.json", b"[]")
                .unwrap_err()
                .message
                .contains("no orders")
        );
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let bad = ORDER.replace(
            r#""package_tags":"1A4060300003C35000019796""#,
            r#""package_tags":"1A4-BAD""#,
        );
        let e = parse("o.json", bad.as_bytes()).unwrap_err();
        assert_eq!(e.record.as_deref(), Some("order 1 (a1b2c3), line_items[2]"));
        assert_eq!(e.field.as_deref(), Some("package_tags"));
        let e = parse(
            "o.json",
            ORDER.replace(r#""number":"a1b2c3","#, "").as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("number"));
        let e = parse("o.json", ORDER.replace(r#""id":501,"#, "").as_bytes()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("id"));
    }
}
