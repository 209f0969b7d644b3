//! Mentions from the platforms herald also posts to: Mastodon mention notifications and
//! Bluesky notifications (mentions, replies, quotes), each read from a persisted cursor so a
//! restart neither loses nor repeats them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{html_to_text, Mention, Parsed};
use crate::platform::bluesky::Bluesky;
use crate::platform::mastodon::Mastodon;
use crate::platform::Error as PlatformError;

/// Pages read per poll at most, so a long outage catches up in steps.
const MAX_PAGES: usize = 10;

/// A Mastodon account's mention notifications, read through the platform kit's client.
#[derive(Debug)]
pub struct MastodonMentions {
    account: Mastodon,
}

/// Mastodon ids are decimal strings of growing length: compare as numbers.
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

impl MastodonMentions {
    /// The mentions of the account on the instance at `base` that `token` acts for.
    pub fn new(http: reqwest::Client, base: url::Url, token: String) -> Self {
        Self {
            account: Mastodon::new(http, base, token),
        }
    }

    /// New mentions since `cursor` (the newest notification id seen), and the new cursor. With
    /// no cursor, only the newest page is read: herald listens from now, not from the start.
    pub async fn poll(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Parsed, Option<String>), PlatformError> {
        let mut out = Parsed::default();
        let mut newest = cursor.map(str::to_string);
        for _ in 0..MAX_PAGES {
            let mut url = self.account.url("api/v1/notifications")?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("types[]", "mention")
                    .append_pair("limit", "40");
                if let Some(c) = &newest {
                    // min_id: the page right after the cursor, so nothing between is skipped.
                    q.append_pair("min_id", c);
                }
            }
            let (answer, _) = self.account.read(url, "notifications").await?;
            let page: Vec<Value> = serde_json::from_value(answer)
                .map_err(|e| PlatformError::Transient(format!("unreadable notifications: {e}")))?;
            if page.is_empty() {
                break;
            }
            for n in &page {
                let id = n["id"].as_str().unwrap_or_default();
                if newest.as_deref().is_none_or(|c| newer(id, c)) {
                    newest = Some(id.to_string());
                }
                match mastodon_mention(self.account.base(), n) {
                    Some(m) => out.mentions.push(m),
                    None => out
                        .skipped
                        .push(format!("notification {id:?} without a readable status")),
                }
            }
            if cursor.is_none() || page.len() < 40 {
                break;
            }
        }
        out.mentions.sort_by_key(|m| m.created_at);
        Ok((out, newest))
    }
}

fn mastodon_mention(base: &url::Url, n: &Value) -> Option<Mention> {
    mastodon_status(base, &n["status"], n["account"]["acct"].as_str())
}

/// A Mastodon status (as notifications, timelines and search return it) as a mention. The id is
/// `mastodon:<host>:<status id>` whichever endpoint found it, so the same status seen by two
/// sources is stored once. A boost is read as the status it boosts. `acct` is the author to
/// assume when the status names none (a notification names it beside the status).
pub(crate) fn mastodon_status(
    base: &url::Url,
    status: &Value,
    acct: Option<&str>,
) -> Option<Mention> {
    let status = if status["reblog"].is_object() {
        &status["reblog"]
    } else {
        status
    };
    let id = status["id"].as_str()?;
    Some(Mention {
        id: format!("mastodon:{}:{id}", base.host_str().unwrap_or("")),
        platform: "mastodon".to_string(),
        author: status["account"]["acct"].as_str().or(acct)?.to_string(),
        text: html_to_text(status["content"].as_str()?),
        created_at: DateTime::parse_from_rfc3339(status["created_at"].as_str()?)
            .ok()?
            .with_timezone(&Utc),
        url: status["url"].as_str().map(str::to_string),
        lang: status["language"].as_str().map(str::to_string),
        in_reply_to: status["in_reply_to_id"].as_str().map(str::to_string),
        author_followers: status["account"]["followers_count"].as_u64(),
        verified: None,
    })
}

/// A Bluesky account's notifications: mentions, replies and quotes.
#[derive(Debug)]
pub struct BlueskyMentions {
    account: Bluesky,
}

impl BlueskyMentions {
    pub fn new(account: Bluesky) -> Self {
        Self { account }
    }

    /// Notifications indexed after `cursor` (an RFC 3339 `indexedAt`), and the new cursor.
    pub async fn poll(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Parsed, Option<String>), PlatformError> {
        let since = cursor
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.with_timezone(&Utc));
        let mut out = Parsed::default();
        let mut newest = since;
        let mut page_cursor: Option<String> = None;
        'pages: for _ in 0..MAX_PAGES {
            let mut params = vec![("limit", "50")];
            if let Some(c) = &page_cursor {
                params.push(("cursor", c.as_str()));
            }
            let v = self
                .account
                .query("app.bsky.notification.listNotifications", &params)
                .await?;
            let list = v["notifications"].as_array().cloned().unwrap_or_default();
            for n in &list {
                let indexed = n["indexedAt"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                let Some(indexed) = indexed else {
                    out.skipped.push("notification without indexedAt".into());
                    continue;
                };
                // Newest first: stop at what the last poll saw.
                if since.is_some_and(|s| indexed <= s) {
                    break 'pages;
                }
                if newest.is_none_or(|x| indexed > x) {
                    newest = Some(indexed);
                }
                if !matches!(n["reason"].as_str(), Some("mention" | "reply" | "quote")) {
                    continue;
                }
                match bluesky_mention(n) {
                    Some(m) => out.mentions.push(m),
                    None => out.skipped.push(format!(
                        "notification {:?} without a readable post",
                        n["uri"]
                    )),
                }
            }
            page_cursor = v["cursor"].as_str().map(str::to_string);
            if since.is_none() || page_cursor.is_none() || list.is_empty() {
                break;
            }
        }
        out.mentions.sort_by_key(|m| m.created_at);
        Ok((out, newest.map(|t| t.to_rfc3339())))
    }
}

fn bluesky_mention(n: &Value) -> Option<Mention> {
    bluesky_post(n)
}

/// A Bluesky post as a mention, from anything carrying `uri`, `author` and `record` (a
/// notification, or a post view from search). The id is the post's `at://` URI whichever
/// endpoint found it, so the same post seen by two sources is stored once.
pub(crate) fn bluesky_post(n: &Value) -> Option<Mention> {
    let record = &n["record"];
    let handle = n["author"]["handle"].as_str()?;
    let uri = n["uri"].as_str()?;
    let rkey = uri.rsplit('/').next().unwrap_or_default();
    Some(Mention {
        id: uri.to_string(),
        platform: "bluesky".to_string(),
        author: handle.to_string(),
        text: record["text"].as_str()?.to_string(),
        created_at: DateTime::parse_from_rfc3339(record["createdAt"].as_str()?)
            .ok()?
            .with_timezone(&Utc),
        url: Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")),
        lang: record["langs"][0].as_str().map(str::to_string),
        in_reply_to: record["reply"]["parent"]["uri"]
            .as_str()
            .map(str::to_string),
        author_followers: n["author"]["followersCount"].as_u64(),
        verified: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_ids_compare_as_numbers() {
        assert!(newer("110", "99"));
        assert!(!newer("99", "110"));
        assert!(newer("1000000000000000001", "999999999999999999"));
    }
}
