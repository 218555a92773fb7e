//! People, their roles and PINs. A PIN is kept only as a salted, stretched SHA-256;
//! wrong PINs are counted per person, and too many lock that person out for a while.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, classify, now};
use crate::domain::people::{Role, check_pin};

/// Rounds of SHA-256 over salt and PIN. A PIN has little entropy whatever the hash;
/// the lockout is what protects it. The rounds only make a stolen table slower to try.
const ROUNDS: u32 = 20_000;

/// A person as lists show them (never the PIN hash).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    pub name: String,
    pub role: Role,
    pub locked_until: Option<String>,
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInError {
    #[error("no one called {0:?} may sign in here")]
    Unknown(String),
    #[error("wrong PIN: {left} more wrong PIN(s) lock {name} out")]
    WrongPin { name: String, left: u32 },
    #[error(
        "{name} is locked out until {until} after too many wrong PINs; a supervisor can reset the PIN"
    )]
    Locked { name: String, until: String },
}

/// The lockout rule.
#[derive(Clone, Copy, Debug)]
pub struct Lockout {
    pub max_failures: u32,
    pub duration: Duration,
}

fn hash_pin(salt: &[u8], pin: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(pin.as_bytes());
    let mut digest = h.finalize();
    for _ in 1..ROUNDS {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(digest);
        digest = h.finalize();
    }
    hex(&digest)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn new_salt() -> Vec<u8> {
    use std::io::Read;
    let mut salt = vec![0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .is_err()
    {
        let t = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        salt[..8].copy_from_slice(&t.to_le_bytes());
        salt[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    salt
}

fn stored(salt: &[u8], pin: &str) -> String {
    format!("sha256x{ROUNDS}${}${}", hex(salt), hash_pin(salt, pin))
}

/// Does `pin` match a stored `sha256x<rounds>$salt$hash`?
fn matches(stored_hash: &str, pin: &str) -> bool {
    let mut parts = stored_hash.split('$');
    let (Some(kind), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if kind != format!("sha256x{ROUNDS}") {
        return false;
    }
    let Some(salt) = (0..salt.len())
        .step_by(2)
        .map(|i| {
            salt.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    // Compare all of it, whatever differs first.
    let got = hash_pin(&salt, pin);
    got.len() == hash.len()
        && got
            .bytes()
            .zip(hash.bytes())
            .fold(0, |a, (x, y)| a | (x ^ y))
            == 0
}

/// A person as the hub hands them to its devices, so a device checks PINs offline:
/// the PIN only as its salted, stretched hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PersonRecord {
    pub name: String,
    pub role: Role,
    pub pin_hash: String,
    #[serde(default)]
    pub disabled: bool,
}

impl Store {
    /// Everyone on this database, with PIN hashes, for the hub's snapshot.
    pub fn person_records(&self) -> Result<Vec<PersonRecord>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT name, role, pin_hash, disabled_at IS NOT NULL FROM people ORDER BY name",
            )
            .map_err(&err)?;
        let rows: Vec<(String, String, String, bool)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(|(name, role, pin_hash, disabled)| {
                Ok(PersonRecord {
                    role: role.parse().map_err(|m| StoreError::Corrupt {
                        path: self.path.clone(),
                        message: format!("person {name}: {m}"),
                    })?,
                    name,
                    pin_hash,
                    disabled,
                })
            })
            .collect()
    }

    /// Take the hub's people: when the hub has any, its list is the truth (people it
    /// does not list are disabled here). Wrong-PIN counts stay local and are cleared
    /// only when the PIN changed. Returns how many rows changed.
    pub fn apply_hub_people(&mut self, people: &[PersonRecord]) -> Result<usize, StoreError> {
        if people.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let at = now();
        let tx = self.write_tx()?;
        let mut changed = 0;
        for p in people {
            changed += tx
                .execute(
                    "INSERT INTO people (name, role, pin_hash, disabled_at, created_at)
                     VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?5 END, ?5)
                     ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                        failed = CASE WHEN pin_hash = excluded.pin_hash THEN failed ELSE 0 END,
                        locked_until = CASE WHEN pin_hash = excluded.pin_hash
                            THEN locked_until END,
                        pin_hash = excluded.pin_hash,
                        disabled_at = CASE WHEN ?4 THEN coalesce(disabled_at, ?5) END
                     WHERE role IS NOT excluded.role OR pin_hash IS NOT excluded.pin_hash
                        OR (disabled_at IS NULL) = ?4",
                    params![p.name, p.role.word(), p.pin_hash, p.disabled, at],
                )
                .map_err(err)?;
        }
        let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
        changed += tx
            .execute(
                "UPDATE people SET disabled_at = ?2 WHERE disabled_at IS NULL
                 AND name NOT IN (SELECT value FROM json_each(?1))",
                params![
                    serde_json::to_string(&names).expect("strings serialise"),
                    at
                ],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(changed)
    }

    /// Add a person, or give an existing one a new role and PIN (which also unlocks).
    pub fn set_person(&mut self, name: &str, role: Role, pin: &str) -> Result<(), StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("a person needs a name".into()));
        }
        check_pin(pin).map_err(StoreError::Invalid)?;
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO people (name, role, pin_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                pin_hash = excluded.pin_hash, failed = 0, locked_until = NULL,
                disabled_at = NULL",
            params![name, role.word(), stored(&new_salt(), pin), now()],
        )
        .map_err(err)?;
        // The role from now on, if it is a new one.
        let latest: Option<String> = tx
            .query_row(
                "SELECT role FROM role_history WHERE name = ?1 ORDER BY since DESC LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if latest.as_deref() != Some(role.word()) {
            tx.execute(
                "INSERT OR REPLACE INTO role_history (name, role, since) VALUES (?1, ?2, ?3)",
                params![name, role.word(), now()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Everyone who may sign in, by name.
    pub fn people(&self) -> Result<Vec<Person>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare("SELECT name, role, locked_until FROM people WHERE disabled_at IS NULL ORDER BY name")
            .map_err(&err)?;
        let rows: Vec<(String, String, Option<String>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(|(name, role, locked_until)| {
                let role = role.parse().map_err(|m| StoreError::Corrupt {
                    path: self.path.clone(),
                    message: format!("person {name}: {m}"),
                })?;
                Ok(Person {
                    name,
                    role,
                    locked_until,
                })
            })
            .collect()
    }

    /// Check a PIN at time `at`. A right PIN clears the count of wrong ones; a wrong
    /// one counts, and the last allowed one locks the person out for `rule.duration`.
    /// The count is written durably either way.
    pub fn sign_in(
        &mut self,
        name: &str,
        pin: &str,
        at: DateTime<Utc>,
        rule: Lockout,
    ) -> Result<Result<Person, SignInError>, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let row: Option<(String, String, i64, Option<String>)> = tx
            .query_row(
                "SELECT role, pin_hash, failed, locked_until FROM people
                 WHERE name = ?1 AND disabled_at IS NULL",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((role, hash, failed, locked_until)) = row else {
            return Ok(Err(SignInError::Unknown(name.to_string())));
        };
        if let Some(until) = &locked_until
            && DateTime::parse_from_rfc3339(until).is_ok_and(|u| u > at)
        {
            return Ok(Err(SignInError::Locked {
                name: name.into(),
                until: until.clone(),
            }));
        }
        let outcome = if matches(&hash, pin) {
            tx.execute(
                "UPDATE people SET failed = 0, locked_until = NULL WHERE name = ?1",
                [name],
            )
            .map_err(err)?;
            let role = role.parse().map_err(|m| StoreError::Corrupt {
                path: path.clone(),
                message: format!("person {name}: {m}"),
            })?;
            Ok(Person {
                name: name.into(),
                role,
                locked_until: None,
            })
        } else {
            // A lock that has run out starts the count afresh.
            let failed = if locked_until.is_some() {
                1
            } else {
                failed + 1
            } as u32;
            if failed >= rule.max_failures {
                let until = (at + rule.duration).to_rfc3339_opts(SecondsFormat::Secs, true);
                tx.execute(
                    "UPDATE people SET failed = ?2, locked_until = ?3 WHERE name = ?1",
                    params![name, failed, until],
                )
                .map_err(err)?;
                Err(SignInError::Locked {
                    name: name.into(),
                    until,
                })
            } else {
                tx.execute(
                    "UPDATE people SET failed = ?2, locked_until = NULL WHERE name = ?1",
                    params![name, failed],
                )
                .map_err(err)?;
                Err(SignInError::WrongPin {
                    name: name.into(),
                    left: rule.max_failures - failed,
                })
            }
        };
        tx.commit().map_err(err)?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("p.db"), std::time::Duration::from_secs(1)).unwrap();
        (dir, s)
    }

    const RULE: Lockout = Lockout {
        max_failures: 5,
        duration: Duration::minutes(15),
    };

    #[test]
    fn five_wrong_pins_lock_a_person_out_for_a_while() {
        let (_d, mut s) = store();
        s.set_person("Ana", Role::Picker, "2468").unwrap();
        let t0: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        assert_eq!(
            s.sign_in("Ana", "2468", t0, RULE).unwrap().unwrap().role,
            Role::Picker
        );
        for left in (1..=4).rev() {
            assert_eq!(
                s.sign_in("Ana", "0000", t0, RULE).unwrap(),
                Err(SignInError::WrongPin {
                    name: "Ana".into(),
                    left
                })
            );
        }
        let locked = s.sign_in("Ana", "0000", t0, RULE).unwrap().unwrap_err();
        assert!(matches!(locked, SignInError::Locked { .. }), "{locked}");
        // Locked: even the right PIN is refused until the time has passed.
        let t1 = t0 + Duration::minutes(14);
        assert!(matches!(
            s.sign_in("Ana", "2468", t1, RULE).unwrap(),
            Err(SignInError::Locked { .. })
        ));
        let t2 = t0 + Duration::minutes(16);
        assert!(s.sign_in("Ana", "2468", t2, RULE).unwrap().is_ok());
        assert_eq!(
            s.sign_in("Bo", "2468", t2, RULE).unwrap(),
            Err(SignInError::Unknown("Bo".into()))
        );
    }

    #[test]
    fn a_right_pin_resets_the_count_and_the_pin_is_not_stored() {
        let (_d, mut s) = store();
        s.set_person("Ana", Role::Supervisor, "13579").unwrap();
        let t: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        for _ in 0..4 {
            assert!(s.sign_in("Ana", "1111", t, RULE).unwrap().is_err());
        }
        assert!(s.sign_in("Ana", "13579", t, RULE).unwrap().is_ok());
        assert!(matches!(
            s.sign_in("Ana", "1111", t, RULE).unwrap(),
            Err(SignInError::WrongPin { left: 4, .. })
        ));
        let hash: String = s
            .conn
            .query_row("SELECT pin_hash FROM people", [], |r| r.get(0))
            .unwrap();
        assert!(!hash.contains("13579") && hash.starts_with("sha256x"));
        assert!(s.set_person("Bo", Role::Picker, "12").is_err());
        assert!(s.set_person(" ", Role::Picker, "1234").is_err());
        assert_eq!(s.people().unwrap().len(), 1);
    }
}

#[cfg(test)]
mod hub_people_tests {
    use super::*;
    use std::time::Duration as StdDuration;

    fn open(dir: &tempfile::TempDir, name: &str) -> Store {
        Store::open(&dir.path().join(name), StdDuration::from_secs(1)).unwrap()
    }

    #[test]
    fn devices_take_the_hubs_people_and_check_pins_offline() {
        let dir = tempfile::tempdir().unwrap();
        let mut hub = open(&dir, "hub.db");
        let mut dev = open(&dir, "dev.db");
        hub.set_person("Ana", Role::Supervisor, "2468").unwrap();
        hub.set_person("Bo", Role::Picker, "1357").unwrap();
        dev.set_person("Local", Role::Picker, "1111").unwrap();
        let rule = Lockout {
            max_failures: 2,
            duration: Duration::minutes(5),
        };
        let t0 = Utc::now();
        assert_eq!(
            dev.apply_hub_people(&[]).unwrap(),
            0,
            "a hub without people changes nothing"
        );
        dev.apply_hub_people(&hub.person_records().unwrap())
            .unwrap();
        let names: Vec<String> = dev.people().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Ana", "Bo"], "the hub's list is the truth");
        assert!(dev.sign_in("Ana", "2468", t0, rule).unwrap().is_ok());
        // A wrong PIN counts locally and survives a re-sync of the same PIN.
        assert!(dev.sign_in("Bo", "0000", t0, rule).unwrap().is_err());
        assert_eq!(
            dev.apply_hub_people(&hub.person_records().unwrap())
                .unwrap(),
            0
        );
        let locked = dev.sign_in("Bo", "0000", t0, rule).unwrap();
        assert!(
            matches!(locked, Err(SignInError::Locked { .. })),
            "{locked:?}"
        );
        // A new PIN on the hub lifts the lock on the device at the next sync.
        hub.set_person("Bo", Role::Loader, "9753").unwrap();
        dev.apply_hub_people(&hub.person_records().unwrap())
            .unwrap();
        let bo = dev.sign_in("Bo", "9753", t0, rule).unwrap().unwrap();
        assert_eq!(bo.role, Role::Loader);
    }
}
