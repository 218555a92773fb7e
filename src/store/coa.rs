//! Certificates of analysis in the store: the lab result rows read from Metrc, each
//! COA document once (its PDF an attachment: content-addressed, append-only, so a COA
//! covering many packages is stored once), and per package the COA fact that travels
//! to devices with it. A package whose fact changes takes the next package change
//! number, so devices receive it in their next snapshot; reading the same results
//! again writes nothing devices would download.

use rusqlite::{Connection, OptionalExtension, params};

use super::ship::{Attachment, put_attachment};
use super::{Store, StoreError, classify, now};
use crate::domain::coa::CoaFact;
use crate::tag::MetrcTag;

/// A package allocated to an open order, with what is known of its lab results:
/// what `metrc::coa` decides to read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoaCandidate {
    pub tag: MetrcTag,
    pub metrc_id: Option<i64>,
    pub last_modified: String,
    /// When its results were last read (RFC 3339), and its `LastModified` then.
    pub checked_at: Option<String>,
    pub checked_modified: Option<String>,
    pub has_coa: bool,
}

/// One lab result row as kept: Metrc's `LabTestResultId`, `TestTypeName`,
/// `TestPassed` (else `OverallPassed`), `LabTestResultDocumentFileId`, `ResultReleased`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabResultRow {
    pub result_id: i64,
    pub test_type: String,
    pub passed: Option<bool>,
    pub document_id: Option<i64>,
    pub released: Option<bool>,
}

/// A device's copy of the hub's fact (no check times: the hub reads Metrc).
pub(super) fn put_fact(tx: &Connection, tag: &str, fact: &CoaFact) -> rusqlite::Result<()> {
    let json = serde_json::to_string(fact).expect("a COA fact serialises");
    tx.prepare_cached(
        "INSERT INTO package_coa (tag, fact) VALUES (?1, ?2)
         ON CONFLICT (tag) DO UPDATE SET fact = excluded.fact",
    )?
    .execute(params![tag, json])?;
    Ok(())
}

