//! The words of an alert message, in the formats the sinks take: plain text, markdown (WeCom)
//! and Slack mrkdwn.
//!
//! Mention texts and authors are untrusted: anyone on the internet wrote them. Before they go
//! into a message they lose control characters (which could forge lines or hide text), are
//! shortened, and are escaped for the format that would interpret them, so a sample can never
//! ping `@all`, forge a link, or break out of its quote.

use chrono::{DateTime, Utc};

use crate::store::{AlertLevel, AlertRecord, DeliveryReason};

/// How many sample mentions a message shows.
pub const SAMPLES_SHOWN: usize = 3;
/// How many characters of a sample's text a message shows.
pub const SAMPLE_CHARS: usize = 140;

/// Everything a sink needs to tell people about one level change of an alert.
#[derive(Debug, Clone)]
pub struct AlertMessage {
    /// The alert as it is now.
    pub record: AlertRecord,
    /// The level this message announces (the record may have escalated further since).
    pub level: AlertLevel,
    /// Whether this announces the open or an escalation.
    pub reason: DeliveryReason,
    /// A link to the alert in the web UI, when one is configured.
    pub link: Option<String>,
}

/// A message that is not about an alert (the weekly digest), its words already written in
/// each format the sinks take. The writer owns what goes in: it must hold nothing untrusted.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMessage {
    /// The webhook's `event` (e.g. `report.digest`).
    pub event: String,
    /// One line: the e-mail's subject, Slack's header.
    pub title: String,
    /// Plain text (WeCom text, DingTalk, Feishu, e-mail).
    pub plain: String,
    /// Markdown (WeCom markdown).
    pub markdown: String,
    /// Slack mrkdwn.
    pub slack: String,
    /// The figures as JSON, for the generic webhook's `data`.
    pub data: serde_json::Value,
    /// A link to the full thing, when there is one.
    pub link: Option<String>,
}

/// The markup a sample must be escaped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Nothing is interpreted.
    Plain,
    /// CommonMark-ish (WeCom markdown also knows `<font>` tags).
    Markdown,
    /// Slack mrkdwn: `&`, `<` and `>` are control characters.
    Slack,
}

