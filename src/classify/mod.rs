//! Classifying mentions: keyword rules (brand, products, competitors, crisis terms, blacklisted
//! and sensitive accounts), sentiment in Chinese and English, intent and lead grade. Pure: text
//! in, classification out; everything is compiled once in [`Classifier::new`].

pub mod intent;
pub mod keywords;
pub mod lead;
pub mod phrases;
pub mod sentiment;

use serde::Serialize;

use keywords::{KeywordGroup, Match, Matcher};
use sentiment::{Scored, Sentiment};

/// Everything `herald classify` adds to a mention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub sentiment: Scored,
    pub matches: Vec<MatchOut>,
    pub intent: intent::Intent,
    pub lead: Option<lead::Lead>,
}

/// A keyword match as the contract names its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchOut {
    pub group: String,
    pub rule: String,
    pub term: String,
}

impl From<Match> for MatchOut {
    fn from(m: Match) -> Self {
        Self {
            group: m.group,
            rule: m.rule,
            term: m.term,
        }
    }
}

/// The compiled classifier.
#[derive(Debug)]
pub struct Classifier {
    matcher: Matcher,
    sentiment: Sentiment,
}

/// The keyword group whose matches count as crisis signals.
pub const CRISIS_GROUP: &str = "crisis";

impl Classifier {
    /// Compiles the keyword groups and loads the embedded sentiment model.
    pub fn new(groups: &[KeywordGroup]) -> Result<Self, String> {
        Ok(Self {
            matcher: Matcher::new(groups)?,
            sentiment: Sentiment::embedded().map_err(|e| e.to_string())?,
        })
    }

    /// Classifies one mention's text (and its author, for account rules).
    pub fn classify(&self, text: &str, author: Option<&str>) -> Classification {
        let sentiment = self.sentiment.classify(text);
        let matches = self.matcher.matches(text, author);
        let crisis = matches.iter().any(|m| m.group == CRISIS_GROUP);
        // One scan for the cue phrases of both intent and lead.
        let cues = phrases::scan(text);
        Classification {
            intent: intent::from_cues(cues, sentiment.score, crisis),
            lead: lead::from_cues(text, cues),
            sentiment,
            matches: matches.into_iter().map(Into::into).collect(),
        }
    }
}

/// Parses one line of the Mention contract (DESIGN.md), keeping unknown fields: `id`,
/// `platform`, `author`, `text` (strings) and `created_at` (RFC 3339) are required; `url`,
/// `lang`, `in_reply_to` (strings), `author_followers` (integer) and `verified` (bool) are
/// checked when present.
pub fn mention_fields(line: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    for key in ["id", "platform", "author", "text", "created_at"] {
        match map.get(key) {
            Some(Value::String(_)) => {}
            Some(_) => return Err(format!("`{key}` must be a string")),
            None => return Err(format!("`{key}` is missing")),
        }
    }
    if let Some(Value::String(t)) = map.get("created_at") {
        chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("`created_at` {t:?} is not RFC 3339: {e}"))?;
    }
    for key in ["url", "lang", "in_reply_to"] {
        if let Some(v) = map.get(key) {
            if !v.is_string() && !v.is_null() {
                return Err(format!("`{key}` must be a string"));
            }
        }
    }
    if let Some(v) = map.get("author_followers") {
        if !v.is_u64() && !v.is_null() {
            return Err("`author_followers` must be a non-negative integer".into());
        }
    }
    if let Some(v) = map.get("verified") {
        if !v.is_boolean() && !v.is_null() {
            return Err("`verified` must be true or false".into());
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_lines_table() {
        let ok = r#"{"id":"1","platform":"bluesky","author":"a.test","text":"hi","created_at":"2026-11-22T10:00:00Z","extra":{"k":1}}"#;
        assert_eq!(
            mention_fields(ok).expect("valid")["extra"]["k"],
            1,
            "unknown fields are kept"
        );
        let cases = [
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (
                r#"{"id":1,"platform":"x","author":"a","text":"t","created_at":"2026-11-22T10:00:00Z"}"#,
                "`id` must be a string",
            ),
            (
                r#"{"id":"1","platform":"x","author":"a","created_at":"2026-11-22T10:00:00Z"}"#,
                "`text` is missing",
            ),
            (
                r#"{"id":"1","platform":"x","author":"a","text":"t","created_at":"yesterday"}"#,
                "not RFC 3339",
            ),
            (
                r#"{"id":"1","platform":"x","author":"a","text":"t","created_at":"2026-11-22T10:00:00Z","author_followers":-3}"#,
                "non-negative",
            ),
        ];
        for (line, why) in cases {
            let e = mention_fields(line).expect_err(line);
            assert!(e.contains(why), "{line}: {e}");
        }
    }
}
