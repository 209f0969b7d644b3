//! Reading the labelled data the learned models are trained and measured on: the car-mention
//! measurement set (JSON Lines, gold sentiment, intent, lead and crisis) and the public
//! sentiment and complaint sets, with each set's labels mapped to herald's three sentiment
//! classes as its `SOURCE.md` describes. Paths come from the caller; nothing here is embedded.
//!
//! Fixed splits hash a stable key (an id, or the text), never the file order:
//! [`half_of`] splits the measurement set into its tuning half (even FNV-1a of the `id`) and
//! its unseen half (odd); [`split_part`] splits the public sets.

use std::path::{Path, PathBuf};

use super::super::intent::Intent;
use super::super::lead::Grade;
use super::super::sentiment::train::{parse_csv, strip_weibo_emoticons, DataError};
use super::super::sentiment::Label;

pub use super::super::sentiment::train::split_part;

/// Which half of the measurement set a mention falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// Rules and settings may be tuned on it.
    Tuning,
    /// Measured only: its texts are never read by a person.
    Unseen,
}

/// A stable 64-bit FNV-1a hash.
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The half of the measurement set a mention with this `id` belongs to: even FNV-1a hash of
/// the id is the tuning half.
pub fn half_of(id: &str) -> Half {
    if fnv1a(id) % 2 == 0 {
        Half::Tuning
    } else {
        Half::Unseen
    }
}

/// The gold labels of a labelled mention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MentionGold {
    /// How it reflects on the brand.
    pub sentiment: Label,
    /// What the author wants.
    pub intent: Intent,
    /// The lead grade, `None` for no lead.
    pub lead: Option<Grade>,
    /// A safety or mass-complaint risk.
    pub crisis: bool,
}

/// One labelled mention.
#[derive(Debug, Clone)]
pub struct LabelledMention {
    /// Its id (the split key).
    pub id: String,
    /// Its author.
    pub author: Option<String>,
    /// Its text.
    pub text: String,
    /// The labels.
    pub gold: MentionGold,
}

/// Parses a sentiment label's name.
pub fn parse_label(s: &str) -> Option<Label> {
    match s {
        "negative" => Some(Label::Negative),
        "neutral" => Some(Label::Neutral),
        "positive" => Some(Label::Positive),
        _ => None,
    }
}

/// Parses an intent's name.
pub fn parse_intent(s: &str) -> Option<Intent> {
    match s {
        "complaint" => Some(Intent::Complaint),
        "question" => Some(Intent::Question),
        "purchase" => Some(Intent::Purchase),
        "praise" => Some(Intent::Praise),
        "other" => Some(Intent::Other),
        _ => None,
    }
}

/// Parses a lead grade's name (`null` and absent are no lead).
pub fn parse_grade(s: Option<&str>) -> Option<Option<Grade>> {
    match s {
        None => Some(None),
        Some("hot") => Some(Some(Grade::Hot)),
        Some("warm") => Some(Some(Grade::Warm)),
        Some("cold") => Some(Some(Grade::Cold)),
        Some("unvalued") => Some(Some(Grade::Unvalued)),
        Some(_) => None,
    }
}

fn format_error(path: &Path, line: usize, why: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        line,
        why: why.into(),
    }
}

fn read(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses labelled mentions, one JSON object a line with `id`, `text`, `author` and `gold` =
/// {`sentiment`, `intent`, `lead`, `crisis`}.
pub fn parse_mentions(src: &str, path: &Path) -> Result<Vec<LabelledMention>, DataError> {
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format_error(path, i + 1, e.to_string()))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str());
        let g = |k: &str| v.get("gold").and_then(|x| x.get(k));
        let (Some(id), Some(text)) = (s("id"), s("text")) else {
            return Err(format_error(path, i + 1, "no id or text"));
        };
        let sentiment = g("sentiment")
            .and_then(|x| x.as_str())
            .and_then(parse_label);
        let intent = g("intent").and_then(|x| x.as_str()).and_then(parse_intent);
        let lead = parse_grade(g("lead").and_then(|x| x.as_str()));
        let crisis = g("crisis").and_then(|x| x.as_bool());
        let (Some(sentiment), Some(intent), Some(lead), Some(crisis)) =
            (sentiment, intent, lead, crisis)
        else {
            return Err(format_error(path, i + 1, "gold labels missing or unknown"));
        };
        out.push(LabelledMention {
            id: id.to_string(),
            author: s("author").map(str::to_string),
            text: text.to_string(),
            gold: MentionGold {
                sentiment,
                intent,
                lead,
                crisis,
            },
        });
    }
    Ok(out)
}

