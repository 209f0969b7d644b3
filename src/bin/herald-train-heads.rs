//! Trains herald's learned heads (three-class sentiment, complaint, the five intents and crisis)
//! on the public data sets and the measurement set's tuning half.
//!
//! ```text
//! cargo run --release --bin herald-train-heads -- \
//!     --data DATA --out src/classify/learned/heads.bin
//! ```
//!
//! `--data` is the shared data folder: the public sets under `sentiment/` train (see
//! `herald::classify::learned::data` for the splits and label mappings). The sentiment
//! offsets are calibrated per script: for text with a Han character on the tuning half of
//! `mentions/car_mentions_dev.jsonl` (even FNV-1a of the id; its texts are scored, never
//! printed), for any other text on the public sets' held-out development splits (SemEval-2017's
//! dev files; never a test split). `--without-car` leaves the car-forum set
//! out (for the cross-domain figure: train without car, measure on car).
//!
//! `--in-domain-weight W` (W > 0) also trains on the measurement set's tuning half, each text
//! weighing W, with its sentiment and whether its intent is a complaint, after the set's
//! invented brands, models and dealers (as its README lists them, [`MASKED`]) are blanked out,
//! so no weight learns a brand. The tuning half is then cross-validated in `--folds` parts
//! (by the FNV-1a hash of the id): each part is scored by a model trained without it, the
//! Han-script offsets are calibrated on those out-of-fold scores, and the program prints the
//! out-of-fold figures (the only fair figures on that half once it is trained on). The unseen
//! half is never read here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use herald::classify::intent::Intent;
use herald::classify::keywords;
use herald::classify::learned::data::{self, Half, Labelled, LabelledMention};
use herald::classify::learned::eval::{mention_figures, Prediction};
use herald::classify::learned::train::{self, calibrate_offsets, Featuriser, HeadsConfig, Sample};
use herald::classify::learned::{has_han, Heads, Learned, COLUMNS, CRISIS_COLUMN, INTENT_COLUMNS};
use herald::classify::sentiment::Sentiment;
use herald::classify::{Classifier, CRISIS_GROUP};

#[derive(Debug, Parser)]
#[command(about = "Train herald's learned sentiment and complaint heads")]
struct Cli {
    /// The shared data folder (with sentiment/ and mentions/).
    #[arg(long)]
    data: PathBuf,
    /// Where to write the weights.
    #[arg(long, default_value = "src/classify/learned/heads.bin")]
    out: PathBuf,
    /// log2 of the number of rows.
    #[arg(long, default_value_t = 17)]
    bits: u32,
    /// Passes over the data (with the tuning half trained on, five read it better out of fold
    /// than three or ten; without, three read it better than five, ten or twenty).
    #[arg(long, default_value_t = 5)]
    epochs: u32,
    /// AdaGrad base rate.
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f32,
    /// At most this many training texts from one set (a seeded sample of bigger ones).
    #[arg(long, default_value_t = 20_000)]
    cap: usize,
    /// Weight of a Chinese text relative to an English one.
    #[arg(long, default_value_t = 2.0)]
    zh_weight: f32,
    /// Offset added to the intent head's `other` logit when the tuning half is trained on (out
    /// of fold on the tuning half, 0.25
    /// read intent best of -0.5, 0, 0.25, 0.5, 0.75 and 1: 0.821 against 0.815 without; 0.75
    /// and over took praise and questions for other).
    #[arg(long, default_value_t = 0.25)]
    other_offset: f32,
    /// Offset added to the complaint logit.
    #[arg(long, default_value_t = 0.0)]
    complaint_offset: f32,
    /// Leave the development texts that calibrate Latin-script offsets (SemEval-2017's dev
    /// files) out of training.
    #[arg(long)]
    hold_out_dev: bool,
    /// Leave the car-forum set out of training.
    #[arg(long)]
    without_car: bool,
    /// Weight of a tuning-half mention as a training text (0: the tuning half only calibrates;
    /// 16 read it best out of fold of 1, 2, 4, 8, 16, 32, 64 and 128, within about a point).
    #[arg(long, default_value_t = 16.0)]
    in_domain_weight: f32,
    /// Cross-validation parts of the tuning half when it is trained on.
    #[arg(long, default_value_t = 5)]
    folds: u64,
    /// The keyword groups (for the out-of-fold figures: the crisis group counts as a flag).
    #[arg(long, default_value = "keywords")]
    keywords: PathBuf,
    /// Write the tuning-half mentions the out-of-fold models read wrong here (JSON Lines: the
    /// text, the gold labels and the predictions), for error analysis on the tuning half only.
    #[arg(long)]
    oof_errors: Option<PathBuf>,
}

