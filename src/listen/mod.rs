//! Listening: turning what sources return into [`Mention`]s.
//!
//! The source kinds: mentions of the brand's own accounts ([`social`]: Mastodon and Bluesky
//! notifications), keyword searches and hashtags ([`search`]: Bluesky `searchPosts`, Mastodon
//! hashtag timelines and status search), the Bluesky firehose ([`firehose`]: posts matching
//! keywords as they are written), feeds ([`feed`]: RSS, Atom, JSON Feed, by `feed-rs`)
//! and web pages ([`page`]: forum threads, search results, by CSS selectors with `scraper`);
//! their configuration ([`config`]), why a poll fails ([`error`]) and the one polling loop that
//! runs them all ([`run`]). Each parser skips and counts what it cannot read instead of failing
//! the whole response. This module does not classify, store mentions, draft or detect: the loop
//! hands each poll's mentions to a [`sink::MentionSink`] (the ingest stage, `crate::ingest`)
//! and keeps only the sources' cursors in the store.

pub mod config;
pub mod error;
pub mod feed;
pub mod firehose;
pub mod page;
pub mod run;
pub mod search;
pub mod sink;
pub mod social;

pub use crate::domain::mention::Mention;

/// What a parser got from one response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub mentions: Vec<Mention>,
    /// Items skipped, each with why (logged and counted by the caller).
    pub skipped: Vec<String>,
}

/// Plain text from an HTML fragment: tags dropped, entities decoded, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    let fragment = scraper::Html::parse_fragment(html);
    let text: Vec<&str> = fragment.root_element().text().collect();
    text.join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Untrusted text made safe for a terminal: control characters (escape sequences that could
/// rewrite the screen, carriage returns) and bidirectional controls are shown as `\u{..}`
/// instead of acting (see [`crate::untrusted`]).
pub fn terminal_safe(text: &str) -> String {
    crate::untrusted::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn terminal_escapes_are_shown_not_run() {
        assert_eq!(
            super::terminal_safe("hi\u{1b}[2Jthere\r"),
            "hi\\u{1b}[2Jthere\\u{d}"
        );
        assert_eq!(super::terminal_safe("奇骏 ok"), "奇骏 ok");
        assert_eq!(super::terminal_safe("\u{202E}nimda"), "\\u{202e}nimda");
    }
}