/// Reads a labelled-mentions file.
pub fn load_mentions(path: &Path) -> Result<Vec<LabelledMention>, DataError> {
    parse_mentions(&read(path)?, path)
}

/// A text with a three-class sentiment label (`Some`), and whether it is a complaint when the
/// set says (`complaint`).
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// The text.
    pub text: String,
    /// Its sentiment.
    pub label: Label,
    /// A question about the car mentions is answered by the intent head; the public sets only
    /// say complaint or not (`complaints_twitter`, the airline tweets' complaint reasons, the
    /// car forum's negative aspects).
    pub complaint: Option<bool>,
    /// Whether the set holds only two classes (review sets: no neutral gold).
    pub binary: bool,
}

/// A named public set, split.
#[derive(Debug, Clone)]
pub struct PublicSet {
    /// Short name for tables.
    pub name: &'static str,
    /// Language and domain.
    pub what: &'static str,
    /// For training (empty when the set is only measured: a cross-domain test).
    pub train: Vec<Labelled>,
    /// The development texts calibration may use (empty for most sets; never the test). They
    /// are in `train` too: a trainer that holds them out filters them from it.
    pub dev: Vec<Labelled>,
    /// For measuring.
    pub test: Vec<Labelled>,
}

fn labelled(text: &str, label: Label, complaint: Option<bool>) -> Labelled {
    Labelled {
        text: text.replace('\u{FEFF}', "").trim().to_string(),
        label,
        complaint,
        binary: false,
    }
}

fn split(
    items: Vec<(String, Labelled)>,
    test_parts: u64,
    parts: u64,
) -> (Vec<Labelled>, Vec<Labelled>) {
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (key, l) in items {
        if l.text.is_empty() {
            continue;
        }
        if split_part(&key, parts) < test_parts {
            test.push(l);
        } else {
            train.push(l);
        }
    }
    (train, test)
}

/// SemEval-2017 task 4A: `id<TAB>label<TAB>text`. The 2013–2016 GOLD files train; their
/// development files (name with `dev`: 2013 dev, 2016 dev and devtest) are also the `dev` that
/// calibrates the offsets of Latin-script text; the 2017 test is the test.
fn semeval(dir: &Path) -> Result<PublicSet, DataError> {
    let parse = |path: &Path, out: &mut Vec<Labelled>| -> Result<(), DataError> {
        for line in read(path)?.lines() {
            let mut f = line.splitn(3, '\t');
            let (Some(_), Some(label), Some(text)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if let Some(l) = parse_label(label.trim()) {
                let text = unescape_u(text);
                out.push(labelled(&text, l, None));
            }
        }
        Ok(())
    };
    let mut train = Vec::new();
    let mut dev = Vec::new();
    let gold = dir.join("semeval2017_task4/GOLD/Subtask_A");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&gold)
        .map_err(|source| DataError::Read {
            path: gold.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && !p.ends_with("README.txt"))
        .collect();
    names.sort();
    for p in &names {
        let is_dev = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains("dev"));
        if is_dev {
            parse(p, &mut dev)?;
        }
        parse(p, &mut train)?;
    }
    let mut test = Vec::new();
    parse(
        &dir.join("semeval2017_task4/test2017/SemEval2017-task4-test.subtask-A.english.txt"),
        &mut test,
    )?;
    Ok(PublicSet {
        name: "semeval2017-A",
        what: "en tweets; 2013-16 train, 2017 test",
        train,
        dev,
        test,
    })
}

