//! Behaviour of the embedded model: the cases the requirement names, table-driven, and a
//! minimum accuracy on hand-written car-brand mentions.

use super::*;

fn model() -> Sentiment {
    Sentiment::embedded().expect("the committed model.bin loads")
}

#[test]
fn negation_flips() {
    let s = model();
    let table = [
        ("好", "不好"),
        ("很满意", "不满意"),
        ("喜欢", "不喜欢"),
        ("推荐", "不推荐"),
        ("值得", "不值得"),
        ("质量很好", "质量不太好"),
        ("good", "not good"),
        ("the service was good", "the service was not good"),
        ("I like this car", "I don't like this car"),
        ("I would recommend it", "I would never recommend it"),
    ];
    for (plain, negated) in table {
        let (a, b) = (s.classify(plain), s.classify(negated));
        assert_eq!(a.label, Label::Positive, "{plain}: {a:?}");
        assert_eq!(b.label, Label::Negative, "{negated}: {b:?}");
    }
    // And the other way: a negated complaint is not a complaint.
    for (plain, negated) in [("有问题", "没有问题"), ("bad", "not bad")] {
        let (a, b) = (s.classify(plain), s.classify(negated));
        assert!(b.score > a.score, "{negated} {b:?} vs {plain} {a:?}");
    }
}

#[test]
fn sarcasm_markers_push_negative() {
    let s = model();
    let table = [
        ("售后真是太好了", "售后真是太好了…呵呵"),
        ("great service", "great service /s"),
        (
            "Great, another recall.",
            "Great, another recall. Just great… not",
        ),
        (
            "love waiting at the dealer",
            "love waiting at the dealer 🙄",
        ),
        ("这服务真行", "这服务真行啊，呵呵"),
    ];
    for (plain, sarcastic) in table {
        let (a, b) = (s.classify(plain), s.classify(sarcastic));
        assert!(b.score < a.score, "{sarcastic}: {b:?} vs {a:?}");
        assert_eq!(b.label, Label::Negative, "{sarcastic}: {b:?}");
        assert!(s.logit(sarcastic).sarcasm, "{sarcastic}");
    }
}

#[test]
fn emoji_carry_sentiment() {
    let s = model();
    let table = [
        ("😡", Label::Negative),
        ("👍", Label::Positive),
        ("提车了 👍", Label::Positive),
        ("提车了 😡", Label::Negative),
        ("picked up the car today 😍", Label::Positive),
        ("picked up the car today 🤬", Label::Negative),
        ("售后 [怒]", Label::Negative),
        ("提车了 :)", Label::Positive),
        ("提车了 :(", Label::Negative),
    ];
    for (text, want) in table {
        assert_eq!(
            s.classify(text).label,
            want,
            "{text}: {:?}",
            s.classify(text)
        );
    }
}

#[test]
fn mixed_chinese_and_english() {
    let s = model();
    let table = [
        ("这个dealer太坑了，hidden fees一大堆", Label::Negative),
        ("这次service真的很nice，非常满意", Label::Positive),
        ("车机bug太多，很烦", Label::Negative),
        ("试驾体验great，推荐", Label::Positive),
    ];
    for (text, want) in table {
        assert_eq!(
            s.classify(text).label,
            want,
            "{text}: {:?}",
            s.classify(text)
        );
    }
}

#[test]
fn empty_text_is_neutral() {
    let s = model();
    for text in ["", "   ", "\n\t", "\u{FE0F}"] {
        assert_eq!(
            s.classify(text),
            Scored {
                label: Label::Neutral,
                score: 0.0
            },
            "{text:?}"
        );
    }
}

#[test]
fn deterministic_and_bounded() {
    let (a, b) = (model(), model());
    for text in [
        "提车一个月了，油耗很低，非常满意！",
        "Waited four hours for an oil change.",
        "这个dealer太坑了",
        "!!!???",
    ] {
        let x = a.classify(text);
        assert_eq!(x, a.classify(text), "{text}");
        assert_eq!(x, b.classify(text), "{text}");
        assert!((-1.0..=1.0).contains(&x.score), "{text}: {x:?}");
    }
}

#[test]
fn labels_serialise_lowercase() {
    let json = serde_json::to_string(&Scored {
        label: Label::Negative,
        score: -0.5,
    })
    .expect("serialises");
    assert_eq!(json, r#"{"label":"negative","score":-0.5}"#);
    let back: Label = serde_json::from_str("\"neutral\"").expect("parses");
    assert_eq!(back, Label::Neutral);
}

/// The acceptance test: hand-written mentions of a car brand and its dealers (Chinese, English,
/// mixed; praise, complaints, questions), written before the model was trained.
#[test]
fn embedded_model_reads_car_mentions() {
    let src = include_str!("../../../tests/fixtures/sentiment_mentions.tsv");
    let s = model();
    let mut n = 0;
    let mut right = 0;
    let mut polar = 0;
    let mut polar_right = 0;
    let mut misses = Vec::new();
    for line in src
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (label, text) = line.split_once('\t').expect("label<TAB>text");
        let want: Label = serde_json::from_str(&format!("\"{label}\"")).expect("a label");
        let got = s.classify(text);
        n += 1;
        if got.label == want {
            right += 1;
        } else {
            misses.push(format!(
                "{label:>8} {:>8} {:+.2} {text}",
                got.label.as_str(),
                got.score
            ));
        }
        if want != Label::Neutral {
            polar += 1;
            if (got.score > 0.0) == (want == Label::Positive) {
                polar_right += 1;
            }
        }
    }
    assert_eq!(n, 60);
    let accuracy = right as f64 / n as f64;
    let sign = polar_right as f64 / polar as f64;
    assert!(
        accuracy >= MIN_FIXTURE_ACCURACY && sign >= MIN_FIXTURE_SIGN,
        "3-class accuracy {accuracy:.3} (min {MIN_FIXTURE_ACCURACY}), sign accuracy {sign:.3} \
         (min {MIN_FIXTURE_SIGN}); misses:\n{}",
        misses.join("\n")
    );
}

/// Floors a few points under what the shipped model reaches, so a worse retrain fails.
/// The shipped model: 0.967 (58/60) and 1.000 (42/42); the one before VADER's rules were a
/// feature: 0.817 and 1.000.
const MIN_FIXTURE_ACCURACY: f64 = 0.90;
const MIN_FIXTURE_SIGN: f64 = 0.95;
