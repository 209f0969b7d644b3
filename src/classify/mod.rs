//! Classifying mentions: keyword rules (brand, products, competitors, crisis terms, blacklisted
//! and sensitive accounts), sentiment in Chinese and English, intent and lead grade. Pure: text
//! in, classification out; everything is compiled once in [`Classifier::new`].

pub mod intent;
pub mod keywords;
pub mod lead;
pub mod learned;
pub mod literals;
pub mod phrases;
pub mod sentiment;
pub mod weights;

#[cfg(test)]
mod accuracy;

use serde::{Deserialize, Serialize};

use keywords::{KeywordGroup, Match, Matcher};
use literals::{Hit, Literals};
use sentiment::{cues, Label, Scored, Sentiment};

/// Everything `herald classify` adds to a mention, and what the store keeps with it (the same
/// JSON: `sentiment`, `matches`, `intent`, `lead`). Whether it is a crisis is not a field of
/// its own: it is a match of the [`CRISIS_GROUP`] ([`Classification::is_crisis`]), so the two
/// can never disagree and the output contract stays as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub sentiment: Scored,
    #[serde(default)]
    pub matches: Vec<MatchOut>,
    #[serde(default)]
    pub intent: intent::Intent,
    #[serde(default)]
    pub lead: Option<lead::Lead>,
}

impl Classification {
    /// Whether a keyword of the crisis group matched (or the learned heads named a fault).
    pub fn is_crisis(&self) -> bool {
        self.matches.iter().any(|m| m.group == CRISIS_GROUP)
    }

    /// Whether the sentiment is negative.
    pub fn is_negative(&self) -> bool {
        self.sentiment.label == Label::Negative
    }

    /// `group/rule` of every keyword match, in match order.
    pub fn topics(&self) -> Vec<String> {
        self.matches
            .iter()
            .map(|m| format!("{}/{}", m.group, m.rule))
            .collect()
    }
}

/// A keyword match as the contract names its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What the one pass over a text found ([`Classifier::scan`]).
struct Pass {
    keyword_hits: Vec<Hit>,
    phrase_scan: phrases::Scan,
    cue_scan: cues::CueScan,
    fault_scan: learned::fault::FaultScan,
}

/// The compiled classifier.
#[derive(Debug)]
pub struct Classifier {
    matcher: Matcher,
    sentiment: Sentiment,
    /// The keyword literals, the intent and lead phrase heads, the sentiment cues, the
    /// contact literals (`@`, a phone number's start) and the fault vocabulary, found in one
    /// pass over the text; ids from `phrases_from` on are phrase heads, from `cues_from` on
    /// sentiment cues, from `contacts_from` on contact literals, from `faults_from` on the
    /// fault vocabulary's.
    literals: Literals,
    /// The learned heads and the fault vocabulary.
    learned: learned::Learned,
    phrases_from: u32,
    cues_from: u32,
    contacts_from: u32,
    faults_from: u32,
}

/// The keyword group whose matches count as crisis signals.
pub const CRISIS_GROUP: &str = "crisis";

