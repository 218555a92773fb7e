//! The paper pick list: an order's header, then every allocated package in walking
//! order grouped by location, each with a checkbox, its tag (the last six large), a
//! Code 128 of the tag, item, quantity and unit, batch, line and whether it is
//! picked; totals per line. The same document as text and JSON.
//!
//! Pure: document in, bytes or text out. The barcode's bars come from rxing's
//! Code 128 encoder, the one the camera decoder is the reader of.

use rxing::oned::{Code128Writer, OneDimensionalCodeWriter};
use serde::Serialize;

use super::layout::{Column, Font, Layout, MARGIN, PAGE_WIDTH, Pen};
use crate::domain::pull::Pull;
use crate::domain::state::LineProgress;

/// What the paper pick list shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PickListDoc {
    pub order: String,
    pub buyer: String,
    pub buyer_license: Option<String>,
    pub ship_date: Option<String>,
    /// When the list was made (local time, as people read it).
    pub made_at: String,
    /// Every allocated package, in walking order.
    pub packages: Vec<Pull>,
    /// Per line: allocated, picked, short, remaining.
    pub lines: Vec<LineProgress>,
}

impl PickListDoc {
    pub fn picked(&self) -> usize {
        self.packages.iter().filter(|p| p.picked.is_some()).count()
    }

    /// The packages grouped by location, in walking order: `(location, packages)`.
    pub fn groups(&self) -> Vec<(String, Vec<&Pull>)> {
        let mut out: Vec<(String, Vec<&Pull>)> = Vec::new();
        for p in &self.packages {
            let name = p.group();
            match out.last_mut() {
                Some((g, v)) if *g == name => v.push(p),
                _ => out.push((name, vec![p])),
            }
        }
        out
    }
}

/// What a package's status says on paper: picked by whom, short, blocked, or nothing.
fn status(p: &Pull) -> String {
    if let Some(by) = &p.picked {
        let who = by.person.as_deref().unwrap_or("nobody signed in");
        return format!("PICKED by {who} ({})", by.device);
    }
    if p.short {
        return "line short: leave it".into();
    }
    if let Some(b) = p.blocked {
        return format!(
            "{}: do not pull, tell the coordinator",
            b.word().replace('_', " ").to_uppercase()
        );
    }
    String::new()
}

/// Width of one Code 128 module, points: 0.3 mm, within what handheld scanners
/// read from paper printed at 203 dpi and up.
const MODULE: f32 = 0.85;
/// Height of the bars, points.
const BAR_HEIGHT: f32 = 24.0;
/// One package row.
const ROW_HEIGHT: f32 = 40.0;
/// Where the barcode starts: after the checkbox and the tag, with a quiet zone of
/// more than ten modules before it.
const BARCODE_X: f32 = MARGIN + 160.0;

const TOTALS: &[Column] = &[
    Column::left("Line", 50.0, Font::Regular),
    Column::left("Item", 242.0, Font::Regular),
    Column::right("Allocated", 60.0),
    Column::right("Picked", 60.0),
    Column::right("Short", 60.0),
    Column::right("Remaining", 60.0),
];

/// The modules of the Code 128 of `text` (true: a bar), without quiet zones.
pub fn code128(text: &str) -> Option<Vec<bool>> {
    Code128Writer.encode_oned(text).ok()
}

/// The pick list as a Letter-size PDF.
pub fn picklist_pdf(doc: &PickListDoc) -> Vec<u8> {
    let title = format!("Pick list  {}", doc.order);
    let subtitle = format!(
        "{} (license {})   Ship {}   Made {}",
        doc.buyer,
        doc.buyer_license.as_deref().unwrap_or("not given"),
        doc.ship_date.as_deref().unwrap_or("not set"),
        doc.made_at
    );
    let mut l = Layout::new(
        &title,
        &subtitle,
        "tagtally pick list. Pull the packages in the order listed and scan each one; \
         a package marked do not pull stays where it is.",
    );
    l.fields(
        2,
        &[
            ("Order", doc.order.clone()),
            ("Buyer", doc.buyer.clone()),
            (
                "Buyer license",
                doc.buyer_license.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                "Ship date",
                doc.ship_date.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                "Packages",
                format!("{} allocated, {} picked", doc.packages.len(), doc.picked()),
            ),
            ("Made", doc.made_at.clone()),
        ],
    );
    l.space(4.0);
    if doc.packages.is_empty() {
        l.paragraph(
            Font::Regular,
            9.0,
            "No packages are allocated to this order.",
            1,
        );
    }
    for (group, packages) in doc.groups() {
        l.heading(&format!("{group}  ({})", packages.len()), ROW_HEIGHT);
        for p in packages {
            l.block(ROW_HEIGHT, |pen| row(pen, p));
        }
    }
    l.space(6.0);
    l.heading("Totals per line", 40.0);
    l.table_head(TOTALS);
    for line in &doc.lines {
        l.table_row(
            TOTALS,
            &[
                line.id.clone(),
                line.label.clone(),
                line.allocated.to_string(),
                line.picked.to_string(),
                line.short.to_string(),
                line.remaining.to_string(),
            ],
        );
    }
    l.end_table();
    l.finish(&title)
}

