//! `[crisis]` in `herald.toml`: whether `herald run` watches for crises, and the detector's
//! knobs, parsed and validated like every other section.

use serde::Deserialize;

use super::detector::Params;
use crate::config::error::ConfigError;
use crate::config::source::TomlSource;

/// `[crisis]` in `herald.toml`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrisis {
    enabled: Option<bool>,
    detector: Option<toml::Table>,
}

/// `[crisis]` validated: whether `herald run` watches for crises, and the detector's knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct CrisisConfig {
    /// Whether the live detector runs (default true; it only sees anything with sources).
    pub enabled: bool,
    /// The detector's parameters: the measured defaults with `[crisis.detector]` applied.
    pub params: Params,
}

impl Default for CrisisConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            params: Params::default(),
        }
    }
}

/// Validates `[crisis]`: each `[crisis.detector]` key is one of [`Params`]'s fields, set as
/// `Params::set` would; a wrong one is reported at its line.
pub fn validate(raw: RawCrisis, src: &TomlSource, errors: &mut Vec<ConfigError>) -> CrisisConfig {
    let mut params = Params::default();
    for (key, value) in raw.detector.unwrap_or_default() {
        let json = serde_json::to_string(&value).unwrap_or_default();
        if let Err(why) = params.set(&format!("{key}={json}")) {
            errors.push(src.error(&format!("crisis.detector.{key}"), why));
        }
    }
    if params.bucket_secs <= 0 {
        errors.push(src.error("crisis.detector.bucket_secs", "must be positive"));
        params.bucket_secs = Params::default().bucket_secs;
    }
    CrisisConfig {
        enabled: raw.enabled.unwrap_or(true),
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_keys_are_validated_with_their_location() {
        let text = "[crisis]\nenabled = true\n[crisis.detector]\nbucket_secs = 60\nwindowz = [1]\nmin_negative = \"x\"\n";
        let src = TomlSource::new("herald.toml", text, 1);
        #[derive(Deserialize)]
        struct Top {
            crisis: RawCrisis,
        }
        let raw: Top = src.parse().expect("parse");
        let mut errors = vec![];
        let c = validate(raw.crisis, &src, &mut errors);
        assert_eq!(c.params.bucket_secs, 60);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].key, "crisis.detector.windowz");
        assert_eq!(errors[0].line, 5);
        assert_eq!(errors[1].key, "crisis.detector.min_negative");
        assert_eq!(errors[1].line, 6);
    }
}
