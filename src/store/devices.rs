//! The hub's enrolled devices, their tokens kept only hashed, and its security log,
//! written once per cause.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use tracing::instrument;

use super::{Store, StoreError, classify, now};

/// An enrolled device, as the hub knows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeviceRecord {
    pub name: String,
    /// The id its events carry; `None` until it joins.
    pub device_id: Option<String>,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
}

impl DeviceRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Why a device could not be bound to its token.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no device named {0:?} is enrolled (`tagtally hub devices` lists them)")]
    Unknown(String),
    #[error("a device named {0:?} is already enrolled; revoke it or choose another name")]
    Exists(String),
    #[error("device {name:?} already joined as {bound}; enrol a new device for a second database")]
    AlreadyBound { name: String, bound: String },
    #[error("device id {0} is already joined under another name")]
    IdTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The hex SHA-256 of a token: all the hub keeps of it.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.trim().as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random device token (32 bytes from the OS, hex).
pub fn new_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tt_{hex}")
}

impl Store {
    /// Enrol a device under `name`; returns its token, shown once and kept only hashed.
    #[instrument(skip_all, err(level = "debug"), fields(name))]
    pub fn enroll_device(&mut self, name: &str) -> Result<String, DeviceError> {
        let token = new_token();
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM hub_devices WHERE name = ?1", [name], |_| {
                Ok(true)
            })
            .optional()
            .map_err(err)?
            .unwrap_or(false);
        if exists {
            return Err(DeviceError::Exists(name.into()));
        }
        tx.execute(
            "INSERT INTO hub_devices (name, token_hash, enrolled_at) VALUES (?1, ?2, ?3)",
            params![name, token_hash(&token), now()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(token)
    }

    /// Revoke a device: its token is refused from the next request on.
    pub fn revoke_device(&mut self, name: &str) -> Result<(), DeviceError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let n = tx
            .execute(
                "UPDATE hub_devices SET revoked_at = coalesce(revoked_at, ?2) WHERE name = ?1",
                params![name, now()],
            )
            .map_err(err)?;
        if n == 0 {
            return Err(DeviceError::Unknown(name.into()));
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    pub fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT name, device_id, enrolled_at, revoked_at FROM hub_devices ORDER BY name",
            )
            .map_err(&err)?;
        st.query_map([], device_row)
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// The device holding `token`, revoked or not.
    pub fn device_by_token(&self, token: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT name, device_id, enrolled_at, revoked_at FROM hub_devices
                 WHERE token_hash = ?1",
            )
            .map_err(self.err())?
            .query_row([token_hash(token)], device_row)
            .optional()
            .map_err(self.err())
    }

    /// Bind an enrolled device to the id its events carry (idempotent).
    pub fn bind_device(&mut self, name: &str, device_id: &str) -> Result<(), DeviceError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let own = self.device.clone();
        let tx = self.write_tx()?;
        let bound: Option<Option<String>> = tx
            .query_row(
                "SELECT device_id FROM hub_devices WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match bound {
            None => return Err(DeviceError::Unknown(name.into())),
            Some(Some(b)) if b == device_id => return Ok(()),
            Some(Some(b)) => {
                return Err(DeviceError::AlreadyBound {
                    name: name.into(),
                    bound: b,
                });
            }
            Some(None) => {}
        }
        let taken: bool = tx
            .query_row(
                "SELECT 1 FROM hub_devices WHERE device_id = ?1",
                [device_id],
                |_| Ok(true),
            )
            .optional()
            .map_err(err)?
            .unwrap_or(false);
        // The hub's own id is taken too: its holds and rulings carry it.
        if taken || device_id == own {
            return Err(DeviceError::IdTaken(device_id.into()));
        }
        tx.execute(
            "UPDATE hub_devices SET device_id = ?2 WHERE name = ?1",
            params![name, device_id],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Record a security event once per cause (device, kind, detail): a retried
    /// refusal finds its row and writes none (its own transaction, committed before
    /// returning; inside a group, part of the group's transaction).
    pub fn log_security(
        &mut self,
        device: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        if self.in_group() {
            // Part of the group's transaction: durable with it.
            return log_security_in(&self.conn, device, kind, detail).map_err(err);
        }
        let tx = self.write_tx()?;
        log_security_in(&tx, device, kind, detail).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The security log, oldest first: (at, device, kind, detail).
    pub fn security_log(&self) -> Result<Vec<SecurityEntry>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare("SELECT at, device, kind, detail FROM security_log ORDER BY id")
            .map_err(&err)?;
        st.query_map([], |r| {
            Ok(SecurityEntry {
                at: r.get(0)?,
                device: r.get(1)?,
                kind: r.get(2)?,
                detail: r.get(3)?,
            })
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)
    }
}

/// A security log row inside the caller's transaction (kept with the push), unless
/// the log already holds this cause.
pub(super) fn log_security_in(
    conn: &rusqlite::Connection,
    device: Option<&str>,
    kind: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    let known: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM security_log
             WHERE kind = ?1 AND device IS ?2 AND detail = ?3)",
        )?
        .query_row(params![kind, device, detail], |r| r.get(0))?;
    if known {
        return Ok(());
    }
    tracing::warn!(target: "tagtally::security", device, kind, detail, "security event");
    conn.prepare_cached(
        "INSERT INTO security_log (at, device, kind, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![now(), device, kind, detail])?;
    Ok(())
}

/// One line of the hub's security log.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SecurityEntry {
    pub at: String,
    pub device: Option<String>,
    pub kind: String,
    pub detail: String,
}

fn device_row(r: &rusqlite::Row) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        name: r.get(0)?,
        device_id: r.get(1)?,
        enrolled_at: r.get(2)?,
        revoked_at: r.get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sync::test_support::store;

    #[test]
    fn tokens_are_kept_hashed_and_revocable() {
        let (_d, mut s) = store();
        let token = s.enroll_device("vault-1").unwrap();
        assert!(matches!(
            s.enroll_device("vault-1"),
            Err(DeviceError::Exists(_))
        ));
        let d = s.device_by_token(&token).unwrap().unwrap();
        assert_eq!((d.name.as_str(), d.is_revoked()), ("vault-1", false));
        assert!(s.device_by_token("tt_forged").unwrap().is_none());
        s.bind_device("vault-1", "dev-1").unwrap();
        s.bind_device("vault-1", "dev-1").unwrap();
        assert!(s.bind_device("vault-1", "dev-2").is_err());
        s.revoke_device("vault-1").unwrap();
        assert!(s.device_by_token(&token).unwrap().unwrap().is_revoked());
        assert!(s.revoke_device("nope").is_err());
    }

    #[test]
    fn a_device_may_not_take_the_hubs_own_id() {
        // The hub's holds and rulings carry its own id: a device bound to it could
        // pass for the hub.
        let (_d, mut s) = store();
        s.enroll_device("vault-1").unwrap();
        let own = s.device_id().to_string();
        assert!(matches!(
            s.bind_device("vault-1", &own),
            Err(DeviceError::IdTaken(id)) if id == own
        ));
        s.bind_device("vault-1", "dev-1").unwrap();
    }
}
