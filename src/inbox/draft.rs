//! Drafting: a stored, classified mention in; a queue item with a drafted reply out, or why no
//! reply is drafted. Pure apart from reading the configuration it was built from, except
//! [`draft_missing`], the start-up repair pass that reads and writes the store, and
//! [`remember_click_link`], which stores a reply's click-redirect target (with `[web]
//! public_url`, a reply's `{link}` is `<public_url>/r/<source code>`; see `docs/clicks.md`).
//!
//! No draft for blacklisted or sensitive accounts and terms (playbook §2: never engage vulgar or
//! politically risky accounts), for the brand's own posts, or for mentions that want nothing.
//! Crisis matches are flagged and get the highest priority. The mention's text is untrusted: it
//! is never copied into a reply; only the author's handle is, reduced to handle characters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::templates::{render, Replies, Situation};
use super::{AuditEntry, LeadInfo, Priority, QueueItem, ReplyState};
use crate::config::Config;
use crate::listen::config::SourceKind;
use crate::publish::ChannelKind;
use crate::store::StoredMention;

/// Groups whose matches forbid a reply.
pub const NO_REPLY_GROUPS: [&str; 2] = ["blacklist", "sensitive"];

/// What drafting decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A pending item to enqueue.
    Draft(Box<QueueItem>),
    /// No reply, and why.
    Skip(String),
}

/// Drafts replies from the templates, for the channels herald can reply through.
#[derive(Debug, Clone)]
pub struct Drafter {
    /// The templates and their settings.
    pub replies: Replies,
    tz: Tz,
    /// Listening source → the channel of the same account, which sends replies to its mentions.
    by_source: BTreeMap<String, String>,
    /// Platform → the first channel on it, for mentions from other sources.
    by_platform: BTreeMap<String, String>,
    /// `[web] public_url` when clicks are counted: a reply's link then goes out through the
    /// click redirect (see `docs/clicks.md`).
    clicks: Option<url::Url>,
}

impl Drafter {
    /// A drafter for `config`, or `None` when there is no `keywords/replies.toml`.
    pub fn from_config(config: &Config) -> Option<Self> {
        let replies = config.replies.clone()?;
        let mut by_source = BTreeMap::new();
        let mut by_platform = BTreeMap::new();
        for c in &config.herald.channels {
            let platform = match &c.kind {
                ChannelKind::Mastodon { .. } => "mastodon",
                ChannelKind::Bluesky { .. } => "bluesky",
                _ => continue,
            };
            by_platform
                .entry(platform.to_string())
                .or_insert_with(|| c.name.clone());
            for s in &config.herald.sources {
                let same_account = match (&s.kind, &c.kind) {
                    (
                        SourceKind::Mastodon {
                            base_url,
                            token_env,
                        },
                        ChannelKind::Mastodon {
                            base_url: b,
                            token_env: t,
                            ..
                        },
                    ) => base_url == b && token_env == t,
                    (
                        SourceKind::Bluesky {
                            pds_url,
                            identifier,
                            ..
                        },
                        ChannelKind::Bluesky {
                            pds_url: p,
                            identifier: i,
                            ..
                        },
                    ) => pds_url == p && identifier.eq_ignore_ascii_case(i),
                    _ => false,
                };
                if same_account {
                    by_source
                        .entry(s.name.clone())
                        .or_insert_with(|| c.name.clone());
                }
            }
        }
        let clicks = config
            .herald
            .web
            .as_ref()
            .and_then(|w| w.click_base())
            .cloned();
        Some(Self::new(replies, config.herald.timezone, by_source, by_platform).with_clicks(clicks))
    }

    /// The drafter with replies' links going through the click redirect on `base` (`[web]
    /// public_url`), or not (`None`).
    pub fn with_clicks(self, base: Option<url::Url>) -> Self {
        Self {
            clicks: base,
            ..self
        }
    }

