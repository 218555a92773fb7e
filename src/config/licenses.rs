//! `[licenses]`: how the state's license register file reads, and whether the check
//! applies before one is imported. See docs/licenses.md.

use serde::{Deserialize, Serialize};

use crate::import::licenses::Columns;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LicenseSettings {
    /// A known state's published list (`ny-ocm`); when set, its columns and active
    /// statuses are used instead of the four settings below. Empty: those settings.
    pub preset: String,
    /// The column holding the license number.
    pub number_column: String,
    /// The column holding the license's status.
    pub status_column: String,
    /// The column holding the expiration date (empty: the file has none).
    pub expiry_column: String,
    /// Statuses meaning "in good standing" (compared without case).
    pub active_statuses: Vec<String>,
    /// Hold orders whose license cannot be checked even before a register is
    /// imported. Off: the check applies once a register has been imported.
    pub require: bool,
}

impl Default for LicenseSettings {
    fn default() -> Self {
        LicenseSettings {
            preset: String::new(),
            number_column: "license_number".into(),
            status_column: "status".into(),
            expiry_column: "expiration_date".into(),
            active_statuses: vec!["Active".into()],
            require: false,
        }
    }
}

/// The presets: name, what it is, its columns.
pub const PRESETS: &[(&str, &str)] = &[(
    "ny-ocm",
    "New York OCM, Current OCM Licenses (data.ny.gov dataset jskf-tt3q, CSV)",
)];

impl LicenseSettings {
    /// The columns to read, from `preset` (the argument, else the setting) or the
    /// column settings.
    pub fn columns(&self, preset: Option<&str>) -> Result<Columns, String> {
        let preset = preset.unwrap_or(&self.preset).trim();
        match preset.to_ascii_lowercase().as_str() {
            "" => Ok(Columns {
                number: self.number_column.clone(),
                status: self.status_column.clone(),
                expiry: Some(self.expiry_column.clone()).filter(|c| !c.trim().is_empty()),
                active: self.active_statuses.clone(),
            }),
            "ny-ocm" => Ok(Columns {
                number: "license_number".into(),
                status: "license_status".into(),
                expiry: Some("expiration_date".into()),
                active: vec!["Active".into()],
            }),
            other => Err(format!(
                "no license register preset {other:?}; known: {}",
                PRESETS
                    .iter()
                    .map(|(n, what)| format!("{n} ({what})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
