//! People on the floor: their roles, and what a PIN must look like.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::event::EventKind;

/// What a person may do. A supervisor may also do everything the others may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Picker,
    Loader,
    Driver,
    Supervisor,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Picker => "picker",
            Role::Loader => "loader",
            Role::Driver => "driver",
            Role::Supervisor => "supervisor",
        }
    }

    /// True if a person of this role may act as `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == needed || self == Role::Supervisor
    }

    /// The role an event needs: picks and shorts a picker, the dock a loader, the
    /// hand-over a driver; undoing a pick and taking a package off the shipment a
    /// supervisor, as ruling on a held event does. The hub checks every pushed event with it.
    pub fn needed_for(kind: &EventKind) -> Role {
        match kind {
            EventKind::Scan { .. } | EventKind::Short { .. } => Role::Picker,
            EventKind::Undo { .. }
            | EventKind::Remove { .. }
            | EventKind::Hold { .. }
            | EventKind::Ruling { .. }
            | EventKind::LicenseRelease { .. } => Role::Supervisor,
            EventKind::LicenseRefused { stage, .. } => match stage {
                super::event::Stage::Pick => Role::Picker,
                super::event::Stage::Load => Role::Loader,
                super::event::Stage::Deliver => Role::Driver,
            },
            EventKind::LoadScan { .. } | EventKind::LoadConfirm(_) => Role::Loader,
            EventKind::DeliverScan { .. }
            | EventKind::Decision { .. }
            | EventKind::DeliverFinish { .. } => Role::Driver,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "picker" => Role::Picker,
            "loader" => Role::Loader,
            "driver" => Role::Driver,
            "supervisor" => Role::Supervisor,
            other => {
                return Err(format!(
                    "unknown role {other:?}: use picker, loader, driver or supervisor"
                ));
            }
        })
    }
}

/// A PIN is 4 to 8 digits, typed on the big keypad.
pub fn check_pin(pin: &str) -> Result<(), String> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("a PIN is 4 to 8 digits".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_pins() {
        assert_eq!("Supervisor".parse::<Role>(), Ok(Role::Supervisor));
        assert!("boss".parse::<Role>().is_err());
        assert!(Role::Supervisor.allows(Role::Picker));
        assert!(!Role::Picker.allows(Role::Supervisor));
        assert!(Role::Driver.allows(Role::Driver));
        for ok in ["1234", "00000000"] {
            assert!(check_pin(ok).is_ok(), "{ok}");
        }
        for bad in ["123", "123456789", "12a4", "", "１２３４"] {
            assert!(check_pin(bad).is_err(), "{bad}");
        }
    }
}