    /// The click redirect's target for a drafted reply: its source code and the tagged link the
    /// redirect in its text stands for, when clicks are counted and the text carries that
    /// redirect. Store it before the draft (see `ingest`).
    pub fn click_link(
        &self,
        item: &QueueItem,
        since: DateTime<Utc>,
    ) -> Option<crate::store::ClickLink> {
        let base = self.clicks.as_ref()?;
        let redirect = crate::plan::track::click_url(base, &item.source_code)?;
        if !item.text.contains(redirect.as_str()) {
            return None;
        }
        let template = self
            .replies
            .templates
            .iter()
            .find(|t| t.name == item.template)?;
        let channel = item.channel.as_deref().unwrap_or("reply");
        let target = crate::plan::track::tag(
            template
                .link
                .clone()
                .unwrap_or_else(|| self.replies.link.clone()),
            channel,
            "reply",
            &item.source_code,
        );
        Some(crate::store::ClickLink {
            code: item.source_code.clone(),
            target: target.to_string(),
            since,
        })
    }

    /// A drafter with explicit channel routes (tests, benchmarks).
    pub fn new(
        replies: Replies,
        tz: Tz,
        by_source: BTreeMap<String, String>,
        by_platform: BTreeMap<String, String>,
    ) -> Self {
        Self {
            replies,
            tz,
            by_source,
            by_platform,
            clicks: None,
        }
    }

    /// The channel that answers a mention found by `source` on `platform`.
    pub fn channel_for(&self, source: &str, platform: &str) -> Option<&String> {
        self.by_source
            .get(source)
            .or_else(|| self.by_platform.get(platform))
    }

    /// Drafts a reply to `m`, classified as stored, at `now`.
    pub fn draft(&self, m: &StoredMention, now: DateTime<Utc>) -> Verdict {
        let c = &m.classification;
        let topics = m.topics();
        let group_of = |t: &String| t.split('/').next().map(str::to_string);
        if let Some(g) = topics
            .iter()
            .filter_map(group_of)
            .find(|g| NO_REPLY_GROUPS.contains(&g.as_str()))
        {
            return Verdict::Skip(format!("matches the {g} group: never answered"));
        }
        let author = m.mention.author.trim_start_matches('@').to_lowercase();
        if self.replies.own_accounts.contains(&author) {
            return Verdict::Skip("the brand's own post".into());
        }
        let intent = c.intent.as_str().to_string();
        let crisis = c.is_crisis();
        let lead: Option<LeadInfo> = c.lead.as_ref().map(|l| LeadInfo {
            grade: l.grade.as_str().to_string(),
            phone: l.phone,
            email: l.email,
            test_drive: l.test_drive,
            timeframe_months: l.timeframe_months,
        });
        let priority = if crisis {
            Priority::Crisis
        } else {
            match intent.as_str() {
                "complaint" => Priority::Complaint,
                "question" => Priority::Question,
                "purchase" => Priority::Lead,
                "praise" => Priority::Praise,
                _ if lead.is_some() => Priority::Lead,
                _ => return Verdict::Skip("wants no answer (intent other)".into()),
            }
        };
        let lang = language(m.mention.lang.as_deref(), &m.mention.text);
        let stage = self.replies.stage_of(&m.mention.text);
        let situation = Situation {
            intent: &intent,
            topics: &topics,
            lang,
            stage,
        };
        let Some(template) = self.replies.choose(&situation) else {
            return Verdict::Skip(format!(
                "no {lang} template for intent {intent} (topics {topics:?})"
            ));
        };
        let channel = self.channel_for(&m.source, &m.mention.platform).cloned();
        let (text, source_code) = self.render(
            template,
            &m.mention.author,
            &topics,
            lang,
            channel.as_deref(),
            now,
        );
        let due_at = now + self.replies.sla(priority);
        Verdict::Draft(Box::new(QueueItem {
            id: 0,
            mention_id: m.mention.id.clone(),
            platform: m.mention.platform.clone(),
            source: m.source.clone(),
            author: m.mention.author.clone(),
            mention_text: m.mention.text.clone(),
            mention_url: m.mention.url.clone(),
            mention_at: m.mention.created_at,
            lang: lang.to_string(),
            intent,
            priority,
            crisis,
            topics,
            lead,
            stage: stage.map(str::to_string),
            template: template.name.clone(),
            text: text.clone(),
            source_code,
            channel,
            state: ReplyState::Pending,
            created_at: now,
            due_at,
            assignee: None,
            reply_to: None,
            post: None,
            remote_id: None,
            remote_url: None,
            media: None,
            error: None,
            audit: vec![AuditEntry {
                at: now,
                who: "herald".into(),
                action: "draft".into(),
                from: None,
                to: ReplyState::Pending,
                text_before: String::new(),
                text_after: text,
                note: Some(format!("template {}", template.name)),
            }],
        }))
    }

