//! One [`Settings`] struct, layered: compiled defaults < embedded `config/default.toml` <
//! a site file < `TAGTALLY_SECTION__KEY` environment variables.
//!
//! Every layer is checked as it is applied, so a typo in a site file or an environment
//! variable is refused with the name of the layer that brought it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::domain::Rules;
use crate::tag::TagParser;

mod apex;
pub use apex::ApexSettings;
mod desk;
pub use desk::DeskSettings;
mod leaflink;
pub use leaflink::LeafLinkSettings;
mod licenses;
mod metrc;
pub use licenses::{LicenseSettings, PRESETS as LICENSE_PRESETS};
pub use metrc::{MetrcSettings, Secret};

/// The shipped defaults, compiled in; a test checks they equal [`Settings::default`].
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub device: DeviceSettings,
    pub store: StoreSettings,
    pub tags: TagSettings,
    pub scan: ScanSettings,
    pub rules: Rules,
    pub ui: UiSettings,
    pub pick: PickSettings,
    pub people: PeopleSettings,
    pub ship: ShipSettings,
    pub metrc: MetrcSettings,
    pub leaflink: LeafLinkSettings,
    pub apex: ApexSettings,
    pub licenses: LicenseSettings,
    pub desk: DeskSettings,
    pub log: LogSettings,
}

/// The shipper on the manifest and the Metrc transfer template, and the timing a
/// template proposes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShipSettings {
    /// The licensed business that ships (and transports) the loads.
    pub facility_name: String,
    /// Its state license: Metrc's `TransporterFacilityLicenseNumber`. Required for a
    /// transfer template.
    pub facility_license: String,
    /// `PhoneNumberForQuestions` on the template.
    pub phone: String,
    /// Metrc `TransferTypeName` for wholesale deliveries.
    pub transfer_type: String,
    /// Estimated departure: this many minutes after the load is confirmed.
    pub departure_minutes: u32,
    /// Estimated arrival: this many minutes after departure.
    pub transit_minutes: u32,
    /// Reasons a supervisor may give for taking a package off a shipment.
    pub remove_reasons: Vec<String>,
}

