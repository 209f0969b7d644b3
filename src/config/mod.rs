//! Loading and validating herald's configuration: `herald.toml`, `content-plan/` and `keywords/`.
//!
//! Two phases, as in Vector and lychee: each file is deserialized into `Raw*` structs with
//! `deny_unknown_fields` (so a typo is an error, not a silent default), then a pure `validate`
//! turns raw structs into checked types and reports *every* problem at once, each as
//! `file:line:column: key: why`. The module owns no domain rules itself: the planner, the
//! channels and the keyword rules each own and validate their own section. The one rule shared
//! by every section, how a `*_env` key names a secret's variable, lives in [`mod@env`].

pub mod env;
pub mod error;
mod herald;
pub mod source;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors, Warning};
pub use herald::{
    DatabaseUrl, HeraldConfig, PostgresConfig, StorageConfig, DEFAULT_BRAND, DEFAULT_LEASE_TTL,
};

use crate::classify::keywords::{self, KeywordGroup};
use crate::plan::{self, Draft, PlanRules};

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub herald: HeraldConfig,
    pub plan: PlanRules,
    pub drafts: Vec<Draft>,
    pub keywords: Vec<KeywordGroup>,
    /// Reply templates (`keywords/replies.toml`), if the file exists.
    pub replies: Option<crate::inbox::templates::Replies>,
    /// Problems that do not stop herald.
    pub warnings: Vec<Warning>,
}

/// Loads `herald.toml` (or the defaults, if `config_path` does not exist and `required` is false),
/// then the content plan, the drafts and the keyword rules it points at.
pub fn load(config_path: &Path, required: bool) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    let herald = if config_path.exists() || required {
        herald::load(config_path, &mut warnings)
    } else {
        let base = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(""));
        Ok(HeraldConfig::defaults(base))
    };
    let herald = match herald {
        Ok(h) => h,
        Err(mut e) => {
            // Without a valid herald.toml we still know where the content lives by default, and
            // reporting those files' problems too saves a round trip.
            errors.append(&mut e);
            let base = config_path.parent().unwrap_or(Path::new(""));
            HeraldConfig::defaults(base)
        }
    };

    let channel_names: Vec<String> = herald.channels.iter().map(|c| c.name.clone()).collect();
    let plan_result = plan::config::load(&herald.content_plan, &channel_names, &mut warnings);
    let keywords_result = keywords::load_dir(&herald.keywords);
    let replies = crate::inbox::templates::load(&herald.keywords.join("replies.toml"))
        .unwrap_or_else(|mut e| {
            errors.append(&mut e);
            None
        });

    let (plan_rules, drafts) = match plan_result {
        Ok(p) => p,
        Err(mut e) => {
            errors.append(&mut e);
            (PlanRules::default(), Vec::new())
        }
    };
    let keywords = match keywords_result {
        Ok(k) => k,
        Err(mut e) => {
            errors.append(&mut e);
            Vec::new()
        }
    };

    if errors.is_empty() {
        Ok(Config {
            herald,
            plan: plan_rules,
            drafts,
            keywords,
            replies,
            warnings,
        })
    } else {
        Err(ConfigErrors(errors))
    }
}