    /// Fills a template for a mention by `author` about `topics`: the text and its source code.
    pub fn render(
        &self,
        template: &super::templates::Template,
        author: &str,
        topics: &[String],
        lang: &str,
        channel: Option<&str>,
        now: DateTime<Utc>,
    ) -> (String, String) {
        let r = &self.replies;
        let product = topics
            .iter()
            .filter_map(|t| t.strip_prefix("product/"))
            .find_map(|rule| r.products.get(rule))
            .unwrap_or(&r.default_product)
            .get(lang)
            .to_string();
        let channel = channel.unwrap_or("reply");
        let local = now.with_timezone(&self.tz).naive_local();
        let code = source_code(channel, &template.name, local);
        let tagged = crate::plan::track::tag(
            template.link.clone().unwrap_or_else(|| r.link.clone()),
            channel,
            "reply",
            &code,
        );
        // Through the click redirect when clicks are counted (its target is the tagged link,
        // stored by `click_link`'s caller).
        let link = self
            .clicks
            .as_ref()
            .and_then(|base| crate::plan::track::click_url(base, &code))
            .map_or_else(|| tagged.to_string(), |redirect| redirect.to_string());
        let vars: BTreeMap<&str, String> = [
            (
                "author",
                handle(author).map(|h| format!("@{h}")).unwrap_or_default(),
            ),
            ("product", product),
            ("dealer", r.dealer.get(lang).to_string()),
            ("hotline", r.hotline.clone()),
            ("link", link),
        ]
        .into_iter()
        .collect();
        (render(&template.text, &vars), code)
    }
}

/// The repair pass `herald run` makes at start: drafts every mention stored in the last
/// `expire_after` of the templates (older drafts would only expire) that has no queue item and
/// wants one. Mentions and drafts are now written in one transaction, so this finds what an
/// older herald lost when it was killed between its two writes. Returns how many it drafted.
pub fn draft_missing(
    drafter: &Drafter,
    store: &crate::store::Store,
    now: DateTime<Utc>,
) -> Result<usize, crate::store::StoreError> {
    let since = now - drafter.replies.expire_after;
    let mut drafted = 0;
    for m in store
        .mentions()
        .between(since, now + chrono::TimeDelta::days(1))?
    {
        if store.queue().is_queued(&m.mention.id)? {
            continue;
        }
        if let Verdict::Draft(item) = drafter.draft(&m, now) {
            remember_click_link(drafter, store, &item, now)?;
            if let Some(id) = store.queue().enqueue(&item)? {
                tracing::info!(
                    item = id,
                    priority = item.priority.as_str(),
                    "Reply drafted for a mention a crash left undrafted"
                );
                drafted += 1;
            }
        }
    }
    Ok(drafted)
}

