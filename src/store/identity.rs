//! Who this database is: its device id, fixed when the database is made, and which
//! hub it syncs with.
//!
//! - A configured `[device] id` is written into the database once, while it has
//!   recorded nothing and joined no hub; afterwards a different configured id is
//!   refused (its events carry the first id: using another would orphan them).
//! - Joining a hub tells the device the last sequence number the hub holds for it
//!   (`seq_floor`): a reinstalled device continues after it, never reusing one.
//! - A hub has an instance id; a device that meets another instance at its hub's
//!   address (a hub restored from a backup, a new hub) forgets its cursors and the
//!   acknowledgements of the old one, so it pulls everything again and pushes again
//!   what the new one may lack (idempotent).

use rusqlite::OptionalExtension;

use super::{Store, StoreError, classify};

const META_DEVICE: &str = "device_id";
const META_SEQ_FLOOR: &str = "seq_floor";
const META_RESTORE_OWN: &str = "restore_own_events";
const META_HUB_INSTANCE: &str = "hub_instance";
/// The hub's own instance id, in the hub's database.
const META_INSTANCE: &str = "instance_id";

/// What a device knows of one hub's log: forgotten when another hub answers.
const FORGET_HUB: &str = "DELETE FROM sync_cursors;
     DELETE FROM event_acks;
     DELETE FROM meta WHERE key = 'hub_packages_cursor';";

impl Store {
    /// Use the configured device id: adopted if this database has recorded nothing
    /// and joined no hub, accepted if it is the database's own, refused otherwise.
    pub fn claim_device_id(&mut self, id: &str) -> Result<(), StoreError> {
        let id = id.trim();
        if id.is_empty() || id == self.device {
            return Ok(());
        }
        if id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(StoreError::Invalid(format!(
                "device id {id:?}: use 1 to 64 letters, digits, '.', '_' or '-' ([device] id)"
            )));
        }
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let current = self.device.clone();
        let tx = self.write_tx()?;
        let recorded: i64 = tx
            .query_row(
                "SELECT count(*) FROM events WHERE device = ?1",
                [&current],
                |r| r.get(0),
            )
            .map_err(err)?;
        let joined: bool = tx
            .query_row("SELECT 1 FROM meta WHERE key = 'hub_url'", [], |_| Ok(true))
            .optional()
            .map_err(err)?
            .unwrap_or(false);
        if recorded > 0 || joined {
            return Err(StoreError::DeviceIdMismatch {
                path,
                stored: current,
                configured: id.to_string(),
                recorded,
            });
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            [id, META_DEVICE],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        self.device = id.to_string();
        Ok(())
    }

    /// The last sequence number the hub holds for this device (0: none).
    pub fn seq_floor(&self) -> Result<i64, StoreError> {
        Ok(self
            .meta(META_SEQ_FLOOR)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Record what the hub said it holds of this device at join: new events are
    /// numbered after it.
    pub fn raise_seq_floor(&mut self, last_seq: i64) -> Result<(), StoreError> {
        if last_seq > self.seq_floor()? {
            // Until the next full pull, the feed brings this device's own events too.
            self.set_meta(&[
                (META_SEQ_FLOOR, &last_seq.to_string()),
                (META_RESTORE_OWN, "1"),
            ])?;
        }
        Ok(())
    }

    /// A full pull brought this device's own earlier events back.
    pub fn own_events_restored(&mut self) -> Result<(), StoreError> {
        self.set_meta(&[(META_RESTORE_OWN, "0")])
    }

    /// The device: the hub holds fewer events of an order than this device has read
    /// from it (it was restored from a backup): forget its cursors and
    /// acknowledgements, as for a new hub.
    pub fn forget_hub(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        tx.execute_batch(FORGET_HUB)
            .map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))
    }

    /// The device: the highest sequence number of its own the hub acknowledged.
    pub fn last_acked_seq(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(seq), 0) FROM event_acks WHERE device = ?1",
                [&self.device],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The hub: the last sequence number it holds of `device` (0: none).
    pub fn last_seq_of(&self, device: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(seq), 0) FROM events WHERE device = ?1",
                [device],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The device: whether it joined a hub holding events of its own it lacks (it was
    /// reinstalled), and has not pulled them back yet.
    pub fn lacks_own_events(&self) -> Result<bool, StoreError> {
        Ok(self.meta(META_RESTORE_OWN)?.as_deref() == Some("1"))
    }

    /// The hub: its instance id, made once when first asked for.
    pub fn instance_id(&mut self) -> Result<String, StoreError> {
        if let Some(id) = self.meta(META_INSTANCE)? {
            return Ok(id);
        }
        let id = super::devices::new_token().replace("tt_", "hub_");
        let path = self.path.clone();
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            [META_INSTANCE, &id],
        )
        .map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(self.meta(META_INSTANCE)?.unwrap_or(id))
    }

    /// The device: the hub answered as `instance`. The first time it is remembered;
    /// if it is another instance than before, the cursors and acknowledgements of
    /// the old one are forgotten (in one transaction) and `true` is returned.
    pub fn meet_hub(&mut self, instance: &str) -> Result<bool, StoreError> {
        if instance.is_empty() {
            return Ok(false);
        }
        let known = self.meta(META_HUB_INSTANCE)?;
        if known.as_deref() == Some(instance) {
            return Ok(false);
        }
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        if known.is_some() {
            tx.execute_batch(FORGET_HUB).map_err(err)?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [META_HUB_INSTANCE, instance],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(known.is_some())
    }
}