impl Store {
    /// The packages allocated to open orders (with `order`: to that order, open or
    /// not), each once, by tag.
    pub fn coa_candidates(&self, order: Option<&str>) -> Result<Vec<CoaCandidate>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT p.label, p.metrc_id, p.last_modified, c.checked_at,
                        c.checked_modified, c.fact
                 FROM allocations a
                 JOIN orders o ON o.number = a.order_number
                 JOIN packages p ON p.label = a.tag
                 LEFT JOIN package_coa c ON c.tag = p.label
                 WHERE (?1 IS NULL AND o.is_open = 1) OR o.number = ?1
                 ORDER BY p.label",
            )
            .map_err(&err)?;
        let rows = st
            .query_map([order], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(
                |(tag, metrc_id, last_modified, checked_at, checked_modified, fact)| {
                    let has_coa = match fact {
                        Some(f) => serde_json::from_str::<CoaFact>(&f)
                            .map_err(|e| self.corrupt(format!("package {tag}: COA fact: {e}")))?
                            .has_coa(),
                        None => false,
                    };
                    Ok(CoaCandidate {
                        tag: MetrcTag::new(&tag)
                            .map_err(|_| self.corrupt(format!("package label {tag:?}")))?,
                        metrc_id,
                        last_modified,
                        checked_at,
                        checked_modified,
                        has_coa,
                    })
                },
            )
            .collect()
    }

    /// The SHA-256 of a stored COA document.
    pub fn coa_document(&self, document_id: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT sha256 FROM coa_documents WHERE document_id = ?1")
            .and_then(|mut st| st.query_row([document_id], |r| r.get(0)).optional())
            .map_err(self.err())
    }

    /// Every stored COA document: (document id, SHA-256), by id.
    pub fn coa_documents(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT document_id, sha256 FROM coa_documents ORDER BY document_id")
            .map_err(self.err())?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())
    }

    /// The lab result rows kept for `tag`, by result id and test type.
    pub fn lab_results(&self, tag: &MetrcTag) -> Result<Vec<LabResultRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT result_id, test_type, passed, document_id, released FROM lab_results
                 WHERE tag = ?1 ORDER BY result_id, test_type",
            )
            .map_err(self.err())?;
        st.query_map([tag.as_str()], |r| {
            Ok(LabResultRow {
                result_id: r.get(0)?,
                test_type: r.get(1)?,
                passed: r.get(2)?,
                document_id: r.get(3)?,
                released: r.get(4)?,
            })
        })
        .map_err(self.err())?
        .collect::<Result<_, _>>()
        .map_err(self.err())
    }

    /// What one package's lab results said, in one transaction: the documents read
    /// for the first time (each stored once: by document id, its bytes by hash), the
    /// rows (replacing those read before), and its COA fact. When the fact differs
    /// from the stored one the package takes the next change number, so devices get
    /// it. `modified` is the package's `LastModified` when read. Returns whether the
    /// fact changed.
    pub fn record_lab_results(
        &mut self,
        tag: &MetrcTag,
        rows: &[LabResultRow],
        new_documents: &[(i64, Attachment)],
        fact: &CoaFact,
        modified: &str,
    ) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let at = now();
        let tx = self.write_tx()?;
        for (id, a) in new_documents {
            put_attachment(&tx, a).map_err(err)?;
            tx.prepare_cached(
                "INSERT INTO coa_documents (document_id, sha256, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (document_id) DO NOTHING",
            )
            .and_then(|mut st| st.execute(params![id, a.sha256, at]))
            .map_err(err)?;
        }
        tx.execute("DELETE FROM lab_results WHERE tag = ?1", [tag.as_str()])
            .map_err(err)?;
        for r in rows {
            tx.prepare_cached(
                "INSERT INTO lab_results (tag, result_id, test_type, passed, document_id, released)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tag, result_id, test_type) DO UPDATE SET passed = excluded.passed,
                    document_id = excluded.document_id, released = excluded.released",
            )
            .and_then(|mut st| {
                st.execute(params![
                    tag.as_str(),
                    r.result_id,
                    r.test_type,
                    r.passed,
                    r.document_id,
                    r.released
                ])
            })
            .map_err(err)?;
        }
        // In one order whatever order Metrc listed the rows in: the same fact is the
        // same text, so it is not sent to devices again.
        let mut fact = fact.clone();
        fact.documents.sort();
        fact.documents.dedup();
        fact.unreadable.sort_unstable();
        fact.unreadable.dedup();
        let json = serde_json::to_string(&fact).expect("a COA fact serialises");
        let before: Option<String> = tx
            .query_row(
                "SELECT fact FROM package_coa WHERE tag = ?1",
                [tag.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        tx.execute(
            "INSERT INTO package_coa (tag, fact, checked_at, checked_modified)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tag) DO UPDATE SET fact = excluded.fact,
                checked_at = excluded.checked_at, checked_modified = excluded.checked_modified",
            params![tag.as_str(), json, at, modified],
        )
        .map_err(err)?;
        let changed = before.as_deref() != Some(json.as_str());
        if changed {
            tx.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'package_change'",
                [],
            )
            .map_err(err)?;
            tx.execute(
                "UPDATE packages SET change_seq =
                    (SELECT value FROM counters WHERE name = 'package_change')
                 WHERE label = ?1",
                [tag.as_str()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::coa::CoaDocument;
    use crate::store::sync::test_support::store;

    fn package(id: i64) -> crate::domain::Package {
        let mut p = crate::domain::package::tests::pkg("1A4060300003C35000019794", "Item", "B");
        p.metrc_id = Some(id);
        p
    }

    #[test]
    fn a_coa_is_stored_once_and_reaches_devices_once() {
        let (_d, mut s) = store();
        let p = package(15001);
        s.import_packages(std::slice::from_ref(&p)).unwrap();
        // A file without the Id leaves the one stored.
        let mut no_id = p.clone();
        no_id.metrc_id = None;
        no_id.last_modified = "2026-02-01T00:00:00.000Z".into();
        s.import_packages(std::slice::from_ref(&no_id)).unwrap();
        let (_, cursor) = s.packages_since("0").unwrap();
        let pdf = Attachment::new("application/pdf", b"%PDF-1.4 coa".to_vec());
        let fact = CoaFact {
            documents: vec![CoaDocument {
                document_id: 7,
                sha256: pdf.sha256.clone(),
            }],
            unreadable: vec![],
        };
        let rows = [LabResultRow {
            result_id: 1,
            test_type: "Pesticides".into(),
            passed: Some(true),
            document_id: Some(7),
            released: Some(true),
        }];
        let docs = [(7, pdf.clone())];
        assert!(
            s.record_lab_results(&p.label, &rows, &docs, &fact, &no_id.last_modified)
                .unwrap()
        );
        // The same again: nothing new, no change for devices.
        assert!(
            !s.record_lab_results(&p.label, &rows, &docs, &fact, &no_id.last_modified)
                .unwrap()
        );
        assert_eq!(s.coa_documents().unwrap(), vec![(7, pdf.sha256.clone())]);
        assert_eq!(s.lab_results(&p.label).unwrap(), rows);
        let (sent, _) = s.packages_since(&cursor).unwrap();
        assert_eq!(sent.len(), 1, "the changed fact travels once");
        assert_eq!(sent[0].metrc_id, Some(15001));
        assert!(sent[0].has_coa());

        // A device takes the fact with the package, and keeps it across a newer
        // snapshot of the package that carries one too.
        let (_d2, mut device) = store();
        device.apply_hub_snapshot(&[], &sent).unwrap();
        let got = &device.packages(std::slice::from_ref(&p.label)).unwrap()[&p.label];
        assert_eq!(got.coa.as_ref(), Some(&fact));
    }
}