/// Stores the click redirect's target of a drafted reply ([`Drafter::click_link`]) unless the
/// store already has it: call it before the draft is stored, so a reply that goes out always
/// has its target. A mention fetched again is drafted again; its link is then not rewritten.
pub fn remember_click_link(
    drafter: &Drafter,
    store: &crate::store::Store,
    item: &QueueItem,
    now: DateTime<Utc>,
) -> Result<(), crate::store::StoreError> {
    let Some(link) = drafter.click_link(item, now) else {
        return Ok(());
    };
    let known = store.clicks().link(&link.code)?;
    if known.is_some_and(|k| k.target == link.target) {
        return Ok(());
    }
    store.clicks().put_links(&[link])
}

/// The source code of a reply (playbook §6), in the form posts use:
/// `<channel>.reply.<template>.<YYYYMMDD>T<HHMM>` in local time.
pub fn source_code(channel: &str, template: &str, local: chrono::NaiveDateTime) -> String {
    format!("{channel}.reply.{template}.{}", local.format("%Y%m%dT%H%M"))
}

/// An author's handle made safe to put in a reply: handle characters only, else nothing (an
/// untrusted author name must not inject text or mention someone else).
pub fn handle(author: &str) -> Option<String> {
    let a = author.trim().trim_start_matches('@');
    let ok = !a.is_empty()
        && a.len() <= 253
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    ok.then(|| a.to_string())
}

/// `zh` or `en`: the mention's language tag when it has one, else Chinese if the text has any
/// Han characters.
pub fn language(tag: Option<&str>, text: &str) -> &'static str {
    match tag.map(|t| t.split(['-', '_']).next().unwrap_or("").to_lowercase()) {
        Some(t) if t == "zh" => "zh",
        Some(t) if t == "en" => "en",
        _ if text.chars().any(|c| {
            ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
        }) =>
        {
            "zh"
        }
        _ => "en",
    }
}

/// A test case of `replies.toml` that did not give what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTestFailure {
    /// The file (`keywords/replies.toml`).
    pub file: std::path::PathBuf,
    /// The case's index in `[[tests]]`.
    pub index: usize,
    /// The case's mention text.
    pub text: String,
    /// The template expected, or `none`.
    pub expected: String,
    /// The template chosen, or `none: why`.
    pub got: String,
    /// Expected pieces missing from the rendered reply.
    pub missing: Vec<String>,
}

impl std::fmt::Display for ReplyTestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: tests[{}]: {:?} got {}, expected {}",
            self.file.display(),
            self.index,
            self.text,
            self.got,
            self.expected
        )?;
        if !self.missing.is_empty() {
            write!(f, "; the reply lacks {:?}", self.missing)?;
        }
        Ok(())
    }
}

