//! The reply inbox: drafting replies to mentions from templates, the approval queue's state
//! machine, service-level timers, and sending approved replies through the publishing path.
//!
//! - [`templates`]: `keywords/replies.toml`, the reply templates and their own test cases.
//! - [`draft`]: a classified mention in, a queue item (or why none) out. Pure.
//! - this file: whether a channel can send an item's reply at all ([`reply_channel`]), and the
//!   hook that drafts a reply to a new mention. The queue item, its states and the one
//!   function that moves it ([`apply`]) are records shared with the store, in
//!   [`crate::domain::queue`]; they are re-exported here.
//! - [`send`]: turns approved items into approved reply posts in the schedule, which the
//!   [`Publisher`](crate::publish::worker::Publisher) sends exactly once, and records the outcome.
//! - [`leads`]: purchase leads out of the queue, as CSV or to a webhook for the dealer's CRM.
//!
//! The store keeps the queue (`store/queue.rs`); this module never touches sled. Nothing here
//! sends anything a person has not approved.

pub mod draft;
pub mod leads;
pub mod send;
pub mod templates;

#[cfg(test)]
mod proptests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use thiserror::Error;

pub use crate::domain::queue::{
    apply, is_plain_media_name, Action, AuditEntry, LeadInfo, PostRef, Priority, QueueItem,
    ReplyState, TransitionError, MAX_ALT_CHARS, MAX_TEXT_CHARS,
};
pub use draft::{Drafter, Verdict};
pub use templates::Replies;

use crate::store::{Store, StoredMention};

/// Why herald cannot send a reply to an item itself: a person must answer on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoReplyChannel {
    /// No configured channel posts on the mention's platform (feeds, forums, web pages).
    #[error("no configured channel can reply on {platform}; answer there by hand")]
    NoChannel { platform: String },
    /// The item's channel is no longer in the configuration.
    #[error("no channel {channel:?} is configured")]
    Unknown { channel: String },
    /// The channel posts on another platform than the mention's, so it cannot thread there.
    #[error("the reply channel is not on {platform}, where the mention is")]
    OtherPlatform { platform: String },
}

/// Whether herald can send a reply to `item` through one of `channels`, decided as the reply
/// sender decides it ([`send`]): the item names a configured channel, and a Mastodon or
/// Bluesky channel only answers mentions on its own platform (outbox and webhook channels take
/// any reply as a post). The Inbox offers Approve only when this is `Ok`.
pub fn reply_channel<'a>(
    item: &QueueItem,
    channels: &'a [crate::publish::config::ChannelConfig],
) -> Result<&'a crate::publish::config::ChannelConfig, NoReplyChannel> {
    use crate::publish::config::ChannelKind;
    let Some(name) = item.channel.as_deref() else {
        return Err(NoReplyChannel::NoChannel {
            platform: item.platform.clone(),
        });
    };
    let channel =
        channels
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| NoReplyChannel::Unknown {
                channel: name.to_string(),
            })?;
    let on = match channel.kind {
        ChannelKind::Mastodon { .. } => Some("mastodon"),
        ChannelKind::Bluesky { .. } => Some("bluesky"),
        ChannelKind::Outbox { .. } | ChannelKind::Webhook { .. } => None,
    };
    match on {
        Some(p) if p != item.platform => Err(NoReplyChannel::OtherPlatform {
            platform: item.platform.clone(),
        }),
        _ => Ok(channel),
    }
}

/// The listener's hook: drafts a reply to a newly stored mention and enqueues it. Failures are
/// logged, never raised: listening must go on whatever the inbox does.
pub fn on_new_mention(
    drafter: Option<&Arc<Drafter>>,
    store: &Store,
    mention: &StoredMention,
    now: DateTime<Utc>,
) {
    let Some(drafter) = drafter else { return };
    match drafter.draft(mention, now) {
        Verdict::Draft(item) => match store.queue().enqueue(&item) {
            Ok(Some(id)) => tracing::info!(
                item = id,
                priority = item.priority.as_str(),
                template = %item.template,
                "Reply drafted"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, mention = %mention.mention.id, "Cannot enqueue a reply draft")
            }
        },
        Verdict::Skip(why) => {
            tracing::debug!(mention = %mention.mention.id, why = %why, "No reply drafted")
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use crate::domain::queue::tests::item;

    use super::*;

    #[test]
    fn only_items_with_a_channel_on_their_platform_can_be_answered() {
        use crate::publish::config::{ChannelConfig, ChannelKind};
        let url = |u: &str| url::Url::parse(u).expect("url");
        let channels = [
            ChannelConfig::default_outbox(),
            ChannelConfig {
                name: "masto".into(),
                kind: ChannelKind::Mastodon {
                    base_url: url("https://m.example"),
                    token_env: "T".into(),
                    visibility: "public".into(),
                },
            },
        ];
        let on = |platform: &str, channel: Option<&str>| {
            let mut i = item(ReplyState::Pending);
            i.platform = platform.into();
            i.channel = channel.map(str::to_string);
            reply_channel(&i, &channels).map(|c| c.name.clone())
        };
        assert_eq!(on("mastodon", Some("masto")), Ok("masto".into()));
        assert_eq!(on("bluesky", Some("outbox")), Ok("outbox".into()));
        assert_eq!(
            on("feed", None),
            Err(NoReplyChannel::NoChannel {
                platform: "feed".into()
            })
        );
        assert_eq!(
            on("forum", Some("gone")),
            Err(NoReplyChannel::Unknown {
                channel: "gone".into()
            })
        );
        assert_eq!(
            on("bluesky", Some("masto")),
            Err(NoReplyChannel::OtherPlatform {
                platform: "bluesky".into()
            })
        );
    }
}
