//! `*_env` keys: every section names its secrets by an environment variable, never holds them.
//!
//! One check for every section (channels, sources, alert sinks, `[web]`), so the rule and,
//! above all, the error are the same everywhere: a value that is not a variable name may be the
//! secret itself, pasted by mistake, so the error never repeats it.

/// Why a `*_env` value is refused. It deliberately says nothing of the value.
pub const NOT_AN_ENV_NAME: &str = "must name an environment variable (A-Z, 0-9, _), not hold \
     the secret itself; the value given is not shown";

/// Why a `*_env` value that is not even a string (a number, an unquoted word) is refused.
pub const NOT_A_QUOTED_ENV_NAME: &str = "must be a quoted string naming an environment variable \
     (A-Z, 0-9, _), not the secret itself; the value given is not shown";

/// A secret that could not be read from the environment. It names the variable and who needed
/// it, never a value: not even the bytes of a variable that is set but not Unicode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The variable is not set (or not valid Unicode, which cannot be a usable secret either).
    #[error("environment variable {var} is not set ({what})")]
    NotSet {
        /// The variable's name.
        var: String,
        /// Who needed it: `channel "masto"`, `source "weibo"`.
        what: String,
    },
}

/// The secret in the environment variable `var`, for `what` (`channel "masto"`, `source
/// "weibo"`): the error names the variable and its user, never a value.
pub fn secret(var: &str, what: &str) -> Result<String, SecretError> {
    std::env::var(var).map_err(|_| SecretError::NotSet {
        var: var.to_string(),
        what: what.to_string(),
    })
}

/// Whether `s` can name an environment variable: `A-Z`, `0-9` and `_`, not starting with a digit,
/// 1 to 128 characters.
pub fn is_env_name(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks the value of a `*_env` key: `Err` holds the reason to report, which never contains
/// the value.
pub fn check_env_name(value: &str) -> Result<(), &'static str> {
    if is_env_name(value) {
        Ok(())
    } else {
        Err(NOT_AN_ENV_NAME)
    }
}

/// Whether the last part of a key path (`channels[0].token_env`) names a secret's variable, so
/// a parse error there must not quote the value either.
pub fn is_env_key(path: &str) -> bool {
    path.rsplit(['.', ']'])
        .next()
        .is_some_and(|k| k.ends_with("_env"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_upper_case_digits_and_underscores() {
        for ok in ["HERALD_TOKEN", "_X", "A1", "X"] {
            assert!(check_env_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1ABC",
            "herald_token",
            "sk-live-123",
            "A B",
            "Ä",
            &"A".repeat(129),
        ] {
            let why = check_env_name(bad).expect_err(bad);
            assert!(bad.is_empty() || !why.contains(bad), "{why}");
        }
    }

    #[test]
    fn a_missing_secret_names_its_variable_and_user() {
        let var = "HERALD_TEST_SECRET_THAT_IS_NEVER_SET";
        let e = secret(var, "channel \"masto\"").expect_err("not set");
        assert_eq!(
            e.to_string(),
            "environment variable HERALD_TEST_SECRET_THAT_IS_NEVER_SET is not set (channel \"masto\")"
        );
    }

    #[test]
    fn env_keys_are_recognised_at_the_end_of_a_path() {
        assert!(is_env_key("channels[0].token_env"));
        assert!(is_env_key("web.api_token_env"));
        assert!(is_env_key("alerts.sinks[2].secret_env"));
        assert!(!is_env_key("channels[0].token_env_x"));
        assert!(!is_env_key("environment"));
        assert!(!is_env_key("channels[0]"));
    }
}