/// Runs the test cases of `replies.toml`: each text is classified with the keyword rules, as
/// the listener would, then drafted (as a Bluesky mention, at a fixed time).
pub fn run_file_tests(
    replies: &Replies,
    groups: &[crate::classify::keywords::KeywordGroup],
) -> Result<Vec<ReplyTestFailure>, String> {
    let classifier = crate::classify::Classifier::new(groups).map_err(|e| e.to_string())?;
    let drafter = Drafter::new(
        replies.clone(),
        chrono_tz::Asia::Shanghai,
        BTreeMap::new(),
        [("bluesky".to_string(), "bluesky".to_string())]
            .into_iter()
            .collect(),
    );
    let at = DateTime::from_timestamp(1_796_083_200, 0).unwrap_or_default();
    let mut failures = Vec::new();
    for t in &replies.tests {
        let author = t.author.clone().unwrap_or_else(|| "customer.test".into());
        let c = classifier.classify(&t.text, Some(&author));
        let mention = crate::listen::Mention {
            id: format!("test:{}", t.index),
            platform: "bluesky".into(),
            author,
            text: t.text.clone(),
            created_at: at,
            url: None,
            lang: t.lang.clone(),
            in_reply_to: None,
            author_followers: None,
            verified: None,
        };
        let stored = StoredMention::new(mention, "test", &c);
        let (got, text) = match drafter.draft(&stored, at) {
            Verdict::Draft(item) => (item.template.clone(), item.text.clone()),
            Verdict::Skip(why) => (format!("none: {why}"), String::new()),
        };
        let got_name = if got.starts_with("none") {
            "none"
        } else {
            got.as_str()
        };
        let missing: Vec<String> = t
            .contains
            .iter()
            .filter(|piece| !text.contains(piece.as_str()))
            .cloned()
            .collect();
        if got_name != t.expect || !missing.is_empty() {
            failures.push(ReplyTestFailure {
                file: replies.path.clone(),
                index: t.index,
                text: t.text.clone(),
                expected: t.expect.clone(),
                got,
                missing,
            });
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::inbox::Priority;

    fn drafter() -> (Drafter, crate::classify::Classifier) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&dir).expect("keywords");
        let replies = crate::inbox::templates::load(&dir.join("replies.toml"))
            .expect("replies.toml is valid")
            .expect("replies.toml exists");
        let d = Drafter::new(
            replies,
            chrono_tz::Asia::Shanghai,
            [("sky-mentions".to_string(), "sky".to_string())]
                .into_iter()
                .collect(),
            [("mastodon".to_string(), "masto".to_string())]
                .into_iter()
                .collect(),
        );
        (
            d,
            crate::classify::Classifier::new(&groups).expect("classifier"),
        )
    }

    fn mention(
        c: &crate::classify::Classifier,
        source: &str,
        platform: &str,
        author: &str,
        text: &str,
    ) -> StoredMention {
        let m = crate::listen::Mention {
            id: format!("{platform}:1"),
            platform: platform.into(),
            author: author.into(),
            text: text.into(),
            created_at: DateTime::from_timestamp(1_796_083_200, 0).expect("t"),
            url: None,
            lang: None,
            in_reply_to: None,
            author_followers: None,
            verified: None,
        };
        StoredMention::new(m, source, &c.classify(text, Some(author)))
    }

    fn now() -> DateTime<Utc> {
        // 2026-12-01 10:00 in Chengdu.
        DateTime::from_timestamp(1_796_090_400, 0).expect("t")
    }

    #[test]
    fn the_checked_in_templates_pass_their_own_tests_and_each_is_tested() {
        let (d, _) = drafter();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = crate::classify::keywords::load_dir(&dir).expect("keywords");
        let failures = run_file_tests(&d.replies, &groups).expect("run");
        assert!(
            failures.is_empty(),
            "{}",
            failures
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        for t in &d.replies.templates {
            assert!(
                d.replies.tests.iter().any(|c| c.expect == t.name),
                "template {} has no test case",
                t.name
            );
        }
        for lang in ["zh", "en"] {
            assert!(d.replies.tests.iter().any(|c| c.expect == "none"));
            assert!(d.replies.templates.iter().any(|t| t.lang == lang));
        }
    }

    #[test]
    fn crisis_is_flagged_first_and_routed_to_the_sources_own_channel() {
        let (d, c) = drafter();
        let m = mention(
            &c,
            "sky-mentions",
            "bluesky",
            "alice.test",
            "新车刹车失灵了，太危险，我要投诉！",
        );
        let Verdict::Draft(item) = d.draft(&m, now()) else {
            panic!("no draft")
        };
        assert_eq!((item.priority, item.crisis), (Priority::Crisis, true));
        assert_eq!(item.template, "crisis-safety-zh");
        assert_eq!(item.channel.as_deref(), Some("sky"));
        assert_eq!(
            item.due_at - item.created_at,
            chrono::TimeDelta::minutes(30)
        );
        assert!(item.text.starts_with("@alice.test "), "{}", item.text);
        assert!(
            !item.text.contains("刹车失灵"),
            "the mention is never quoted: {}",
            item.text
        );
        assert_eq!(item.audit.len(), 1);
        assert_eq!(item.audit[0].text_after, item.text);
    }

    #[test]
    fn leads_carry_their_grade_and_links_their_source_code() {
        let (d, c) = drafter();
        let m = mention(
            &c,
            "masto-mentions",
            "mastodon",
            "bob",
            "下周想试驾奇骏，电话13812345678",
        );
        let Verdict::Draft(item) = d.draft(&m, now()) else {
            panic!("no draft")
        };
        assert_eq!(item.priority, Priority::Lead);
        let lead = item.lead.as_ref().expect("lead");
        assert_eq!(
            (lead.grade.as_str(), lead.phone, lead.test_drive),
            ("hot", true, true)
        );
        assert_eq!(item.channel.as_deref(), Some("masto"), "by platform");
        assert_eq!(item.source_code, "masto.reply.lead-zh.20261201T1000");
        assert!(item.text.contains("奇骏"), "{}", item.text);
        assert!(item.text.contains("utm_source=masto&utm_medium=social&utm_campaign=reply&utm_content=masto.reply.lead-zh.20261201T1000"), "{}", item.text);
        assert!(!item.text.contains("13812345678"));
    }

    /// With `[web] public_url`, a reply's link goes out through the click redirect and its
    /// target is the tagged link; without it, nothing changes and there is no target.
    #[test]
    fn a_replys_link_goes_through_the_click_redirect_when_clicks_are_counted() {
        let (plain, c) = drafter();
        let base = url::Url::parse("https://go.example.com").expect("url");
        let counted = drafter().0.with_clicks(Some(base));
        let m = mention(
            &c,
            "masto-mentions",
            "mastodon",
            "bob",
            "下周想试驾奇骏，电话13812345678",
        );
        let (Verdict::Draft(with), Verdict::Draft(without)) =
            (counted.draft(&m, now()), plain.draft(&m, now()))
        else {
            panic!("no draft")
        };
        let code = "masto.reply.lead-zh.20261201T1000";
        assert_eq!(with.source_code, code);
        let redirect = format!("https://go.example.com/r/{code}");
        assert!(with.text.contains(&redirect), "{}", with.text);
        assert!(!with.text.contains("utm_"), "{}", with.text);
        let link = counted
            .click_link(&with, now())
            .expect("a counted reply has a target");
        assert_eq!(link.code, code);
        // The target is the very link the reply carries without the redirect.
        assert!(
            without.text.contains(&link.target),
            "{} not in {}",
            link.target,
            without.text
        );
        assert!(link.target.contains(&format!("utm_content={code}")));
        assert_eq!(plain.click_link(&without, now()), None);
        // A person who removed the link from the text: nothing to store.
        let mut edited = (*with).clone();
        edited.text = "电话联系您".into();
        assert_eq!(counted.click_link(&edited, now()), None);
    }

    #[test]
    fn no_draft_for_blacklisted_sensitive_own_or_idle_mentions() {
        let (d, c) = drafter();
        let cases = [
            ("spam-cars.bsky.social", "奇骏刹车失灵太可怕了", "blacklist"),
            ("alice.test", "加微信领取购车优惠", "blacklist"),
            (
                "ragebait@mastodon.example",
                "What about the X-Trail?",
                "sensitive",
            ),
            ("alice.test", "日产和政治有什么关系？", "sensitive"),
            ("@Brand.test", "欢迎到店看车！", "own post"),
            ("alice.test", "今天路过春熙路", "wants no answer"),
        ];
        for (author, text, why) in cases {
            match d.draft(&mention(&c, "x", "bluesky", author, text), now()) {
                Verdict::Skip(reason) => assert!(reason.contains(why), "{text}: {reason}"),
                Verdict::Draft(item) => panic!("{text}: drafted {}", item.template),
            }
        }
    }

    #[test]
    fn no_channel_for_a_forum_mention_is_kept_visible() {
        let (d, c) = drafter();
        let m = mention(&c, "forum", "rss", "某车主", "请问奇骏保养多少钱？");
        let Verdict::Draft(item) = d.draft(&m, now()) else {
            panic!("no draft")
        };
        assert_eq!(item.channel, None);
        assert!(
            !item.text.contains("某车主"),
            "a non-handle author is left out: {}",
            item.text
        );
        assert!(item.text.contains("utm_source=reply"), "{}", item.text);
    }

    #[test]
    fn every_template_fits_bluesky_and_mastodon_with_a_long_handle_and_product() {
        use unicode_segmentation::UnicodeSegmentation;
        let (d, _) = drafter();
        let topics = vec!["product/x-trail".to_string()];
        for t in &d.replies.templates {
            let (text, _) = d.render(
                t,
                "a-rather-long-customer-handle.bsky.social",
                &topics,
                &t.lang,
                Some("bluesky-jincheng-brand"),
                now(),
            );
            let shown = crate::platform::bluesky::RichText::parse(&text).text;
            let graphemes = shown.graphemes(true).count();
            assert!(
                graphemes <= crate::platform::bluesky::MAX_GRAPHEMES,
                "{}: {graphemes} graphemes on Bluesky",
                t.name
            );
            let weighted = crate::platform::mastodon::weighted_length(&text);
            assert!(
                weighted <= 500,
                "{}: {weighted} characters on Mastodon",
                t.name
            );
        }
    }

    #[test]
    fn handles_are_reduced_to_handle_characters() {
        assert_eq!(handle("@alice.test").as_deref(), Some("alice.test"));
        assert_eq!(
            handle("bob@mastodon.example").as_deref(),
            Some("bob@mastodon.example")
        );
        assert_eq!(handle("evil\u{1b}[2J"), None);
        assert_eq!(handle("名字 with space"), None);
        assert_eq!(handle(""), None);
    }

    #[test]
    fn language_from_tag_then_text() {
        assert_eq!(language(Some("zh-CN"), "hello"), "zh");
        assert_eq!(language(Some("en"), "奇骏"), "en");
        assert_eq!(language(None, "奇骏 is great"), "zh");
        assert_eq!(language(Some("ja"), "great car"), "en");
    }

    /// kill -9 between storing a mention and enqueueing its draft (the old ingest order) left
    /// complaints stored but never drafted: the start-up pass drafts them, once.
    #[test]
    fn a_mention_a_crash_left_undrafted_is_drafted_at_start_once() {
        let (d, c) = drafter();
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::store::Store::open(&dir.path().join("db")).expect("open");
        let mut complaint = mention(
            &c,
            "masto",
            "mastodon",
            "alice",
            "刹车失灵了，太危险，投诉！",
        );
        complaint.mention.created_at = now() - chrono::TimeDelta::hours(1);
        assert!(matches!(d.draft(&complaint, now()), Verdict::Draft(_)));
        let mut idle = mention(&c, "masto", "mastodon", "bob", "今天路过春熙路");
        idle.mention.id = "mastodon:2".into();
        idle.mention.created_at = complaint.mention.created_at;
        let mut stale = complaint.clone();
        stale.mention.id = "mastodon:3".into();
        stale.mention.author = "carol".into();
        stale.mention.created_at = now() - d.replies.expire_after - chrono::TimeDelta::hours(1);
        // The crash: mentions stored, drafts never written.
        for m in [&complaint, &idle, &stale] {
            assert!(store.mentions().insert(m).expect("insert"));
        }
        assert_eq!(draft_missing(&d, &store, now()).expect("repair"), 1);
        let item = store
            .queue()
            .item_for_mention(&complaint.mention.id)
            .expect("get")
            .expect("drafted");
        assert_eq!(item.state, ReplyState::Pending);
        assert!(
            !store.queue().is_queued("mastodon:2").expect("idle"),
            "wants no answer"
        );
        assert!(
            !store.queue().is_queued("mastodon:3").expect("stale"),
            "would only expire"
        );
        assert_eq!(draft_missing(&d, &store, now()).expect("again"), 0);
    }
}