impl Default for ShipSettings {
    fn default() -> Self {
        ShipSettings {
            facility_name: String::new(),
            facility_license: String::new(),
            phone: String::new(),
            transfer_type: "Wholesale Manifest".into(),
            departure_minutes: 30,
            transit_minutes: 120,
            remove_reasons: [
                "Damaged at the dock",
                "Put on hold after the pick",
                "Buyer changed the order",
                "Wrong item picked",
                "Other (see the supervisor's note)",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeopleSettings {
    /// Wrong PINs in a row that lock a person out.
    pub max_failures: u32,
    /// How long a lock-out lasts.
    pub lockout_minutes: u32,
}

impl Default for PeopleSettings {
    fn default() -> Self {
        PeopleSettings {
            max_failures: 5,
            lockout_minutes: 15,
        }
    }
}

impl PeopleSettings {
    pub fn lockout(&self) -> crate::store::Lockout {
        crate::store::Lockout {
            max_failures: self.max_failures.max(1),
            duration: chrono::Duration::minutes(i64::from(self.lockout_minutes)),
        }
    }
}

/// How pickers walk: the order of the pick list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PickSettings {
    /// Location names in the order the vault is walked; the rest in natural order
    /// after them ([`crate::domain::walk`]).
    pub location_order: Vec<String>,
}

impl PickSettings {
    pub fn walk(&self) -> crate::domain::walk::WalkOrder {
        crate::domain::walk::WalkOrder::new(&self.location_order)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSettings {
    /// Fullscreen, no decorations, no pointer: for a dock or vault kiosk.
    pub kiosk: bool,
    /// Accept and reject sounds.
    pub sound: bool,
    /// Reasons offered for a short pick.
    pub short_reasons: Vec<String>,
    /// Sign the person out after this many minutes without a tap or a key (0: never).
    pub idle_sign_out_minutes: u32,
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            kiosk: false,
            sound: true,
            short_reasons: [
                "Not found in vault",
                "Damaged",
                "On hold / not eligible",
                "Wrong count on label",
                "Other (tell a supervisor)",
            ]
            .map(String::from)
            .to_vec(),
            idle_sign_out_minutes: 10,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceSettings {
    /// This device's id in every event it records. Unset: a random id is made once
    /// and kept in the database.
    pub id: Option<String>,
    /// Which flow the touch app shows after sign-in: `pick` (vault handheld), `load`
    /// (dock kiosk) or `deliver` (driver handheld).
    pub station: Station,
}

/// The flow a touch station runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Station {
    #[default]
    Pick,
    Load,
    Deliver,
}

impl Station {
    pub const ALL: [Station; 3] = [Station::Pick, Station::Load, Station::Deliver];

    pub fn word(self) -> &'static str {
        match self {
            Station::Pick => "pick",
            Station::Load => "load",
            Station::Deliver => "deliver",
        }
    }

    pub fn parse(s: &str) -> Option<Station> {
        Self::ALL.into_iter().find(|k| k.word() == s.trim())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Database file. Unset: `$XDG_DATA_HOME/tagtally/tagtally.db`.
    pub path: Option<PathBuf>,
    /// How long to wait for another process holding the database before giving up.
    pub busy_timeout_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: None,
            busy_timeout_ms: 5000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TagSettings {
    /// Accept any `[0-9A-Z]{24}` instead of only `1A4` + 21 hex digits.
    pub lenient: bool,
    /// Prefix programmed into the site's scanners, stripped before validation.
    pub prefix: String,
    /// Suffix programmed into the site's scanners, stripped before validation.
    pub suffix: String,
}

impl TagSettings {
    pub fn parser(&self) -> TagParser {
        TagParser {
            lenient: self.lenient,
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSettings {
    /// Longest scanner line taken as a scan; longer input is answered `not_a_tag`.
    pub max_line_bytes: usize,
    /// Scanner sources read when a command names none (`--source`), e.g.
    /// `["serial:/dev/ttyACM0?profile=honeywell-1900-usb-serial"]`. Empty: standard input.
    pub sources: Vec<String>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            max_line_bytes: 4096,
            sources: vec![],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A `tracing` filter, e.g. `info` or `tagtally=debug`. `RUST_LOG` wins if set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            filter: "warn".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {layer}: {message}")]
    Invalid { layer: String, message: String },
}

impl Settings {
    /// Load all layers. `site` is the `--config` file; without it `TAGTALLY_CONFIG`, then
    /// `$XDG_CONFIG_HOME/tagtally/config.toml` if that exists.
    pub fn load(site: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let site = site
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("TAGTALLY_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let p = xdg_dir("XDG_CONFIG_HOME", ".config")?.join("tagtally/config.toml");
                p.exists().then_some(p)
            });
        let site_text = match &site {
            Some(p) => Some((
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?,
            )),
            None => None,
        };
        Self::from_layers(
            site_text.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
            &env,
        )
    }

    /// The layering itself, without touching the process environment or files.
    pub fn from_layers(
        site: Option<(&str, &str)>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let mut merged = match Value::try_from(Settings::default()) {
            Ok(Value::Table(t)) => t,
            _ => unreachable!("Settings serialises to a table"),
        };
        apply_toml(&mut merged, "config/default.toml (embedded)", DEFAULT_TOML)?;
        if let Some((name, text)) = site {
            apply_toml(&mut merged, name, text)?;
        }
        for (key, value) in env {
            let Some(path) = key.strip_prefix("TAGTALLY_") else {
                continue;
            };
            if !path.contains("__") {
                continue;
            }
            let layer = format!("environment variable {key}");
            let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
            set_path(&mut merged, &keys, env_value(value));
            check(&merged, &layer)?;
        }
        let mut settings = check(&merged, "merged settings")?;
        // The shipper's license is the Metrc license unless the site says otherwise.
        if settings.ship.facility_license.trim().is_empty() {
            settings.ship.facility_license = settings.metrc.license_number.clone();
        }
        // The eligibility rules read `[metrc] require_coa` where every rule is read.
        settings.rules.require_coa = settings.metrc.require_coa;
        let m = &settings.metrc;
        let bad = |message: String| ConfigError::Invalid {
            layer: "metrc".into(),
            message,
        };
        if !(1..=50).contains(&m.max_requests_per_second) {
            return Err(bad(format!(
                "max_requests_per_second = {}: use 1 to 50 (Metrc allows 50 a facility)",
                m.max_requests_per_second
            )));
        }
        if !(1..=10).contains(&m.max_concurrent) {
            return Err(bad(format!(
                "max_concurrent = {}: use 1 to 10 (Metrc allows 10 a facility)",
                m.max_concurrent
            )));
        }
        if m.window_hours == 0 || m.timeout_seconds == 0 {
            return Err(bad(
                "window_hours and timeout_seconds must be above 0".into()
            ));
        }
        let l = &settings.leaflink;
        let bad = |message: String| ConfigError::Invalid {
            layer: "leaflink".into(),
            message,
        };
        if !(1..=300).contains(&l.max_requests_per_minute) {
            return Err(bad(format!(
                "max_requests_per_minute = {}: use 1 to 300 (LeafLink allows 300 a key)",
                l.max_requests_per_minute
            )));
        }
        if !(1..=1000).contains(&l.page_size) || l.timeout_seconds == 0 {
            return Err(bad(
                "page_size must be 1 to 1000 and timeout_seconds above 0".into(),
            ));
        }
        let a = &settings.apex;
        let bad = |message: String| ConfigError::Invalid {
            layer: "apex".into(),
            message,
        };
        if !(1..=15).contains(&a.max_requests_per_second) {
            return Err(bad(format!(
                "max_requests_per_second = {}: use 1 to 15 (Apex allows 15 a token)",
                a.max_requests_per_second
            )));
        }
        if !(1..=500).contains(&a.per_page) || a.timeout_seconds == 0 {
            return Err(bad(
                "per_page must be 1 to 500 and timeout_seconds above 0".into()
            ));
        }
        for spec in &settings.scan.sources {
            spec.parse::<crate::scan::SourceSpec>()
                .map_err(|message| ConfigError::Invalid {
                    layer: "scan.sources".into(),
                    message,
                })?;
        }
        Ok(settings)
    }

    /// The database file: the setting, else the XDG data dir, else `./tagtally.db`.
    pub fn db_path(&self) -> PathBuf {
        self.store.path.clone().unwrap_or_else(|| {
            xdg_dir("XDG_DATA_HOME", ".local/share")
                .map(|d| d.join("tagtally/tagtally.db"))
                .unwrap_or_else(|| PathBuf::from("tagtally.db"))
        })
    }
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
}

fn apply_toml(merged: &mut Table, layer: &str, text: &str) -> Result<(), ConfigError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Invalid {
            layer: layer.into(),
            message: e.to_string(),
        })?;
    merge(merged, table);
    check(merged, layer).map(|_| ())
}

fn check(merged: &Table, layer: &str) -> Result<Settings, ConfigError> {
    Settings::deserialize(Value::Table(merged.clone())).map_err(|e| ConfigError::Invalid {
        layer: layer.into(),
        message: e.to_string(),
    })
}

fn merge(into: &mut Table, from: Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Table(a)), Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn set_path(t: &mut Table, keys: &[String], v: Value) {
    match keys {
        [] => {}
        [last] => {
            t.insert(last.clone(), v);
        }
        [first, rest @ ..] => {
            let entry = t
                .entry(first.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            if let Value::Table(inner) = entry {
                set_path(inner, rest, v);
            }
        }
    }
}

/// An environment value is read as a TOML value (`true`, `5000`, `["A","B"]`); anything
/// that is not one (a path, a bare word) is taken as text.
fn env_value(s: &str) -> Value {
    format!("v = {s}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shipped_default_equals_compiled_default() {
        let s = Settings::from_layers(None, &[]).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn every_file_in_config_dir_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                Settings::from_layers(Some((&path.display().to_string(), &text)), &[])
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 2, "expected default.toml and at least one example");
    }

    #[test]
    fn layers_override_in_order() {
        let site = "[tags]\nlenient = true\nprefix = \"#\"\n[rules]\nexpiry_warning_days = 7\n";
        let s = Settings::from_layers(
            Some(("site.toml", site)),
            &env(&[
                ("TAGTALLY_RULES__EXPIRY_WARNING_DAYS", "3"),
                ("TAGTALLY_STORE__PATH", "/tmp/x.db"),
                ("TAGTALLY_RULES__ALLOWED_LAB_STATES", r#"["TestPassed"]"#),
                ("TAGTALLY_CONFIG", "ignored.toml"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert!(s.tags.lenient);
        assert_eq!(s.tags.prefix, "#");
        assert_eq!(s.rules.expiry_warning_days, 3);
        assert_eq!(s.rules.allowed_lab_states, vec!["TestPassed"]);
        assert_eq!(s.db_path(), PathBuf::from("/tmp/x.db"));
    }

    #[test]
    fn typos_are_refused_naming_the_layer() {
        let e = Settings::from_layers(Some(("site.toml", "[tags]\nlenent = true\n")), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("site.toml") && e.contains("lenent"), "{e}");
        let e = Settings::from_layers(None, &env(&[("TAGTALLY_TAGS__LENIENT", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("TAGTALLY_TAGS__LENIENT"), "{e}");
        let e = Settings::from_layers(Some(("s.toml", "[scan]\nsources = [\"usb:x\"]\n")), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("scan.sources") && e.contains("unknown source kind"),
            "{e}"
        );
        let e = Settings::from_layers(Some(("bad.toml", "[tags")), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.toml"), "{e}");
    }
}