/// Removes control characters (newlines and tabs become spaces), collapses whitespace and
/// keeps at most `max` characters, marking a cut with `…`.
pub fn sanitize(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .collect();
    let one_line = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Bidirectional overrides and zero-width characters: they reorder or hide text on screen.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Escapes untrusted text for `markup`.
pub fn escape(text: &str, markup: Markup) -> String {
    match markup {
        Markup::Plain => text.to_string(),
        Markup::Slack => text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        Markup::Markdown => {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '&' => out.push_str("&amp;"),
                    '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+'
                    | '-' | '.' | '!' | '|' | '~' | '@' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out
        }
    }
}

impl AlertMessage {
    /// `[CRISIS 危机] brand` style headline.
    pub fn title(&self) -> String {
        let (en, zh) = match self.level {
            AlertLevel::Warning => ("WARNING", "预警"),
            AlertLevel::Crisis => ("CRISIS", "危机"),
        };
        let what = match self.reason {
            DeliveryReason::Opened => "",
            DeliveryReason::Escalated => " (escalated 升级)",
        };
        format!(
            "[{en} {zh}]{what} {}",
            sanitize(&self.record.event.topic, 80)
        )
    }

    fn counts(&self) -> String {
        let r = &self.record;
        format!(
            "Negative mentions 负面提及: {} of {} (baseline 基线 {:.1})",
            r.event.negative, r.event.total, r.event.baseline
        )
    }

    fn window(&self) -> String {
        let r = &self.record;
        format!(
            "Window 时间窗: {} – {} UTC",
            fmt_time(r.event.window_start),
            fmt_time(r.history.last().map_or(r.event.opened_at, |h| h.at))
        )
    }

    fn samples(&self, markup: Markup) -> Vec<String> {
        self.record
            .samples
            .iter()
            .take(SAMPLES_SHOWN)
            .map(|s| {
                format!(
                    "{}: {}",
                    escape(&sanitize(&s.author, 40), markup),
                    escape(&sanitize(&s.text, SAMPLE_CHARS), markup)
                )
            })
            .collect()
    }

    /// The message as plain text (WeCom text, DingTalk, Feishu, e-mail).
    pub fn plain(&self) -> String {
        let mut lines = vec![self.title(), self.counts(), self.window()];
        let samples = self.samples(Markup::Plain);
        if !samples.is_empty() {
            lines.push("Samples 样例:".to_string());
            lines.extend(samples.into_iter().map(|s| format!("- {s}")));
        }
        if let Some(link) = &self.link {
            lines.push(format!("Details 详情: {link}"));
        }
        lines.push(format!("Alert id: {}", sanitize(&self.record.event.id, 80)));
        lines.join("\n")
    }

    /// The message as markdown (WeCom markdown).
    pub fn markdown(&self) -> String {
        let colour = match self.level {
            AlertLevel::Warning => "comment",
            AlertLevel::Crisis => "warning",
        };
        let mut lines = vec![
            format!(
                "## <font color=\"{colour}\">{}</font>",
                escape(&self.title(), Markup::Markdown)
            ),
            format!("> {}", self.counts()),
            format!("> {}", self.window()),
        ];
        for s in self.samples(Markup::Markdown) {
            lines.push(format!("- {s}"));
        }
        if let Some(link) = &self.link {
            lines.push(format!("[Details 详情]({link})"));
        }
        lines.join("\n")
    }

    /// The message as Slack mrkdwn (for the `text` fallback and a section block).
    pub fn slack(&self) -> String {
        let mut lines = vec![
            format!("*{}*", escape(&self.title(), Markup::Slack)),
            self.counts(),
            self.window(),
        ];
        for s in self.samples(Markup::Slack) {
            lines.push(format!("> {s}"));
        }
        if let Some(link) = &self.link {
            lines.push(format!("<{link}|Details 详情>"));
        }
        lines.join("\n")
    }
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AlertSample, AlertState, LevelChange};

    fn message(text: &str, author: &str) -> AlertMessage {
        let at = DateTime::parse_from_rfc3339("2026-11-23T01:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        AlertMessage {
            record: AlertRecord {
                event: crate::store::AlertEvent {
                    id: "a-1".into(),
                    topic: "brand".into(),
                    level: AlertLevel::Crisis,
                    opened_at: at,
                    window_start: at - chrono::TimeDelta::minutes(15),
                    negative: 42,
                    total: 60,
                    baseline: 3.0,
                    sample: vec!["m1".into()],
                },
                samples: vec![AlertSample {
                    id: "m1".into(),
                    author: author.into(),
                    text: text.into(),
                    url: None,
                }],
                state: AlertState::Open,
                acked_by: None,
                acked_at: None,
                resolved_by: None,
                resolved_at: None,
                history: vec![LevelChange {
                    level: AlertLevel::Crisis,
                    at,
                    recorded_at: at,
                    negative: 42,
                    total: 60,
                }],
            },
            level: AlertLevel::Crisis,
            reason: DeliveryReason::Opened,
            link: Some("https://herald.example/alerts/a-1".into()),
        }
    }

    #[test]
    fn sanitize_strips_controls_and_truncates() {
        let cases = [
            ("a\u{0007}b\r\nc\td", 50, "ab c d"),
            ("evil\u{202E}txt.exe", 50, "eviltxt.exe"),
            ("  many   spaces  ", 50, "many spaces"),
            ("汽车刹车失灵太可怕了", 5, "汽车刹车…"),
            ("exactly", 7, "exactly"),
        ];
        for (input, max, want) in cases {
            assert_eq!(sanitize(input, max), want, "{input:?}");
        }
    }

    #[test]
    fn escaping_defuses_markup() {
        assert_eq!(
            escape("<!channel> & <http://x|y>", Markup::Slack),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
        assert_eq!(
            escape("[click](http://evil) *bold* @all", Markup::Markdown),
            "\\[click\\]\\(http://evil\\) \\*bold\\* \\@all"
        );
        assert_eq!(escape("<b>", Markup::Plain), "<b>");
    }

    #[test]
    fn every_format_carries_the_facts_and_no_raw_markup_from_samples() {
        let m = message("<!channel> brakes failed\n[link](http://evil)", "troll<>");
        for (text, markup) in [
            (m.plain(), Markup::Plain),
            (m.markdown(), Markup::Markdown),
            (m.slack(), Markup::Slack),
        ] {
            assert!(text.contains("CRISIS"), "{text}");
            assert!(text.contains("42 of 60"), "{text}");
            assert!(text.contains("baseline 基线 3.0"), "{text}");
            assert!(text.contains("2026-11-23 00:45"), "{text}");
            assert!(text.contains("https://herald.example/alerts/a-1"), "{text}");
            if markup != Markup::Plain {
                assert!(!text.contains("<!channel>"), "{text}");
            }
            // Slack does not read [text](url) as a link; markdown does.
            if markup == Markup::Markdown {
                assert!(!text.contains("[link](http://evil)"), "{text}");
            }
            // The sample's newline must not start a forged line.
            assert!(!text.lines().any(|l| l.starts_with("[link]")), "{text}");
        }
    }
}
