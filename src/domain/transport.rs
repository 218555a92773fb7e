//! Who drives the load and in what: the transport facts a manifest and a Metrc transfer
//! template need (driver name, occupational license and driver's license; vehicle make,
//! model and plate), checked once where they are typed in at the dock.
//!
//! Pure: no IO, no clock. A missing field is an `Err` whose message names the field, so
//! the kiosk can show it as it is.

use serde::{Deserialize, Serialize};

/// Why a driver or vehicle was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// A field is empty (or only spaces). The text names the field as a person would.
    #[error("{0} is required")]
    Missing(&'static str),
}

/// The person driving the load: Metrc's `DriverName`, `DriverOccupationalLicenseNumber`
/// and `DriverLicenseNumber`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    /// Full name as on the manifest.
    pub name: String,
    /// The state-issued occupational (cannabis employee) license number.
    pub occupational_license: String,
    /// The driver's license number.
    pub drivers_license: String,
}

/// The vehicle carrying the load: Metrc's `VehicleMake`, `VehicleModel` and
/// `VehicleLicensePlateNumber`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vehicle {
    /// Manufacturer, e.g. "Ford".
    pub make: String,
    /// Model, e.g. "Transit 250".
    pub model: String,
    /// License plate, upper case without spaces, e.g. "8ABC123".
    pub plate: String,
}

/// `text` trimmed, or the error naming `field` when nothing is left.
fn required(text: &str, field: &'static str) -> Result<String, TransportError> {
    let t = text.trim();
    if t.is_empty() {
        Err(TransportError::Missing(field))
    } else {
        Ok(t.to_string())
    }
}

impl Driver {
    /// A checked driver from what was typed: see [`Driver::check`].
    pub fn new(
        name: &str,
        occupational_license: &str,
        drivers_license: &str,
    ) -> Result<Driver, TransportError> {
        Driver {
            name: name.into(),
            occupational_license: occupational_license.into(),
            drivers_license: drivers_license.into(),
        }
        .check()
    }

    /// This driver with every field trimmed; refuses an empty field, naming it
    /// ("driver's license number is required"). Checks in field order.
    pub fn check(&self) -> Result<Driver, TransportError> {
        Ok(Driver {
            name: required(&self.name, "driver's name")?,
            occupational_license: required(
                &self.occupational_license,
                "driver's occupational license number",
            )?,
            drivers_license: required(&self.drivers_license, "driver's license number")?,
        })
    }
}

impl Vehicle {
    /// A checked vehicle from what was typed: see [`Vehicle::check`].
    pub fn new(make: &str, model: &str, plate: &str) -> Result<Vehicle, TransportError> {
        Vehicle {
            make: make.into(),
            model: model.into(),
            plate: plate.into(),
        }
        .check()
    }

    /// This vehicle with every field trimmed and the plate upper-cased with its spaces
    /// removed ("8 abc 123" is `8ABC123`); refuses an empty field, naming it.
    pub fn check(&self) -> Result<Vehicle, TransportError> {
        let plate: String = self
            .plate
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        Ok(Vehicle {
            make: required(&self.make, "vehicle make")?,
            model: required(&self.model, "vehicle model")?,
            plate: required(&plate, "license plate number")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_are_trimmed_or_refused_by_field() {
        let ok = |n: &str, o: &str, d: &str| Driver {
            name: n.into(),
            occupational_license: o.into(),
            drivers_license: d.into(),
        };
        let cases: [(&str, &str, &str, Result<Driver, &str>); 6] = [
            (
                "Ana Ruiz",
                "C12-0001",
                "D1234567",
                Ok(ok("Ana Ruiz", "C12-0001", "D1234567")),
            ),
            (
                "  Ana Ruiz \t",
                " C12-0001 ",
                "\nD1234567 ",
                Ok(ok("Ana Ruiz", "C12-0001", "D1234567")),
            ),
            ("", "C12-0001", "D1", Err("driver's name is required")),
            (
                "Ana",
                "   ",
                "D1",
                Err("driver's occupational license number is required"),
            ),
            ("Ana", "C12", "", Err("driver's license number is required")),
            // The first missing field is named.
            (" ", "", "", Err("driver's name is required")),
        ];
        for (name, occ, dl, want) in cases {
            let got = Driver::new(name, occ, dl).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{name:?} {occ:?} {dl:?}");
        }
    }

    #[test]
    fn vehicles_are_trimmed_plates_normalised_or_refused_by_field() {
        let v = |make: &str, model: &str, plate: &str| Vehicle {
            make: make.into(),
            model: model.into(),
            plate: plate.into(),
        };
        let cases: [(&str, &str, &str, Result<Vehicle, &str>); 6] = [
            (
                "Ford",
                "Transit 250",
                "8ABC123",
                Ok(v("Ford", "Transit 250", "8ABC123")),
            ),
            (
                " Ford ",
                " Transit  250 ",
                " 8 abc 123 ",
                Ok(v("Ford", "Transit  250", "8ABC123")),
            ),
            (
                "Ford",
                "Transit",
                "cnb-42\t7",
                Ok(v("Ford", "Transit", "CNB-427")),
            ),
            ("", "Transit", "8ABC123", Err("vehicle make is required")),
            ("Ford", " ", "8ABC123", Err("vehicle model is required")),
            (
                "Ford",
                "Transit",
                "  ",
                Err("license plate number is required"),
            ),
        ];
        for (make, model, plate, want) in cases {
            let got = Vehicle::new(make, model, plate).map_err(|e| e.to_string());
            assert_eq!(
                got,
                want.map_err(str::to_string),
                "{make:?} {model:?} {plate:?}"
            );
        }
    }

    #[test]
    fn check_is_idempotent_and_serde_round_trips() {
        let d = Driver::new(" Ana ", "C12", "D1").unwrap();
        assert_eq!(d.check(), Ok(d.clone()));
        let v = Vehicle::new("Ford", "Transit", "8 abc 123").unwrap();
        assert_eq!(v.check(), Ok(v.clone()));
        let json = serde_json::to_string(&(d.clone(), v.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<(Driver, Vehicle)>(&json).unwrap(),
            (d, v)
        );
    }
}
