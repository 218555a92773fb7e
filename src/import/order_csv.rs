//! Orders as plain CSV for sites without LeafLink: one row per allocated tag, header
//! `order,buyer,buyer_license,line,sku,batch,tag` (columns in any order, extra columns
//! ignored). Rows of one order and line are grouped; the file may hold several orders.
//! Optional columns: `item` (the line's name), `unit`, `unit_price` (per unit of the
//! line, e.g. `12.50`) and `address` (delivery address).

use std::collections::HashMap;

use super::ImportError;
use crate::domain::{Line, Order, OrderStatus};
use crate::tag::MetrcTag;

const COLUMNS: [&str; 7] = [
    "order",
    "buyer",
    "buyer_license",
    "line",
    "sku",
    "batch",
    "tag",
];

pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Order>, ImportError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ImportError::file(
            file,
            "not UTF-8 text; save the CSV as UTF-8",
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let header = rdr
        .headers()
        .map_err(|e| ImportError::file(file, format!("cannot read the header: {e}")))?
        .clone();
    let mut col = HashMap::new();
    for want in COLUMNS {
        let i = header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(want))
            .ok_or_else(|| {
                ImportError::file(
                    file,
                    format!(
                        "the header has no `{want}` column; expected {}",
                        COLUMNS.join(",")
                    ),
                )
            })?;
        col.insert(want, i);
    }
    let optional = |want: &str| header.iter().position(|h| h.eq_ignore_ascii_case(want));
    let (item_col, unit_col, price_col, address_col) = (
        optional("item"),
        optional("unit"),
        optional("unit_price"),
        optional("address"),
    );
    let mut orders: Vec<Order> = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let row = n + 2; // the header is row 1
        let rec = rec.map_err(|e| ImportError {
            file: file.into(),
            record: Some(format!("row {row}")),
            field: None,
            message: e.to_string(),
        })?;
        let get = |name: &str| rec.get(col[name]).unwrap_or("").to_string();
        let err = |field: &str, message: String| ImportError {
            file: file.into(),
            record: Some(format!("row {row}")),
            field: Some(field.into()),
            message,
        };
        let number = get("order");
        if number.is_empty() {
            return Err(err("order", "empty (required)".into()));
        }
        let line_id = get("line");
        if line_id.is_empty() {
            return Err(err("line", "empty (required)".into()));
        }
        let tag_text = get("tag");
        let tag = MetrcTag::new(&tag_text)
            .map_err(|_| err("tag", format!("{tag_text:?} is not a Metrc tag")))?;
        let opt = |s: String| (!s.is_empty()).then_some(s);
        let get_opt = |c: Option<usize>| opt(c.and_then(|i| rec.get(i)).unwrap_or("").to_string());
        let price = get_opt(price_col)
            .map(|p| crate::domain::order::parse_cents(&p).map_err(|m| err("unit_price", m)))
            .transpose()?;
        let idx = match orders.iter().position(|o| o.number == number) {
            Some(i) => i,
            None => {
                orders.push(Order {
                    number: number.clone(),
                    short_id: None,
                    status: OrderStatus("Accepted".into()),
                    buyer: get("buyer"),
                    buyer_license: opt(get("buyer_license")),
                    buyer_license_inactive: false,
                    ship_date: None,
                    delivery_address: get_opt(address_col),
                    lines: vec![],
                });
                orders.len() - 1
            }
        };
        let order = &mut orders[idx];
        if order.buyer != get("buyer") {
            return Err(err(
                "buyer",
                format!(
                    "order {number} has buyer {:?} on an earlier row",
                    order.buyer
                ),
            ));
        }
        let batch = opt(get("batch"));
        match order.lines.iter_mut().find(|l| l.id == line_id) {
            Some(l) => {
                if l.batch != batch {
                    return Err(err(
                        "batch",
                        format!(
                            "line {line_id} of order {number} has batch {:?} on an earlier row: one batch per line",
                            l.batch.as_deref().unwrap_or("")
                        ),
                    ));
                }
                l.tags.push(tag);
            }
            None => order.lines.push(Line {
                id: line_id,
                sku: opt(get("sku")),
                name: get_opt(item_col),
                quantity: None,
                unit: get_opt(unit_col),
                batch,
                unit_price_cents: price,
                tags: vec![tag],
            }),
        }
    }
    if orders.is_empty() {
        return Err(ImportError::file(file, "the CSV has a header but no rows"));
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rows_into_orders_and_lines() {
        let csv = "order,buyer,buyer_license,line,sku,batch,tag\n\
            SO-7,Green Door,C10-1,1,BD-35,BD-0412,1a4060300003c35000019794\n\
            SO-7,Green Door,C10-1,1,BD-35,BD-0412,1A4060300003C35000019795\n\
            SO-7,Green Door,C10-1,2,OG-1G,OG-1,1A4060300003C35000019796\n\
            SO-8,\"Leaf, Inc.\",C10-2,1,OG-1G,OG-1,1A4060300003C35000019797\n";
        let orders = parse("o.csv", csv.as_bytes()).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].lines[0].tags.len(), 2);
        assert_eq!(orders[0].lines[1].batch.as_deref(), Some("OG-1"));
        assert_eq!(orders[1].buyer, "Leaf, Inc.");
    }

    #[test]
    fn refusals_name_row_and_column() {
        let e = parse("o.csv", b"order,buyer,line,sku,batch,tag\n").unwrap_err();
        assert!(e.message.contains("buyer_license"), "{e}");
        let head = "order,buyer,buyer_license,line,sku,batch,tag\n";
        let e = parse("o.csv", format!("{head}SO-1,B,L,1,S,B1,nope\n").as_bytes()).unwrap_err();
        assert_eq!(
            (e.record.as_deref(), e.field.as_deref()),
            (Some("row 2"), Some("tag"))
        );
        let two_batches = format!(
            "{head}SO-1,B,L,1,S,B1,1A4060300003C35000019794\nSO-1,B,L,1,S,B2,1A4060300003C35000019795\n"
        );
        let e = parse("o.csv", two_batches.as_bytes()).unwrap_err();
        assert_eq!(
            (e.record.as_deref(), e.field.as_deref()),
            (Some("row 3"), Some("batch"))
        );
        let e = parse("o.csv", format!("{head}SO-1,B,L\n").as_bytes()).unwrap_err();
        assert_eq!(e.record.as_deref(), Some("row 2"));
        assert!(
            parse("o.csv", head.as_bytes())
                .unwrap_err()
                .message
                .contains("no rows")
        );
    }
}