/// The intent head's `other` column.
const OTHER_COLUMN: usize = INTENT_COLUMNS.start + 4;

/// The measurement set's invented brands, models and dealers as its README lists them (never
/// read from its texts), longest first where one holds another. They are blanked out of
/// in-domain training texts.
const MASKED: &[&str] = &[
    "杭州北辰西湖4S店",
    "澜越成都天府4S店",
    "骁川广州番禺店",
    "云朔深圳南山4S店",
    "Corvane Lakeside",
    "Stellmar of Denver",
    "Harborview Brightwell",
    "北辰",
    "澜越",
    "骁川",
    "云朔",
    "Corvane",
    "Stellmar",
    "Brightwell",
    "Harborview",
    "Lakeside",
    "西湖",
    "天府",
    "番禺",
    "南山",
    "R5 EV",
    "C5",
    "C7",
    "iX",
    "L6",
    "L9",
    "Pro",
    "R3",
    "R5",
    "Y7",
    "Max",
    "Ridge",
    "Vela",
    "S4",
    "Quill",
    "BW7",
];

/// `text` with every [`MASKED`] name blanked (an ASCII name only where it stands as a word).
fn mask(text: &str, names: &aho_corasick::AhoCorasick) -> String {
    let bytes = text.as_bytes();
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in names.find_iter(text) {
        let ascii = MASKED[m.pattern().as_usize()].is_ascii();
        let whole =
            !word(m.start().checked_sub(1).and_then(|i| bytes.get(i))) && !word(bytes.get(m.end()));
        if ascii && !whole {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        out.push(' ');
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// The cross-validation part of a tuning-half mention (other hash bits than the half's).
fn fold_of(id: &str, folds: u64) -> u64 {
    (data::fnv1a(id) >> 1) % folds
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let t0 = Instant::now();
    let public =
        data::load_public(&cli.data.join("sentiment")).context("reading the public sets")?;
    let mut samples = Vec::new();
    let mut rng = herald::rng::Rng::new(0x5A3F_1E5E_0000_0001);
    for set in &public {
        if set.train.is_empty() || (cli.without_car && set.name == "ccf-car") {
            continue;
        }
        let held: std::collections::HashSet<&str> = if cli.hold_out_dev {
            set.dev.iter().map(|l| l.text.as_str()).collect()
        } else {
            Default::default()
        };
        let mut take: Vec<&Labelled> = set
            .train
            .iter()
            .filter(|l| !held.contains(l.text.as_str()))
            .collect();
        for i in (1..take.len()).rev() {
            let j = rng.below(i + 1);
            take.swap(i, j);
        }
        let available = take.len();
        take.truncate(cli.cap);
        // The complaints set labels complaint or not; its sentiment is not labelled.
        let sentiment_known = set.name != "complaints-twitter";
        for l in take {
            samples.push(Sample {
                text: l.text.clone(),
                sentiment: sentiment_known.then_some(l.label),
                complaint: l.complaint,
                intent: None,
                crisis: None,
                weight: if has_han(&l.text) { cli.zh_weight } else { 1.0 },
            });
        }
        eprintln!("{}: {} training texts", set.name, available.min(cli.cap));
    }
    eprintln!(
        "{} samples loaded in {:.1} s",
        samples.len(),
        t0.elapsed().as_secs_f64()
    );
    let sentiment = Sentiment::embedded().context("the binary sentiment model")?;
    let featuriser = Featuriser::new(sentiment.clone());
    let cfg = HeadsConfig {
        bits: cli.bits,
        epochs: cli.epochs,
        learning_rate: cli.learning_rate,
        ..HeadsConfig::default()
    };
    let mentions = data::load_mentions(&cli.data.join("mentions/car_mentions_dev.jsonl"))
        .context("reading the car mentions")?;
    let tuning: Vec<&LabelledMention> = mentions
        .iter()
        .filter(|m| data::half_of(&m.id) == Half::Tuning)
        .collect();
    let latin_dev: Vec<&Labelled> = public
        .iter()
        .flat_map(|set| &set.dev)
        .filter(|l| !has_han(&l.text))
        .collect();
    let names = aho_corasick::AhoCorasickBuilder::new()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(MASKED)
        .context("the masked names")?;
    let in_domain = |keep: &dyn Fn(&LabelledMention) -> bool| -> Vec<Sample> {
        if cli.in_domain_weight <= 0.0 {
            return Vec::new();
        }
        tuning
            .iter()
            .filter(|m| keep(m))
            .map(|m| Sample {
                text: mask(&m.text, &names),
                sentiment: Some(m.gold.sentiment),
                complaint: Some(m.gold.intent == Intent::Complaint),
                intent: Some(m.gold.intent),
                crisis: Some(m.gold.crisis),
                weight: cli.in_domain_weight,
            })
            .collect()
    };
    let latin_offsets = |learned: &Learned| {
        let scored: Vec<_> = latin_dev
            .iter()
            .map(|l| (train::score(learned, &sentiment, &l.text), l.label))
            .collect();
        calibrate_offsets(&scored)
    };
    let with_offsets = |mut heads: Heads, [oz, op]: [f32; 2], [lz, lp]: [f32; 2]| {
        heads.offset = [0.0; COLUMNS];
        heads.offset_latin = [0.0; COLUMNS];
        (heads.offset[1], heads.offset[2]) = (oz, op);
        (heads.offset_latin[1], heads.offset_latin[2]) = (lz, lp);
        if cli.in_domain_weight > 0.0 {
            heads.offset[OTHER_COLUMN] = cli.other_offset;
            heads.offset_latin[OTHER_COLUMN] = cli.other_offset;
        } else {
            // Only the car mentions teach the intent and crisis heads. Untrained, the intent
            // head's outputs stay equal (the cue rules decide), and the crisis head's P(crisis)
            // of 0.5 would flag every negative text, so it is switched off.
            heads.offset[CRISIS_COLUMN] = -20.0;
            heads.offset_latin[CRISIS_COLUMN] = -20.0;
        }
        heads.offset[3] = cli.complaint_offset;
        heads.offset_latin[3] = cli.complaint_offset;
        heads
    };

    // The Han-script offsets are calibrated on the tuning half: on the heads' own scores when
    // it is not trained on, else on out-of-fold scores (each part scored by the model trained
    // without it).
    let mut han_scored = Vec::new();
    if cli.in_domain_weight > 0.0 {
        let mut folds = Vec::new();
        for k in 0..cli.folds {
            let mut fold_samples = samples.clone();
            fold_samples.extend(in_domain(&|m| fold_of(&m.id, cli.folds) != k));
            let heads = train::train(&fold_samples, &featuriser, &cfg);
            let learned = Learned::from_heads(heads.clone());
            for m in tuning.iter().filter(|m| fold_of(&m.id, cli.folds) == k) {
                han_scored.push((
                    train::score(&learned, &sentiment, &m.text),
                    m.gold.sentiment,
                ));
            }
            let latin = latin_offsets(&learned);
            folds.push((heads, latin));
            eprintln!("fold {k} trained at {:.1} s", t0.elapsed().as_secs_f64());
        }
        let han = calibrate_offsets(&han_scored);
        let groups = keywords::load_dir_or_message(&cli.keywords).map_err(anyhow::Error::msg)?;
        let mut pred = Vec::new();
        let mut gold = Vec::new();
        let mut errors = String::new();
        for (k, (heads, latin)) in folds.into_iter().enumerate() {
            let classifier = Classifier::with_heads(
                &groups,
                Learned::from_heads(with_offsets(heads, han, latin)),
            )
            .map_err(|e| anyhow::anyhow!("building the classifier: {e}"))?;
            for m in tuning
                .iter()
                .filter(|m| fold_of(&m.id, cli.folds) == k as u64)
            {
                let c = classifier.classify_learned(&m.text, m.author.as_deref());
                let p = Prediction {
                    sentiment: c.sentiment.label,
                    intent: c.intent,
                    lead: c.lead.as_ref().map(|l| l.grade),
                    crisis_match: c.matches.iter().any(|m| m.group == CRISIS_GROUP),
                };
                if p.sentiment != m.gold.sentiment
                    || p.intent != m.gold.intent
                    || p.lead != m.gold.lead
                    || p.crisis_match != m.gold.crisis
                {
                    let line = serde_json::json!({
                        "id": m.id,
                        "text": m.text,
                        "gold": format!("{:?}", m.gold),
                        "pred": format!("{p:?}"),
                        "score": c.sentiment.score,
                    });
                    errors.push_str(&line.to_string());
                    errors.push('\n');
                }
                pred.push(p);
                gold.push(m.gold);
            }
        }
        if let Some(path) = &cli.oof_errors {
            std::fs::write(path, &errors).with_context(|| format!("writing {}", path.display()))?;
        }
        let f = mention_figures(&pred, &gold);
        let recalls = |r: &[Option<f64>]| {
            r.iter()
                .map(|r| r.map_or("-".into(), |r| format!("{r:.2}")))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "out-of-fold on the tuning half ({} parts, n {}, in-domain weight {}): sentiment {:.3} \
             (macro-F1 {:.3}, recall {}), intent {:.3} (macro-F1 {:.3}, recall {}), lead {:.3} \
             ({}), crisis R / P {:.3} / {:.3}",
            cli.folds,
            pred.len(),
            cli.in_domain_weight,
            f.sentiment.accuracy,
            f.sentiment.macro_f1,
            recalls(&f.sentiment.recall),
            f.intent.accuracy,
            f.intent.macro_f1,
            recalls(&f.intent.recall),
            f.lead.0,
            f.lead.1,
            f.crisis.recall(),
            f.crisis.precision(),
        );
    }
    samples.extend(in_domain(&|_| true));
    let heads = train::train(&samples, &featuriser, &cfg);
    eprintln!("trained in {:.1} s", t0.elapsed().as_secs_f64());
    let learned = Learned::from_heads(heads.clone());
    if han_scored.is_empty() {
        han_scored = tuning
            .iter()
            .map(|m| {
                (
                    train::score(&learned, &sentiment, &m.text),
                    m.gold.sentiment,
                )
            })
            .collect();
    }
    let [oz, op] = calibrate_offsets(&han_scored);
    eprintln!("Han-script offsets on the tuning half: neutral {oz:+.1}, positive {op:+.1}");
    // Latin-script text: calibrated on the public development splits (never a test split).
    let [lz, lp] = latin_offsets(&learned);
    eprintln!(
        "Latin-script offsets on {} development texts: neutral {lz:+.1}, positive {lp:+.1}",
        latin_dev.len()
    );
    let heads = with_offsets(heads, [oz, op], [lz, lp]);
    let bytes = heads.to_bytes();
    std::fs::write(&cli.out, &bytes).with_context(|| format!("writing {}", cli.out.display()))?;
    eprintln!("wrote {} ({} KiB)", cli.out.display(), bytes.len() / 1024);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_blanked_whole_and_other_words_kept() {
        let names = aho_corasick::AhoCorasickBuilder::new()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(MASKED)
            .expect("names");
        assert_eq!(mask("杭州北辰西湖4S店的C7刹车发软", &names), " 的 刹车发软");
        assert_eq!(
            mask(
                "My Corvane Ridge pulls left; Maximum warranty, C70 fine",
                &names
            ),
            "My     pulls left; Maximum warranty, C70 fine"
        );
        assert_eq!(mask("Pro版续航", &names), " 版续航");
    }

    #[test]
    fn folds_cover_every_part() {
        let parts: std::collections::HashSet<u64> = (0..200)
            .map(|i| fold_of(&format!("weibo:{i}"), 5))
            .collect();
        assert_eq!(parts.len(), 5);
    }
}
