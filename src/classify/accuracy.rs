//! Intent and lead-grade accuracy on hand-labelled mentions: `tests/fixtures/intent_mentions.tsv`
//! (240 Chinese, English and mixed car-dealer mentions) and `tests/fixtures/intent_tuning.tsv`
//! (400 more, written apart from the first), both labelled without looking at the rules.
//!
//! The rules were tuned on the first file's even-numbered lines (the development half) and on
//! the tuning set; the first file's odd lines are the held-out half, so its figure is the one
//! to quote. `HERALD_EVAL_VERBOSE=1` prints the confusion tables, and every miss of the
//! development half and the tuning set.

use std::collections::BTreeMap;

use super::intent::Intent;
use super::lead::Grade;
use super::{keywords, Classifier};

const FIXTURE: &str = include_str!("../../tests/fixtures/intent_mentions.tsv");
const TUNING: &str = include_str!("../../tests/fixtures/intent_tuning.tsv");

/// One labelled mention.
struct Case<'a> {
    intent: &'a str,
    lead: &'a str,
    text: &'a str,
}

fn cases() -> Vec<Case<'static>> {
    parse(FIXTURE)
}

fn parse(src: &'static str) -> Vec<Case<'static>> {
    src.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let (intent, lead, text) = (f.next(), f.next(), f.next());
            let (Some(intent), Some(lead), Some(text)) = (intent, lead, text) else {
                panic!("intent<TAB>lead<TAB>text: {l}");
            };
            Case { intent, lead, text }
        })
        .collect()
}

fn intent_name(i: Intent) -> &'static str {
    match i {
        Intent::Complaint => "complaint",
        Intent::Question => "question",
        Intent::Praise => "praise",
        Intent::Purchase => "purchase",
        Intent::Other => "other",
    }
}

fn lead_name(g: Option<Grade>) -> &'static str {
    match g {
        Some(Grade::Hot) => "hot",
        Some(Grade::Warm) => "warm",
        Some(Grade::Cold) => "cold",
        Some(Grade::Unvalued) => "unvalued",
        None => "none",
    }
}

/// Right answers and confusion counts (want, got) of one half.
#[derive(Default)]
struct Tally {
    n: usize,
    intent_right: usize,
    lead_right: usize,
    intent: BTreeMap<(&'static str, &'static str), usize>,
    misses: Vec<String>,
}

/// The fixture's development half (even lines) or held-out half (odd lines).
fn half(held_out: bool) -> Vec<Case<'static>> {
    cases()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (i % 2 == 1) == held_out)
        .map(|(_, c)| c)
        .collect()
}

/// Which classifier a tally measures.
#[derive(Clone, Copy, PartialEq)]
enum Which {
    /// The cue lists alone (`Classifier::classify_cues`), which were tuned on these sets.
    Baseline,
    /// The learned heads (`Classifier::classify_learned`, what `classify` uses), never tuned
    /// on these sets.
    Learned,
}

fn measure(c: &Classifier, cases: Vec<Case<'static>>) -> Tally {
    measure_with(c, cases, Which::Baseline)
}

fn measure_with(c: &Classifier, cases: Vec<Case<'static>>, which: Which) -> Tally {
    let mut t = Tally::default();
    for case in cases {
        let got = match which {
            Which::Baseline => c.classify_cues(case.text, None),
            Which::Learned => c.classify_learned(case.text, None),
        };
        let (intent, lead) = (
            intent_name(got.intent),
            lead_name(got.lead.as_ref().map(|l| l.grade)),
        );
        t.n += 1;
        t.intent_right += usize::from(intent == case.intent);
        t.lead_right += usize::from(lead == case.lead);
        let want: &'static str = match case.intent {
            "complaint" => "complaint",
            "question" => "question",
            "praise" => "praise",
            "purchase" => "purchase",
            "other" => "other",
            other => panic!("unknown intent label {other:?}"),
        };
        *t.intent.entry((want, intent)).or_default() += 1;
        if intent != case.intent || lead != case.lead {
            t.misses.push(format!(
                "{:>9}/{:<9} got {:>9}/{:<9} {:+.2} {}",
                case.intent, case.lead, intent, lead, got.sentiment.score, case.text
            ));
        }
    }
    t
}

fn report(name: &str, t: &Tally, misses: bool) {
    eprintln!(
        "{name}: {} mentions, intent {:.3} ({}), lead grade {:.3} ({})",
        t.n,
        t.intent_right as f64 / t.n as f64,
        t.intent_right,
        t.lead_right as f64 / t.n as f64,
        t.lead_right
    );
    for ((want, got), n) in &t.intent {
        if want != got {
            eprintln!("  {want:>9} read as {got:<9} {n}");
        }
    }
    if misses {
        for m in &t.misses {
            eprintln!("  {m}");
        }
    }
}

