//! A mention: one post or comment a source found, in the fields of the Mention contract of
//! docs/contracts.md. Sources make them, the store keeps them, classification and the inbox read
//! them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A mention, as the contract of docs/contracts.md has it (JSON Lines for `herald classify` and `replay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub id: String,
    pub platform: String,
    pub author: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_followers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}
