//! Where a reply goes in a thread, per platform: kept on a queue item and on the reply post in
//! the schedule, read by the channels that send it.

use serde::{Deserialize, Serialize};

/// Where a reply goes, per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "lowercase")]
pub enum ReplyTo {
    /// AT Protocol strong references to the thread's root and the post answered.
    Bluesky { root: StrongRef, parent: StrongRef },
    /// The id of the status answered.
    Mastodon { status_id: String },
}

/// An AT Protocol strong reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrongRef {
    pub uri: String,
    pub cid: String,
}
