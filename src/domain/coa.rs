//! Certificates of analysis: what the store knows of a package's COA (the fact that
//! travels to devices with the package), and which of an order's batches lack one.
//! Pure: the fetching is `metrc::coa`'s, the storing `store::coa`'s.
//!
//! A COA is a warning on the order, not a block: only with `[metrc] require_coa` does
//! a package without one become ineligible (`Ineligibility::NoCoa`, decided in
//! [`super::package::Package::ineligibility`]).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Order, Package};
use crate::tag::MetrcTag;

/// What Metrc's lab results say of one package's COA, once they have been read.
/// The PDFs stay on the hub; devices get this fact and the documents' hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoaFact {
    /// The COA documents its (unrevoked) results name that were read and stored.
    #[serde(default)]
    pub documents: Vec<CoaDocument>,
    /// Documents its results name that could not be read (neither a PDF nor a JSON
    /// envelope carrying one): no COA until Metrc serves them readably.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<i64>,
}

/// One stored COA: Metrc's `LabTestResultDocumentFileId` and the SHA-256 of the PDF.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CoaDocument {
    pub document_id: i64,
    pub sha256: String,
}

impl CoaFact {
    pub fn has_coa(&self) -> bool {
        !self.documents.is_empty()
    }
}

/// Why a batch of an order is shown without a COA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoaGap {
    pub line: String,
    pub batch: String,
    /// Its lab results were read and name no readable COA document.
    pub without_coa: Vec<MetrcTag>,
    /// Its lab results have not been read (no pull since it was allocated, no Metrc
    /// connection, or no Metrc `Id` known for it).
    pub unchecked: Vec<MetrcTag>,
}

impl CoaGap {
    /// One line for `tagtally status`.
    pub fn sentence(&self) -> String {
        let mut parts = Vec::new();
        if !self.without_coa.is_empty() {
            parts.push(format!(
                "{} package(s) with no COA in Metrc ({})",
                self.without_coa.len(),
                join(&self.without_coa)
            ));
        }
        if !self.unchecked.is_empty() {
            parts.push(format!(
                "{} package(s) whose lab results were not read yet ({}): run `tagtally metrc pull`",
                self.unchecked.len(),
                join(&self.unchecked)
            ));
        }
        format!(
            "warning: line {} batch {}: {}",
            self.line,
            self.batch,
            parts.join("; ")
        )
    }
}

fn join(tags: &[MetrcTag]) -> String {
    let shown: Vec<&str> = tags.iter().take(3).map(MetrcTag::as_str).collect();
    if tags.len() > 3 {
        format!("{}, and {} more", shown.join(", "), tags.len() - 3)
    } else {
        shown.join(", ")
    }
}

/// The lines of `order` with allocated packages that have no COA, in line order.
/// A package not in `packages` is left to the allocation checks.
pub fn gaps(order: &Order, packages: &HashMap<MetrcTag, Package>) -> Vec<CoaGap> {
    let mut out = Vec::new();
    for line in &order.lines {
        let mut gap = CoaGap {
            line: line.id.clone(),
            batch: line.batch.clone().unwrap_or_else(|| "(no batch)".into()),
            without_coa: vec![],
            unchecked: vec![],
        };
        for tag in &line.tags {
            match packages.get(tag).map(|p| &p.coa) {
                None => {}
                Some(None) => gap.unchecked.push(tag.clone()),
                Some(Some(f)) if f.has_coa() => {}
                Some(Some(_)) => gap.without_coa.push(tag.clone()),
            }
        }
        if !gap.without_coa.is_empty() || !gap.unchecked.is_empty() {
            out.push(gap);
        }
    }
    out
}

