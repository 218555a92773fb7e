//! Driver and vehicle of a load (placeholder; the full version with checks lands from
//! the export branch).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub name: String,
    pub occupational_license: String,
    pub drivers_license: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub make: String,
    pub model: String,
    pub plate: String,
}

/// A driver or vehicle field left empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is required")]
pub struct TransportError(pub &'static str);

fn required(v: &str, what: &'static str) -> Result<String, TransportError> {
    let v = v.trim();
    if v.is_empty() {
        Err(TransportError(what))
    } else {
        Ok(v.to_string())
    }
}

impl Driver {
    /// Trimmed, every field present.
    pub fn check(&self) -> Result<Self, TransportError> {
        Ok(Driver {
            name: required(&self.name, "the driver's name")?,
            occupational_license: required(
                &self.occupational_license,
                "the driver's occupational license number",
            )?,
            drivers_license: required(&self.drivers_license, "the driver's license number")?,
        })
    }
}

impl Vehicle {
    /// Trimmed, every field present, the plate upper-case without spaces.
    pub fn check(&self) -> Result<Self, TransportError> {
        Ok(Vehicle {
            make: required(&self.make, "the vehicle's make")?,
            model: required(&self.model, "the vehicle's model")?,
            plate: required(&self.plate, "the vehicle's plate")?
                .replace(' ', "")
                .to_uppercase(),
        })
    }
}
