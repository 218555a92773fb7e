//! Device profiles from `hardware/profiles/`, compiled in: a kind, a USB id and source
//! options that a spec names with `?profile=NAME`.

use serde::Deserialize;

use super::source::Options;

/// (file stem, file text) of every shipped profile.
pub const PROFILES: &[(&str, &str)] = &[
    (
        "honeywell-1900-usb-serial",
        include_str!("../../hardware/profiles/honeywell-1900-usb-serial.toml"),
    ),
    (
        "honeywell-1900-usb-hid",
        include_str!("../../hardware/profiles/honeywell-1900-usb-hid.toml"),
    ),
    (
        "zebra-ds2208-usb-hid",
        include_str!("../../hardware/profiles/zebra-ds2208-usb-hid.toml"),
    ),
    (
        "generic-rs232",
        include_str!("../../hardware/profiles/generic-rs232.toml"),
    ),
    (
        "usb-webcam-720p",
        include_str!("../../hardware/profiles/usb-webcam-720p.toml"),
    ),
];

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub kind: String,
    pub usb: Option<String>,
    #[serde(default)]
    pub options: Options,
}

/// Look a profile up by file stem.
pub fn profile(name: &str) -> Result<Profile, String> {
    let (_, text) = PROFILES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let known: Vec<&str> = PROFILES.iter().map(|(n, _)| *n).collect();
        format!("no device profile {name:?}; known: {}", known.join(", "))
    })?;
    toml::from_str(text).map_err(|e| format!("profile {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_is_compiled_in_and_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/profiles");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut compiled: Vec<String> = PROFILES.iter().map(|(n, _)| n.to_string()).collect();
        compiled.sort();
        assert_eq!(
            files, compiled,
            "list every file of hardware/profiles in PROFILES"
        );
        for (n, _) in PROFILES {
            let p = profile(n).unwrap();
            // Its options must be ones a spec of its kind accepts.
            let query: Vec<String> = p.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let spec = format!("{}:/dev/x?{}", p.kind, query.join("&"));
            spec.parse::<crate::scan::SourceSpec>()
                .unwrap_or_else(|e| panic!("profile {n}: {e}"));
        }
    }
}