/// One package: checkbox, tag, barcode, what it is, where on the location, status.
fn row(pen: &mut Pen<'_>, p: &Pull) {
    let x = MARGIN;
    pen.frame(x, 6.0, 12.0, 12.0, 0.8);
    if p.picked.is_some() {
        pen.text(Font::Bold, 11.0, x + 2.4, 16.2, "X", 10.0);
    }
    let (head, six) = p.tag.head_and_six();
    pen.text(Font::Mono, 7.0, x + 18.0, 10.0, head, 130.0);
    pen.text(Font::Bold, 16.0, x + 18.0, 27.0, six, 130.0);
    match code128(p.tag.as_str()) {
        Some(modules) => {
            let mut bx = BARCODE_X;
            for bar in modules {
                if bar {
                    pen.fill(bx, 4.0, MODULE, BAR_HEIGHT, 0.0);
                }
                bx += MODULE;
            }
        }
        None => {
            pen.text(Font::Regular, 7.0, BARCODE_X, 18.0, "(no barcode)", 100.0);
        }
    }
    let tx = BARCODE_X + 222.0;
    let tw = PAGE_WIDTH - MARGIN - tx;
    pen.text(Font::Bold, 8.5, tx, 10.0, &p.item, tw);
    let mut facts = vec![];
    let amount = p.amount();
    if !amount.is_empty() {
        facts.push(amount);
    }
    if let Some(b) = &p.batch {
        facts.push(format!("batch {b}"));
    }
    facts.push(format!("line {}", p.line));
    pen.text(Font::Regular, 7.5, tx, 20.0, &facts.join("  "), tw);
    if let Some(s) = p.sublocation.as_deref().filter(|s| !s.trim().is_empty()) {
        pen.text(Font::Regular, 7.5, tx, 29.0, s, tw);
    }
    let status = status(p);
    if !status.is_empty() {
        pen.text(Font::Bold, 7.0, tx, 37.0, &status, tw);
    }
    pen.rule(MARGIN, PAGE_WIDTH - MARGIN, ROW_HEIGHT - 1.0, 0.3);
}

/// The pick list as plain text, one package a line, grouped by location.
pub fn picklist_text(doc: &PickListDoc) -> String {
    let mut s = format!(
        "Pick list {}: {} (license {}), ship {}; {} packages, {} picked; made {}\n",
        doc.order,
        doc.buyer,
        doc.buyer_license.as_deref().unwrap_or("not given"),
        doc.ship_date.as_deref().unwrap_or("not set"),
        doc.packages.len(),
        doc.picked(),
        doc.made_at
    );
    for (group, packages) in doc.groups() {
        s.push_str(&format!("\n{group}\n"));
        for p in packages {
            let (head, six) = p.tag.head_and_six();
            let mark = if p.picked.is_some() { "[x]" } else { "[ ]" };
            let sub = p.sublocation.as_deref().unwrap_or("");
            let status = status(p);
            let row = format!(
                "  {mark} {head} {six}  {:<12} {:<28} {:<10} line {:<4} {}",
                sub,
                p.item,
                p.amount(),
                p.line,
                status
            );
            s.push_str(row.trim_end());
            s.push('\n');
        }
    }
    s.push_str("\nline     allocated  picked  short  remaining  item\n");
    for l in &doc.lines {
        s.push_str(&format!(
            "{:<8} {:>9} {:>7} {:>6} {:>10}  {}\n",
            l.id, l.allocated, l.picked, l.short, l.remaining, l.label
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pull::PickedBy;
    use crate::tag::MetrcTag;

    fn pull(n: u32, location: Option<&str>) -> Pull {
        Pull {
            tag: MetrcTag::new(&format!("1A4060300003C3500001{n:04}")).unwrap(),
            line: "1".into(),
            item: "Blue Dream 3.5g".into(),
            quantity: Some(10.0),
            unit: Some("Each".into()),
            batch: Some("BD-0412".into()),
            location: location.map(str::to_string),
            sublocation: Some("Shelf 3".into()),
            picked: None,
            short: false,
            blocked: None,
        }
    }

    fn doc(packages: Vec<Pull>) -> PickListDoc {
        PickListDoc {
            order: "SO-1001".into(),
            buyer: "Green Door".into(),
            buyer_license: Some("C10-0000001-LIC".into()),
            ship_date: Some("2026-12-03".into()),
            made_at: "2026-12-01 10:00".into(),
            packages,
            lines: vec![],
        }
    }

    #[test]
    fn groups_follow_the_walk_and_no_location_is_its_own_group() {
        let d = doc(vec![
            pull(1, Some("Vault A")),
            pull(2, Some("Vault A")),
            pull(3, Some("Vault B")),
            pull(4, None),
        ]);
        let groups: Vec<(String, usize)> =
            d.groups().into_iter().map(|(g, v)| (g, v.len())).collect();
        assert_eq!(
            groups,
            [
                ("Vault A".into(), 2),
                ("Vault B".into(), 1),
                (crate::domain::pull::NO_LOCATION.into(), 1)
            ]
        );
    }

    #[test]
    fn text_marks_picked_and_splits_the_tag() {
        let mut p = pull(7, Some("Vault A"));
        p.picked = Some(PickedBy {
            device: "vault-1".into(),
            person: Some("Pia".into()),
        });
        let t = picklist_text(&doc(vec![p, pull(8, Some("Vault A"))]));
        assert!(t.contains("[x] 1A4060300003C35000 010007"), "{t}");
        assert!(t.contains("PICKED by Pia (vault-1)"), "{t}");
        assert!(t.contains("[ ] 1A4060300003C35000 010008"), "{t}");
        assert!(t.contains("2 packages, 1 picked"), "{t}");
    }

    #[test]
    fn a_long_or_foreign_location_never_breaks_the_pdf() {
        let long = "Vault ".repeat(50);
        let pdf = picklist_pdf(&doc(vec![
            pull(1, Some(&long)),
            pull(2, Some("倉庫 A")),
            pull(3, None),
        ]));
        assert!(pdf.starts_with(b"%PDF-"));
        let pdf = picklist_pdf(&doc(vec![]));
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn a_tag_has_bars() {
        let m = code128("1A4060300003C35000019794").unwrap();
        assert!(m.len() > 150 && m.len() < 300, "{}", m.len());
        assert!(m[0], "starts with a bar");
    }
}