/// Undoes the literal `\uXXXX` escapes of some SemEval files.
fn unescape_u(text: &str) -> String {
    if !text.contains("\\u") {
        return text
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 6);
        match hex
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
        {
            Some(c) => {
                out.push(c);
                rest = &rest[i + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn csv_rows(path: &Path) -> Result<Vec<Vec<String>>, DataError> {
    Ok(parse_csv(&read(path)?)
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Twitter US Airline: neg/neu/pos; a negative tweet with a complaint reason is a complaint.
/// 20 % by tweet id is the test.
fn airline(dir: &Path) -> Result<PublicSet, DataError> {
    let rows = csv_rows(&dir.join("twitter_airline/Tweets.csv"))?;
    let mut items = Vec::new();
    for r in rows.iter().skip(1) {
        if r.len() < 11 {
            continue;
        }
        let Some(label) = parse_label(r[1].trim()) else {
            continue;
        };
        let reason = r[3].trim();
        let complaint = label == Label::Negative && !reason.is_empty() && reason != "Can't Tell";
        let text = r[10].replace("&amp;", "&");
        items.push((
            format!("airline-{}", r[0]),
            labelled(&text, label, Some(complaint)),
        ));
    }
    let (train, test) = split(items, 1, 5);
    Ok(PublicSet {
        name: "twitter-airline",
        what: "en customer-service tweets; 20% by id",
        train,
        dev: Vec::new(),
        test,
    })
}

/// CCF BDCI 2018 car forum posts: a post with any −1 aspect is negative (and a complaint),
/// else any +1 is positive, else neutral. 20 % by content id is the test.
fn ccf_car(dir: &Path) -> Result<PublicSet, DataError> {
    let rows = csv_rows(&dir.join("ccf_bdci2018_car/train_2.csv"))?;
    let mut posts: std::collections::BTreeMap<String, (String, bool, bool)> = Default::default();
    for r in rows.iter().skip(1) {
        if r.len() < 4 {
            continue;
        }
        let e = posts
            .entry(r[0].trim().to_string())
            .or_insert_with(|| (r[1].clone(), false, false));
        match r[3].trim() {
            "-1" => e.1 = true,
            "1" => e.2 = true,
            _ => {}
        }
    }
    let items = posts
        .into_iter()
        .map(|(id, (text, neg, pos))| {
            let label = if neg {
                Label::Negative
            } else if pos {
                Label::Positive
            } else {
                Label::Neutral
            };
            (format!("ccf-{id}"), labelled(&text, label, Some(neg)))
        })
        .collect();
    let (train, test) = split(items, 1, 5);
    Ok(PublicSet {
        name: "ccf-car",
        what: "zh car-forum posts; 20% by id",
        train,
        dev: Vec::new(),
        test,
    })
}

/// SMP2020-EWECT (usual): happy → positive; angry, sad, fear → negative; neutral → neutral;
/// surprise is left out (either way). The labelled eval (2,000) and 50 % of the test by id
/// train; the other half of the test is the test (the xlsx train file is not read).
fn smp2020(dir: &Path) -> Result<PublicSet, DataError> {
    let mut items = Vec::new();
    for (part, name) in [
        ("eval", "eval/usual_eval_labeled.txt"),
        ("test", "test/usual_test_labeled.txt"),
    ] {
        let path = dir.join("smp2020_ewect").join(name);
        let v: serde_json::Value = serde_json::from_str(&read(&path)?)
            .map_err(|e| format_error(&path, 1, e.to_string()))?;
        for o in v.as_array().into_iter().flatten() {
            let text = o.get("content").and_then(|x| x.as_str()).unwrap_or("");
            let id = o.get("id").map(|x| x.to_string()).unwrap_or_default();
            let label = match o.get("label").and_then(|x| x.as_str()) {
                Some("happy") => Label::Positive,
                Some("angry" | "sad" | "fear") => Label::Negative,
                Some("neutral") => Label::Neutral,
                _ => continue,
            };
            let key = if part == "eval" {
                // Always training: hash into the train side.
                String::new()
            } else {
                format!("smp-test-{id}")
            };
            items.push((key, labelled(&strip_weibo_emoticons(text), label, None)));
        }
    }
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (key, l) in items {
        if !key.is_empty() && split_part(&key, 2) == 0 {
            test.push(l);
        } else {
            train.push(l);
        }
    }
    Ok(PublicSet {
        name: "smp2020-weibo",
        what: "zh Weibo, emoticons stripped; half the test",
        train,
        dev: Vec::new(),
        test,
    })
}

/// Complaints in social media: complaint → negative complaint; not → neutral, not a
/// complaint (its sentiment is unlabelled, so this set only trains the complaint signal and
/// measures complaint detection). 20 % by tweet id is the test.
fn complaints(dir: &Path) -> Result<PublicSet, DataError> {
    let rows = csv_rows(&dir.join("complaints_twitter/complaints-data.csv"))?;
    let mut items = Vec::new();
    for r in &rows {
        if r.len() < 3 {
            continue;
        }
        let complaint = match r[2].trim() {
            "1" => true,
            "0" => false,
            _ => continue,
        };
        let label = if complaint {
            Label::Negative
        } else {
            Label::Neutral
        };
        items.push((
            format!("complaints-{}", r[0]),
            labelled(&r[1], label, Some(complaint)),
        ));
    }
    let (train, test) = split(items, 1, 5);
    Ok(PublicSet {
        name: "complaints-twitter",
        what: "en tweets to brands, complaint or not; 20% by id",
        train,
        dev: Vec::new(),
        test,
    })
}

/// Sanders (never trained on: a cross-domain test): pos/neg/neu, "irrelevant" left out.
fn sanders(dir: &Path) -> Result<PublicSet, DataError> {
    let rows = csv_rows(&dir.join("sanders_twitter/full-corpus.csv"))?;
    let test = rows
        .iter()
        .skip(1)
        .filter(|r| r.len() >= 5)
        .filter_map(|r| parse_label(r[1].trim()).map(|l| labelled(&r[4], l, None)))
        .collect();
    Ok(PublicSet {
        name: "sanders (x-domain)",
        what: "en tech-brand tweets; never trained on",
        train: Vec::new(),
        dev: Vec::new(),
        test,
    })
}

/// Windows-1252 bytes as text (the Latin-1 range, and the common 0x80–0x9F punctuation).
fn cp1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x91 | 0x92 => '\'',
            0x93 | 0x94 => '"',
            0x96 | 0x97 => '-',
            0x85 => '…',
            0x80..=0x9F => ' ',
            _ => char::from(b),
        })
        .collect()
}

/// Brand and product emotions (SXSW; never trained on: a cross-domain test): positive,
/// negative, no emotion → neutral; "I can't tell" left out.
fn brand_emotions(dir: &Path) -> Result<PublicSet, DataError> {
    let path = dir.join("brand_product_emotions/judge-1377884607_tweet_product_company.csv");
    let bytes = std::fs::read(&path).map_err(|source| DataError::Read {
        path: path.clone(),
        source,
    })?;
    let rows = parse_csv(&cp1252(&bytes));
    let test = rows
        .iter()
        .skip(1)
        .filter(|(_, r)| r.len() >= 3)
        .filter_map(|(_, r)| {
            let label = match r[2].trim() {
                "Positive emotion" => Label::Positive,
                "Negative emotion" => Label::Negative,
                "No emotion toward brand or product" => Label::Neutral,
                _ => return None,
            };
            Some(labelled(&r[0], label, None))
        })
        .collect();
    Ok(PublicSet {
        name: "brand-emotions (x-domain)",
        what: "en SXSW brand tweets; never trained on",
        train: Vec::new(),
        dev: Vec::new(),
        test,
    })
}

/// Two-class review sets (ChnSentiCorp, online shopping): trained on as extra Chinese
/// polarity; ChnSentiCorp test measured with neutral counted as a miss.
fn chnsenticorp(dir: &Path) -> Result<PublicSet, DataError> {
    let parse = |name: &str| -> Result<Vec<Labelled>, DataError> {
        let path = dir.join(name);
        Ok(
            super::super::sentiment::train::parse_label_tab(&read(&path)?, &path)?
                .into_iter()
                .map(|e| Labelled {
                    binary: true,
                    ..labelled(&e.text, e.gold.label(), None)
                })
                .collect(),
        )
    };
    let train = parse("chnsenticorp_train.tsv")?;
    let test = parse("chnsenticorp_test.tsv")?;
    Ok(PublicSet {
        name: "chnsenticorp",
        what: "zh reviews, 2-class; standard test",
        train,
        dev: Vec::new(),
        test,
    })
}

/// Weibo 2,400 with emoticons stripped (never trained on; 2-class).
fn weibo(dir: &Path) -> Result<PublicSet, DataError> {
    let path = dir.join("weibo_senti_2400.csv");
    let test = super::super::sentiment::train::parse_review_csv(&read(&path)?, &path)?
        .into_iter()
        .map(|e| Labelled {
            binary: true,
            ..labelled(&strip_weibo_emoticons(&e.text), e.gold.label(), None)
        })
        .filter(|l| !l.text.is_empty())
        .collect();
    Ok(PublicSet {
        name: "weibo-2400 (x-domain)",
        what: "zh Weibo, emoticons stripped, 2-class; never trained on",
        train: Vec::new(),
        dev: Vec::new(),
        test,
    })
}

/// Every public set, read from the `sentiment/` data folder.
pub fn load_public(dir: &Path) -> Result<Vec<PublicSet>, DataError> {
    Ok(vec![
        semeval(dir)?,
        airline(dir)?,
        complaints(dir)?,
        ccf_car(dir)?,
        smp2020(dir)?,
        chnsenticorp(dir)?,
        sanders(dir)?,
        brand_emotions(dir)?,
        weibo(dir)?,
    ])
}