/// Why a [`Classifier`] could not be built: the keyword rules, or a model embedded in the
/// binary (which only a bad build can break).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The keyword rules do not compile.
    #[error(transparent)]
    Keywords(#[from] keywords::CompileError),
    /// The embedded sentiment model or learned heads cannot be read.
    #[error(transparent)]
    Model(#[from] weights::WeightsError),
    /// The literals found in one pass (keywords, phrase heads, cues, contacts) cannot be
    /// searched together.
    #[error(transparent)]
    Literals(#[from] literals::LiteralsError),
}

impl Classifier {
    /// Compiles the keyword groups and loads the embedded sentiment model and learned heads.
    pub fn new(groups: &[KeywordGroup]) -> Result<Self, BuildError> {
        Self::with_heads(groups, learned::Learned::embedded()?)
    }

    /// A classifier with other learned heads than the embedded ones: the training and
    /// evaluation programs measure a weights file before it is committed (and while the
    /// committed one may be of an older feature version).
    pub fn with_heads(
        groups: &[KeywordGroup],
        learned: learned::Learned,
    ) -> Result<Self, BuildError> {
        let matcher = Matcher::new(groups)?;
        let mut all: Vec<String> = matcher.literals();
        let phrases_from = all.len() as u32;
        all.extend(phrases::head_literals().into_iter().map(String::from));
        let cues_from = all.len() as u32;
        all.extend(cues::patterns().map(String::from));
        let contacts_from = all.len() as u32;
        all.extend(phrases::CONTACT_LITERALS.map(String::from));
        let faults_from = all.len() as u32;
        all.extend(learned::fault::Vocabulary::literals().map(String::from));
        Ok(Self {
            matcher,
            sentiment: Sentiment::embedded()?,
            learned,
            literals: Literals::new(&all)?,
            phrases_from,
            cues_from,
            contacts_from,
            faults_from,
        })
    }

    /// Classifies one mention's text (and its author, for account rules).
    ///
    /// Sentiment and intent come from the learned heads ([`learned`]), fed by the same pass
    /// as the cue lists; a fault-vocabulary crisis (see [`learned::fault`]) is reported as a
    /// match of the `crisis` group with a `fault-…` rule, so everything downstream that
    /// watches crisis matches sees it.
    pub fn classify_learned(&self, text: &str, author: Option<&str>) -> Classification {
        let Pass {
            keyword_hits,
            phrase_scan,
            cue_scan,
            fault_scan,
        } = self.scan(text);
        let (logit, sum, question) = self.sentiment.logit_with_cues_and(
            text,
            cue_scan.hits(),
            learned::RowSum::new(self.learned.heads()),
        );
        let faults = fault_scan.faults();
        let flags = phrase_scan.flags();
        let heads = self.learned.finish(
            sum,
            text,
            faults,
            flags,
            question,
            learned::train::clamp_old(logit.total()),
        );
        let tilt = self.learned.tilt(text);
        let heads = self.learned.after_slang(tilt, fault_scan.named(), heads);
        let mut sentiment = Scored {
            label: heads.label(),
            score: heads.score(),
        };
        let mut matches: Vec<MatchOut> = self
            .matcher
            .matches_from(text, author, &keyword_hits)
            .into_iter()
            .map(Into::into)
            .collect();
        // A crisis term in a positive text is not a crisis ("can't complain", a recall
        // handled well, "没有任何异响").
        if sentiment.label == Label::Positive
            && heads.sentiment[2] >= learned::decide::DROP_CRISIS_P
        {
            matches.retain(|m| m.group != CRISIS_GROUP);
        }
        // A crisis term the text negates is not a crisis ("无事故", "没有任何异响", "no
        // recall"): the match goes when every place its term stands is negated.
        matches.retain(|m| {
            m.group != CRISIS_GROUP
                || m.term.is_empty()
                || !text.contains(m.term.as_str())
                || text
                    .match_indices(m.term.as_str())
                    .any(|(i, _)| !learned::fault::negated_before(text, i))
        });
        // A brand's or dealer's reply is neutral and never a crisis, whatever fault it
        // repeats back (the contract).
        let reply = learned::decide::dealer_reply(text, tilt);
        if reply {
            matches.retain(|m| m.group != CRISIS_GROUP);
            sentiment = Scored {
                label: Label::Neutral,
                score: 0.0,
            };
        }
        let keyword_crisis = matches.iter().any(|m| m.group == CRISIS_GROUP);
        let crisis = !reply
            && learned::decide::crisis(fault_scan.strong(), fault_scan.paired(), faults, &heads);
        if crisis || keyword_crisis {
            // Every crisis mention is negative (the contract).
            sentiment.label = Label::Negative;
            sentiment.score = sentiment.score.min(-heads.sentiment[0]);
        }
        if crisis && !keyword_crisis {
            if let Some((kind, term)) = self.learned.first_fault(text, faults) {
                matches.push(MatchOut {
                    group: CRISIS_GROUP.to_string(),
                    rule: kind.name().to_string(),
                    term: term.to_string(),
                });
            } else {
                matches.push(MatchOut {
                    group: CRISIS_GROUP.to_string(),
                    rule: "learned".to_string(),
                    term: String::new(),
                });
            }
        }
        let intent = learned::decide::intent(text, flags, &heads, crisis, keyword_crisis, tilt);
        // A complaint is negative (the contract), however calmly it is put ("保养换个机油
        // 要880", "rattle since day one").
        if intent == intent::Intent::Complaint && sentiment.label == Label::Neutral {
            sentiment = Scored {
                label: Label::Negative,
                score: -heads.sentiment[0],
            };
        }
        // The contract's rule: purchase intent grades a lead; any other intent with a
        // contact is cold.
        let lead_flags = if intent == intent::Intent::Purchase {
            flags | phrases::INTEREST
        } else {
            flags & !phrases::INTEREST
        };
        Classification {
            intent,
            lead: lead::from_cues(text, lead_flags),
            sentiment,
            matches,
        }
    }

    /// The one pass over the text: keyword terms (in Aho-Corasick order), phrase heads,
    /// sentiment cues, contacts, fault phrases.
    fn scan(&self, text: &str) -> Pass {
        let mut keyword_hits: Vec<Hit> = Vec::new();
        let mut phrase_scan = phrases::Scan::without_contacts();
        let mut cue_scan = cues::CueScan::default();
        let mut fault_scan = learned::fault::FaultScan::default();
        self.literals.find(text, |h| {
            if h.pattern < self.phrases_from {
                keyword_hits.push(h);
            } else if h.pattern < self.cues_from {
                let head = (h.pattern - self.phrases_from) as usize;
                phrase_scan.feed(text, head, h.start as usize, h.end as usize);
            } else if h.pattern < self.contacts_from {
                cue_scan.feed(text, (h.pattern - self.cues_from) as usize, h.start, h.end);
            } else if h.pattern < self.faults_from {
                let i = (h.pattern - self.contacts_from) as usize;
                phrase_scan.feed_contact(text, i, h.start as usize);
            } else {
                let i = (h.pattern - self.faults_from) as usize;
                let vocabulary = self.learned.vocabulary();
                fault_scan.feed(vocabulary, text, i, h.start as usize, h.end as usize);
            }
        });
        literals::sort_ac_order(&mut keyword_hits);
        Pass {
            keyword_hits,
            phrase_scan,
            cue_scan,
            fault_scan,
        }
    }

    /// Classifies one mention's text (and its author, for account rules): what herald uses
    /// (`herald classify`, the ingest stage, `herald replay`). It is the learned classifier
    /// ([`Classifier::classify_learned`]), chosen by measurement: better than the cue lists on
    /// the unseen car mentions and no worse by more than 2 points on any public test split
    /// (see *Learned classifiers* in docs/listening.md).
    pub fn classify(&self, text: &str, author: Option<&str>) -> Classification {
        self.classify_learned(text, author)
    }

    /// The cue-list classifier herald used before the learned one: the cue lists and the
    /// binary sentiment model. Kept as the baseline `herald-eval-classify` measures beside
    /// [`Classifier::classify`].
    pub fn classify_cues(&self, text: &str, author: Option<&str>) -> Classification {
        // One pass finds the keyword terms, the phrase heads of intent and lead, the
        // sentiment cues and the contact literals; each part then reads its own hits (the
        // fault phrases are found too, and not read: the cue lists know no faults).
        let Pass {
            keyword_hits,
            phrase_scan,
            cue_scan,
            ..
        } = self.scan(text);
        let sentiment = self.sentiment.classify_with_cues(text, cue_scan.hits());
        let matches = self.matcher.matches_from(text, author, &keyword_hits);
        let crisis = matches.iter().any(|m| m.group == CRISIS_GROUP);
        let cues = phrase_scan.flags();
        Classification {
            intent: intent::from_cues(cues, sentiment.score, crisis),
            lead: lead::from_cues(text, cues),
            sentiment,
            matches: matches.into_iter().map(Into::into).collect(),
        }
    }
}

/// Parses one line of the Mention contract (docs/contracts.md), keeping unknown fields: `id`,
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

    /// The one-pass pipeline (as the cue-list classifier reads it) gives what its parts give
    /// on their own (each with its own search), on texts made of pieces of every literal
    /// involved.
    #[test]
    fn one_pass_equals_the_parts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = keywords::load_dir(&dir).expect("keywords/");
        let c = Classifier::new(&groups).expect("classifier");
        let mut pieces: Vec<String> = c.matcher.literals();
        pieces.extend(phrases::head_literals().into_iter().map(String::from));
        pieces.extend(cues::patterns().map(String::from));
        pieces.extend(
            [
                " ",
                "，",
                "。",
                "!",
                "?",
                "13812345678",
                "+86 ",
                "a@b.cn",
                "好",
                "不",
                "not",
                "good",
                "很满意",
                "太差了",
                "\n",
                "…",
                "3个月内",
                "next month",
            ]
            .map(String::from),
        );
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..5_000 {
            let mut text = String::new();
            for _ in 0..next(8) + 1 {
                text.push_str(&pieces[next(pieces.len())]);
            }
            let got = c.classify_cues(&text, Some("someone.example"));
            let sentiment = c.sentiment.classify(&text);
            let matches: Vec<MatchOut> = c
                .matcher
                .matches(&text, Some("someone.example"))
                .into_iter()
                .map(Into::into)
                .collect();
            let crisis = matches.iter().any(|m| m.group == CRISIS_GROUP);
            let cues = phrases::scan(&text);
            let want = Classification {
                sentiment,
                intent: intent::from_cues(cues, sentiment.score, crisis),
                lead: lead::from_cues(&text, cues),
                matches,
            };
            assert_eq!(got, want, "{text:?}");
        }
    }

    /// The learned pipeline reports a fault named in other words as a crisis match, reads the
    /// mention as a negative complaint, and keeps the contract's lead rule.
    #[test]
    fn learned_pipeline_flags_faults_and_keeps_the_lead_rule() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = keywords::load_dir(&dir).expect("keywords/");
        let c = Classifier::new(&groups).expect("classifier");
        let got = c.classify_learned(
            "高速上120码方向盘突然变重，转向助力失效，差点冲出护栏",
            None,
        );
        assert!(
            got.matches
                .iter()
                .any(|m| m.group == CRISIS_GROUP && m.rule == "fault-steering"),
            "{got:?}"
        );
        assert_eq!(got.sentiment.label, Label::Negative);
        assert_eq!(got.intent, intent::Intent::Complaint);
        // A contact in a complaint is cold, whatever purchase words it holds.
        let got = c.classify_learned("刹车失灵了，想退车重新买，电话13812345678", None);
        assert_eq!(got.lead.map(|l| l.grade), Some(lead::Grade::Cold));
        // Praise of a car names no fault.
        let got = c.classify_learned("刹车脚感很好，底盘扎实，很满意", None);
        assert!(
            got.matches.iter().all(|m| m.group != CRISIS_GROUP),
            "{got:?}"
        );
        // A dealer's reply that repeats a fault back is neutral, other and no crisis; with a
        // number it is a cold lead.
        let got = c.classify_learned(
            "您好，关于您反映的刹车失灵问题我们非常重视，请联系服务经理 13812345678",
            None,
        );
        assert_eq!(got.sentiment.label, Label::Neutral, "{got:?}");
        assert_eq!(got.intent, intent::Intent::Other);
        assert!(!got.is_crisis(), "{got:?}");
        assert_eq!(got.lead.map(|l| l.grade), Some(lead::Grade::Cold));
        // Words with harmless senses make no crisis outside a negative text.
        for text in [
            "全系标配6个安全气囊和AEB自动紧急制动，落地价多少？",
            "This car is fire, the launch control is insane",
        ] {
            let got = c.classify_learned(text, None);
            assert!(!got.is_crisis(), "{text}: {got:?}");
        }
        // A noise is a quality complaint, not a crisis.
        let got = c.classify_learned("副驾门板异响，去了三次店里都没修好", None);
        assert!(!got.is_crisis(), "{got:?}");
        assert!(got.matches.iter().any(|m| m.group == "quality"), "{got:?}");
        assert_eq!(got.sentiment.label, Label::Negative);
    }

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
