//! RSS, Atom and JSON Feed sources (forum and news feeds, search-alert feeds).

use chrono::{DateTime, Utc};

use super::error::PollError;
use super::{html_to_text, Mention, Parsed};

/// A body that is no feed at all.
#[derive(Debug, thiserror::Error)]
#[error("not a feed: {0}")]
pub struct FeedError(#[from] feed_rs::parser::ParseFeedError);

impl From<FeedError> for PollError {
    fn from(e: FeedError) -> Self {
        PollError::new(e)
    }
}

/// Parses a feed body. A body that is no feed at all is an error (logged and counted by the
/// caller); an entry without text is skipped and counted.
pub fn parse(source: &str, body: &[u8], fetched_at: DateTime<Utc>) -> Result<Parsed, FeedError> {
    let feed = feed_rs::parser::parse(body)?;
    let feed_author = feed.authors.first().and_then(|a| a.name.clone());
    let mut out = Parsed::default();
    for entry in feed.entries {
        let title = entry
            .title
            .as_ref()
            .map(|t| html_to_text(&t.content))
            .unwrap_or_default();
        let body = entry
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .or(entry.summary.as_ref().map(|s| s.content.as_str()))
            .map(html_to_text)
            .unwrap_or_default();
        let text = match (title.is_empty(), body.is_empty()) {
            (true, true) => {
                out.skipped
                    .push(format!("entry {:?} has no title or text", entry.id));
                continue;
            }
            (false, true) => title.clone(),
            (true, false) => body,
            (false, false) if body.starts_with(&title) => body,
            (false, false) => format!("{title}\n{body}"),
        };
        let author = entry
            .authors
            .first()
            .and_then(|a| a.name.clone())
            .or_else(|| feed_author.clone())
            .unwrap_or_else(|| source.to_string());
        let url = entry.links.first().map(|l| l.href.clone());
        let id = if entry.id.is_empty() {
            url.clone().unwrap_or_default()
        } else {
            entry.id.clone()
        };
        if id.is_empty() {
            out.skipped
                .push(format!("entry {title:?} has neither id nor link"));
            continue;
        }
        out.mentions.push(Mention {
            id: format!("feed:{source}:{id}"),
            platform: "feed".to_string(),
            author,
            text,
            created_at: entry.published.or(entry.updated).unwrap_or(fetched_at),
            url,
            lang: entry.language.clone().or_else(|| feed.language.clone()),
            in_reply_to: None,
            author_followers: None,
            verified: None,
        });
    }
    Ok(out)
}

/// [`parse`] for a feed fetched from `url`: the source name is its host.
pub fn parse_named(url: &url::Url, body: &[u8]) -> Result<Parsed, FeedError> {
    parse(url.host_str().unwrap_or("feed"), body, Utc::now())
}
