//! The shapes every configuration problem takes: an error located at `file:line:column: key`,
//! all errors of a load, a warning that does not stop herald, and the slug rule shared by every
//! section's names. The bottom of the config layer: each module's own config imports it, and
//! the assembled configuration (`config::load`) collects what they report.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a configuration file, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub why: String,
}

impl ConfigError {
    /// A problem with a file as a whole (missing, unreadable): reported at its first line.
    pub fn whole_file(file: &Path, key: &str, why: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            key: key.to_string(),
            why: why.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.key,
            self.why
        )
    }
}

/// Every problem found, in file order.
#[derive(Debug, Clone, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something worth telling a person that does not stop herald (an unset secret, a thin draft pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    pub key: String,
    pub why: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: warning: {}",
            self.file.display(),
            self.key,
            self.why
        )
    }
}

/// Checks a name used as an identifier in files and URLs (channels, drafts, rules).
pub(crate) fn is_slug(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}
