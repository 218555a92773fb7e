//! The state's license register as last imported, and each order's license standing
//! from it and the order's events (`domain::license`). An import replaces the whole
//! register in one transaction: the state publishes the whole list.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use tracing::instrument;

use super::{Store, StoreError, classify, now};
use crate::domain::license::{self, Entry, Facts, RegisterFacts, RegisterRow, Standing};
use crate::domain::{EventKind, Order, Stage, counted};

/// The `meta` key set by each register import (its time).
const IMPORTED_AT: &str = "licenses_imported_at";
/// On a device: the register facts last taken from the hub, as JSON.
const FROM_HUB: &str = "licenses_from_hub";

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
            platform_inactive: order.buyer_license_inactive,
        };
        if !facts.register_loaded && !facts.required && !facts.platform_inactive {
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

    /// `Ok` unless `order` is on license hold; then the refusal says why and what to
    /// do, and a `license_refused` event is recorded for `stage`: one per run of the
    /// same refusal (when this device's last event on the order is that same
    /// refusal, nothing new is recorded), so a station whose every scan tries to open
    /// the held order, or a command run again, does not fill the log.
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
        let kind = EventKind::LicenseRefused {
            stage,
            why: why.clone(),
        };
        let last: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT kind, detail FROM events WHERE order_number = ?1 AND device = ?2
                 ORDER BY seq DESC LIMIT 1",
                [&order.number, &self.device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        let again = last.is_some_and(|(k, detail)| {
            k == kind.word()
                && detail
                    .and_then(|d| serde_json::from_str::<EventKind>(&d).ok())
                    .is_some_and(|d| d == kind)
        });
        if !again {
            self.append(&order.number, kind)?;
        }
        Err(StoreError::LicenseHold(format!(
            "{why}; it cannot be {}",
            match stage {
                Stage::Pick => "picked",
                Stage::Load => "loaded",
                Stage::Deliver => "delivered",
            }
        )))
    }

    /// The hub: the register facts devices need, for the buyer licenses of `orders`
    /// (`None` while the hub has no register).
    pub fn register_facts_for(
        &self,
        orders: &[Order],
    ) -> Result<Option<RegisterFacts>, StoreError> {
        let Some(imported_at) = self.meta(IMPORTED_AT)? else {
            return Ok(None);
        };
        let mut entries = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for o in orders {
            let Some(l) = o.buyer_license.as_deref().filter(|l| !l.trim().is_empty()) else {
                continue;
            };
            if seen.insert(license::normalise(l))
                && let Some(e) = self.license_entry(l)?
            {
                entries.push(e);
            }
        }
        entries.sort_by(|a, b| a.number.cmp(&b.number));
        Ok(Some(RegisterFacts {
            imported_at,
            entries,
        }))
    }

    /// A device: take the hub's register facts as the register here (replacing it),
    /// unless they are what was taken last time (no write, no wake-up of a session).
    pub fn apply_hub_register(&mut self, facts: &RegisterFacts) -> Result<bool, StoreError> {
        let json = serde_json::to_string(facts).expect("register facts serialise");
        if self.meta(FROM_HUB)?.as_deref() == Some(json.as_str()) {
            return Ok(false);
        }
        let rows: Vec<RegisterRow> = facts
            .entries
            .iter()
            .map(|e| RegisterRow {
                row: 0,
                entry: e.clone(),
            })
            .collect();
        self.import_licenses(&rows, "hub")?;
        self.set_meta(&[(IMPORTED_AT, &facts.imported_at), (FROM_HUB, &json)])?;
        Ok(true)
    }
}
