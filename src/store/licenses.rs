//! The state's license register as last imported, and each order's license standing
//! from it and the order's events (`domain::license`). An import replaces the whole
//! register in one transaction: the state publishes the whole list.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use tracing::instrument;

use super::{Store, StoreError, classify, now};
use crate::domain::license::{self, Entry, Facts, RegisterRow, Standing};
use crate::domain::{EventKind, Order, Stage, counted};

/// The `meta` key set by each register import (its time).
const IMPORTED_AT: &str = "licenses_imported_at";

/// What the register holds, for `tagtally licenses show`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RegisterSummary {
    pub imported_at: Option<String>,
    pub source: Option<String>,
    pub licenses: i64,
    pub active: i64,
}

impl Store {
    /// Replace the register with `rows` (already checked whole) in one transaction.
    #[instrument(skip_all, err(level = "debug"), fields(count = rows.len()))]
    pub fn import_licenses(
        &mut self,
        rows: &[RegisterRow],
        source: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let at = now();
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM license_register", [])
            .map_err(err)?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO license_register (number, shown, status, active, expires, row)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for r in rows {
                let e = &r.entry;
                ins.execute(params![
                    license::normalise(&e.number),
                    e.number.trim(),
                    e.status,
                    e.active,
                    e.expires.map(|d| d.to_string()),
                    r.row as i64,
                ])
                .map_err(err)?;
            }
        }
        for (k, v) in [(IMPORTED_AT, at.as_str()), ("licenses_source", source)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [k, v],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Whether a register has ever been imported here.
    pub fn register_loaded(&self) -> Result<bool, StoreError> {
        Ok(self.meta(IMPORTED_AT)?.is_some())
    }

    pub fn register_summary(&self) -> Result<RegisterSummary, StoreError> {
        let (licenses, active): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(active), 0) FROM license_register",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        Ok(RegisterSummary {
            imported_at: self.meta(IMPORTED_AT)?,
            source: self.meta("licenses_source")?,
            licenses,
            active,
        })
    }

    /// The register's entry for `number`, if it lists it.
    pub fn license_entry(&self, number: &str) -> Result<Option<Entry>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT shown, status, active, expires FROM license_register WHERE number = ?1",
                [license::normalise(number)],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(self.err())?;
        let Some((number, status, active, expires)) = row else {
            return Ok(None);
        };
        let expires = expires
            .map(|d| d.parse::<NaiveDate>())
            .transpose()
            .map_err(|e| self.corrupt(format!("license {number}: expiry: {e}")))?;
        Ok(Some(Entry {
            number,
            status,
            active,
            expires,
        }))
    }

    /// Whether the check applies without a register (`[licenses] require`); set from
    /// the settings when the store is opened for a command (`app::open_store`).
    pub fn set_license_required(&mut self, required: bool) {
        self.license_required = required;
    }

    /// Where `order`'s buyer license stands on `today`: the register's facts and the
    /// releases among its counted events.
    pub fn license_standing(
        &self,
        order: &Order,
        today: NaiveDate,
    ) -> Result<Standing, StoreError> {
        let facts = Facts {
            register_loaded: self.register_loaded()?,
            required: self.license_required,
            entry: match order.buyer_license.as_deref() {
                Some(l) if !l.trim().is_empty() => self.license_entry(l)?,
                _ => None,
            },
        };
        if !facts.register_loaded && !facts.required {
            return Ok(Standing::NotChecked);
        }
        let events = counted(self.events_for_order(&order.number)?);
        let release = license::release_of(&events, order.buyer_license.as_deref());
        Ok(license::standing(
            order.buyer_license.as_deref(),
            &facts,
            release,
            today,
        ))
    }

    /// `Ok` unless `order` is on license hold; then one `license_refused` event is
    /// recorded for `stage` and the refusal says why and what to do.
    pub fn refuse_if_license_held(
        &mut self,
        order: &Order,
        stage: Stage,
        today: NaiveDate,
    ) -> Result<(), StoreError> {
        let standing = self.license_standing(order, today)?;
        let Some(why) = standing
            .holds()
            .then(|| standing.sentence(&order.number))
            .flatten()
        else {
            return Ok(());
        };
        self.append(
            &order.number,
            EventKind::LicenseRefused {
                stage,
                why: why.clone(),
            },
        )?;
        Err(StoreError::LicenseHold(format!(
            "{why}; it cannot be {}",
            match stage {
                Stage::Pick => "picked",
                Stage::Load => "loaded",
                Stage::Deliver => "delivered",
            }
        )))
    }
}
