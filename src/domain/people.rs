//! People on the floor and at the desk: their roles, what each may do, and what a
//! PIN must look like.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::event::EventKind;

/// What a person may do. A supervisor may also do everything the others may. A
/// coordinator works at the desk (import, allocate, release holds, post to Metrc,
/// manage devices and people) and does nothing on the floor: no pick, load or
/// hand-over counts for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Picker,
    Loader,
    Driver,
    Supervisor,
    Coordinator,
}

/// Every role, in the order lists show them.
pub const ROLES: [Role; 5] = [
    Role::Picker,
    Role::Loader,
    Role::Driver,
    Role::Supervisor,
    Role::Coordinator,
];

/// What a person does at the coordinator's desk that changes something. Anyone
/// signed in may look; only [`Role::may`] says who may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskAction {
    /// Import orders or packages from a file.
    Import,
    /// Allocate packages to an order's lines.
    Allocate,
    /// Release an order from a hold (the buyer's license).
    ReleaseHold,
    /// Post a transfer template to Metrc.
    PostToMetrc,
    /// Enrol or revoke devices.
    ManageDevices,
    /// Add people, change roles and PINs.
    ManagePeople,
}

impl DeskAction {
    /// What it is, in words for a refusal ("release a hold").
    pub fn words(self) -> &'static str {
        match self {
            DeskAction::Import => "import orders",
            DeskAction::Allocate => "allocate packages",
            DeskAction::ReleaseHold => "release a hold",
            DeskAction::PostToMetrc => "post to Metrc",
            DeskAction::ManageDevices => "manage devices",
            DeskAction::ManagePeople => "manage people",
        }
    }
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Picker => "picker",
            Role::Loader => "loader",
            Role::Driver => "driver",
            Role::Supervisor => "supervisor",
            Role::Coordinator => "coordinator",
        }
    }

    /// True if a person of this role may act as `needed` on the floor. A
    /// coordinator's role is the desk's: it allows nothing here but itself.
    pub fn allows(self, needed: Role) -> bool {
        self == needed || self == Role::Supervisor
    }

    /// True if a person of this role may do `action` at the desk: a coordinator or
    /// a supervisor; everyone else only looks.
    pub fn may(self, action: DeskAction) -> bool {
        // Every action listed, so a new one is a decision here.
        match action {
            DeskAction::Import
            | DeskAction::Allocate
            | DeskAction::ReleaseHold
            | DeskAction::PostToMetrc
            | DeskAction::ManageDevices
            | DeskAction::ManagePeople => self.allows(Role::Coordinator),
        }
    }

    /// The role an event needs: picks and shorts a picker, the dock a loader, the
    /// hand-over a driver; undoing a pick and taking a package off the shipment a
    /// supervisor, as ruling on a held event does; releasing a license hold a
    /// coordinator (or a supervisor). The hub checks every pushed event with it.
    pub fn needed_for(kind: &EventKind) -> Role {
        match kind {
            EventKind::Scan { .. } | EventKind::Short { .. } => Role::Picker,
            EventKind::Undo { .. }
            | EventKind::Remove { .. }
            | EventKind::Hold { .. }
            | EventKind::Ruling { .. } => Role::Supervisor,
            // A hold of the buyer's license is the desk's to release.
            EventKind::LicenseRelease { .. } => Role::Coordinator,
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
            "coordinator" => Role::Coordinator,
            other => {
                return Err(format!(
                    "unknown role {other:?}: use picker, loader, driver, supervisor or coordinator"
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
        for r in ROLES {
            assert_eq!(r.word().parse::<Role>(), Ok(r));
        }
    }

    #[test]
    fn a_coordinator_acts_at_the_desk_and_not_on_the_floor() {
        let all = [
            DeskAction::Import,
            DeskAction::Allocate,
            DeskAction::ReleaseHold,
            DeskAction::PostToMetrc,
            DeskAction::ManageDevices,
            DeskAction::ManagePeople,
        ];
        for a in all {
            assert!(Role::Coordinator.may(a) && Role::Supervisor.may(a), "{a:?}");
            for r in [Role::Picker, Role::Loader, Role::Driver] {
                assert!(!r.may(a), "{r} {a:?}");
            }
        }
        for floor in [Role::Picker, Role::Loader, Role::Driver, Role::Supervisor] {
            assert!(!Role::Coordinator.allows(floor), "{floor}");
        }
        assert!(Role::Supervisor.allows(Role::Coordinator));
        for ok in ["1234", "00000000"] {
            assert!(check_pin(ok).is_ok(), "{ok}");
        }
        for bad in ["123", "123456789", "12a4", "", "１２３４"] {
            assert!(check_pin(bad).is_err(), "{bad}");
        }
    }
}