/// The COA documents covering each batch of `order`: batch to documents, each once
/// however many of the batch's packages it covers.
pub fn documents_by_batch(
    order: &Order,
    packages: &HashMap<MetrcTag, Package>,
) -> BTreeMap<String, Vec<CoaDocument>> {
    let mut out: BTreeMap<String, Vec<CoaDocument>> = BTreeMap::new();
    for line in &order.lines {
        let batch = line.batch.clone().unwrap_or_else(|| "(no batch)".into());
        let docs = out.entry(batch).or_default();
        for fact in line
            .tags
            .iter()
            .filter_map(|t| packages.get(t)?.coa.as_ref())
        {
            for d in &fact.documents {
                if !docs.contains(d) {
                    docs.push(d.clone());
                }
            }
        }
        docs.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::package::tests::pkg;
    use crate::domain::{Line, OrderStatus};

    const A: &str = "1A4000000000000000000001";
    const B: &str = "1A4000000000000000000002";
    const C: &str = "1A4000000000000000000003";

    fn order(lines: &[(&str, &str, &[&str])]) -> Order {
        Order {
            number: "SO-1".into(),
            short_id: None,
            status: OrderStatus("Accepted".into()),
            buyer: "Buyer".into(),
            buyer_license: None,
            buyer_license_inactive: false,
            ship_date: None,
            delivery_address: None,
            lines: lines
                .iter()
                .map(|(id, batch, tags)| Line {
                    id: (*id).into(),
                    sku: None,
                    name: None,
                    quantity: None,
                    unit: None,
                    batch: Some((*batch).into()),
                    unit_price_cents: None,
                    tags: tags.iter().map(|t| MetrcTag::new(t).unwrap()).collect(),
                })
                .collect(),
        }
    }

    fn fact(docs: &[i64]) -> Option<CoaFact> {
        Some(CoaFact {
            documents: docs
                .iter()
                .map(|d| CoaDocument {
                    document_id: *d,
                    sha256: format!("sha-{d}"),
                })
                .collect(),
            unreadable: vec![],
        })
    }

    #[test]
    fn gaps_table() {
        // (case, facts of A, B, C, expected (line, without, unchecked) per line)
        type Case = (
            &'static str,
            [Option<CoaFact>; 3],
            Vec<(&'static str, usize, usize)>,
        );
        let cases: Vec<Case> = vec![
            ("all covered", [fact(&[7]), fact(&[7]), fact(&[8])], vec![]),
            (
                "one without, one unchecked",
                [fact(&[7]), fact(&[]), None],
                vec![("1", 1, 0), ("2", 0, 1)],
            ),
            (
                "an unreadable document is no COA",
                [
                    Some(CoaFact {
                        documents: vec![],
                        unreadable: vec![9],
                    }),
                    fact(&[7]),
                    fact(&[8]),
                ],
                vec![("1", 1, 0)],
            ),
            (
                "nothing read",
                [None, None, None],
                vec![("1", 0, 2), ("2", 0, 1)],
            ),
        ];
        let o = order(&[("1", "B-1", &[A, B]), ("2", "B-2", &[C])]);
        for (case, facts, want) in cases {
            let packages: HashMap<_, _> = [A, B, C]
                .iter()
                .zip(facts)
                .map(|(t, f)| {
                    let mut p = pkg(t, "Item", "B-1");
                    p.coa = f;
                    (p.label.clone(), p)
                })
                .collect();
            let found = gaps(&o, &packages);
            let got: Vec<_> = found
                .iter()
                .map(|g| (g.line.as_str(), g.without_coa.len(), g.unchecked.len()))
                .collect();
            let want: Vec<_> = want.iter().map(|(l, w, u)| (*l, *w, *u)).collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn a_document_covering_many_packages_is_listed_once_per_batch() {
        let o = order(&[("1", "B-1", &[A, B]), ("2", "B-2", &[C])]);
        let packages: HashMap<_, _> = [(A, fact(&[7])), (B, fact(&[7])), (C, fact(&[]))]
            .into_iter()
            .map(|(t, f)| {
                let mut p = pkg(t, "Item", "B-1");
                p.coa = f;
                (p.label.clone(), p)
            })
            .collect();
        let by = documents_by_batch(&o, &packages);
        assert_eq!(by["B-1"].len(), 1);
        assert_eq!(by["B-1"][0].document_id, 7);
        assert!(by["B-2"].is_empty());
        let g = &gaps(&o, &packages)[0];
        assert!(g.sentence().contains("batch B-2") && g.sentence().contains("no COA"));
    }
}