#[test]
fn intent_and_lead_grade_on_labelled_mentions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
    let groups = keywords::load_dir(&dir).expect("keywords/");
    let c = Classifier::new(&groups).expect("classifier");
    assert_eq!(cases().len(), 240);
    assert_eq!(parse(TUNING).len(), 400);
    let dev = measure(&c, half(false));
    let held_out = measure(&c, half(true));
    let tuning = measure(&c, parse(TUNING));
    let verbose = std::env::var_os("HERALD_EVAL_VERBOSE").is_some();
    if verbose {
        report("development half", &dev, true);
        report("tuning set", &tuning, true);
        report("held-out half", &held_out, false);
    }
    let rate = |right: usize, t: &Tally| right as f64 / t.n as f64;
    for (name, t, min_intent) in [
        ("development half", &dev, MIN_INTENT_DEV),
        ("tuning set", &tuning, MIN_INTENT_TUNING),
        ("held-out half", &held_out, MIN_INTENT_HELD_OUT),
    ] {
        assert!(
            rate(t.intent_right, t) >= min_intent && rate(t.lead_right, t) >= MIN_LEAD,
            "{name}: intent {:.3} (min {min_intent}), lead {:.3} (min {MIN_LEAD}); misses:\n{}",
            rate(t.intent_right, t),
            rate(t.lead_right, t),
            t.misses.join("\n")
        );
    }
}

/// Floors a few points under what the shipped rules reach, so a rule change that loses
/// accuracy fails. Intent on the development half / tuning set / held-out half: the shipped
/// rules 0.892 / 0.767 / 0.708, the rules before these fixtures existed 0.625 / 0.542 / 0.575;
/// lead grade 0.950 / 0.932 / 0.958, before 0.858 / 0.840 / 0.925.
const MIN_INTENT_DEV: f64 = 0.85;
const MIN_INTENT_TUNING: f64 = 0.73;
const MIN_INTENT_HELD_OUT: f64 = 0.67;
const MIN_LEAD: f64 = 0.90;

/// The learned classifier on the same sets. It was never tuned on them (its thresholds were set
/// on the tuning half of an independent measurement set), while the cue lists above were, so
/// it scores below them here; these floors sit a little under what it reaches, so a change that
/// loses accuracy on them fails.
#[test]
fn learned_intent_and_lead_grade_on_labelled_mentions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
    let groups = keywords::load_dir(&dir).expect("keywords/");
    let c = Classifier::new(&groups).expect("classifier");
    let rate = |right: usize, t: &Tally| right as f64 / t.n as f64;
    for (name, cases, min_intent, min_lead) in [
        (
            "development half",
            half(false),
            MIN_LEARNED_INTENT_DEV,
            MIN_LEARNED_LEAD_DEV,
        ),
        (
            "tuning set",
            parse(TUNING),
            MIN_LEARNED_INTENT_TUNING,
            MIN_LEARNED_LEAD_TUNING,
        ),
        (
            "held-out half",
            half(true),
            MIN_LEARNED_INTENT_HELD_OUT,
            MIN_LEARNED_LEAD_HELD_OUT,
        ),
    ] {
        let t = measure_with(&c, cases, Which::Learned);
        if std::env::var_os("HERALD_EVAL_VERBOSE").is_some() {
            report(name, &t, false);
        }
        assert!(
            rate(t.intent_right, &t) >= min_intent && rate(t.lead_right, &t) >= min_lead,
            "learned, {name}: intent {:.3} (min {min_intent}), lead {:.3} (min {min_lead})",
            rate(t.intent_right, &t),
            rate(t.lead_right, &t),
        );
    }
}

/// Measured: intent 0.758 / 0.688 / 0.783, lead grade 0.933 / 0.873 / 0.908 (development half /
/// tuning set / held-out half; 0.713 on the tuning set before the intent head; before the car
/// mentions' tuning half was trained on 0.708 / 0.682 / 0.733 and 0.933 / 0.850 / 0.892); the cue lists, tuned on these sets, 0.892 / 0.767
/// / 0.708 and 0.950 / 0.932 / 0.958.
const MIN_LEARNED_INTENT_DEV: f64 = 0.72;
const MIN_LEARNED_INTENT_TUNING: f64 = 0.66;
const MIN_LEARNED_INTENT_HELD_OUT: f64 = 0.74;
const MIN_LEARNED_LEAD_DEV: f64 = 0.91;
const MIN_LEARNED_LEAD_TUNING: f64 = 0.84;
const MIN_LEARNED_LEAD_HELD_OUT: f64 = 0.87;
