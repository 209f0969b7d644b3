//! Measures herald's classifier on labelled data and prints one table, the cue-list
//! classifier (`old`, `Classifier::classify_cues`) beside the learned one herald uses (`new`).
//!
//! ```text
//! herald-eval-classify DATA [--keywords keywords]
//! ```
//!
//! `DATA` is the shared data folder: `DATA/mentions/car_mentions_dev.jsonl` (split by the FNV-1a
//! hash of each `id`: even is the tuning half, odd the unseen half; only figures are printed,
//! never a text) and the public sets under `DATA/sentiment/` (see
//! `herald::classify::learned::data` for their splits and label mappings).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use herald::classify::keywords;
use herald::classify::learned::data::{self, Half, LabelledMention};
use herald::classify::learned::eval::{
    class_figures, mention_figures, ClassFigures, FlagFigures, Prediction, LABELS,
};
use herald::classify::learned::{Heads, Learned};
use herald::classify::sentiment::Label;
use herald::classify::{intent::Intent, Classification, Classifier, CRISIS_GROUP};

#[derive(Debug, Parser)]
#[command(about = "Measure herald's classifier (old cue lists and new learned models)")]
struct Cli {
    /// The data folder (with mentions/ and sentiment/).
    data: PathBuf,
    /// The keyword groups (the crisis group counts as a crisis flag).
    #[arg(long, default_value = "keywords")]
    keywords: PathBuf,
    /// Measure these learned heads instead of the embedded ones.
    #[arg(long)]
    heads: Option<PathBuf>,
    /// Print the new classifier's misses on the tuning half (never the unseen half), texts
    /// escaped, for tuning.
    #[arg(long)]
    tuning_misses: bool,
    /// Only the car mentions (skip the public sets).
    #[arg(long)]
    mentions_only: bool,
    /// Also print the new classifier's intent and lead confusion matrices on each half
    /// (counts only, no texts).
    #[arg(long)]
    confusion: bool,
}

/// Prints a confusion matrix of `(predicted, gold)` pairs: a row per gold class.
fn confusion<T: PartialEq + Copy + std::fmt::Debug>(title: &str, pairs: &[(T, T)], classes: &[T]) {
    println!("\n{title} (rows gold, columns predicted)\n");
    let names: Vec<String> = classes.iter().map(|c| format!("{c:?}")).collect();
    println!("| gold \\ predicted | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(classes.len()));
    for (g, name) in classes.iter().zip(&names) {
        let row: Vec<String> = classes
            .iter()
            .map(|p| {
                pairs
                    .iter()
                    .filter(|(pp, gg)| pp == p && gg == g)
                    .count()
                    .to_string()
            })
            .collect();
        println!("| {name} | {} |", row.join(" | "));
    }
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

type Run = fn(&Classifier, &str, Option<&str>) -> Classification;

const CLASSIFIERS: [(&str, Run); 2] = [
    ("old", Classifier::classify_cues),
    ("new", Classifier::classify_learned),
];

fn prediction(c: &Classification) -> Prediction {
    Prediction {
        sentiment: c.sentiment.label,
        intent: c.intent,
        lead: c.lead.as_ref().map(|l| l.grade),
        crisis_match: c.matches.iter().any(|m| m.group == CRISIS_GROUP),
    }
}

fn pct(x: f64) -> String {
    format!("{x:.3}")
}

fn recalls(f: &ClassFigures) -> String {
    f.recall
        .iter()
        .map(|r| r.map_or("-".into(), |r| format!("{r:.2}")))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn min_f1(f: &ClassFigures) -> String {
    let m = f.f1.iter().flatten().fold(f64::MAX, |a, &b| a.min(b));
    format!("{m:.2}")
}

fn flag(f: &FlagFigures) -> String {
    format!(
        "{:.3} / {:.3} ({}/{}, {} flagged)",
        f.recall(),
        f.precision(),
        f.hit,
        f.gold,
        f.flagged
    )
}

fn run(cli: Cli) -> Result<()> {
    let groups = keywords::load_dir_or_message(&cli.keywords).map_err(anyhow::Error::msg)?;
    let classifier = match &cli.heads {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let heads = Heads::from_bytes(&bytes).with_context(|| path.display().to_string())?;
            Classifier::with_heads(&groups, Learned::from_heads(heads))
        }
        None => Classifier::new(&groups),
    }
    .map_err(|e| anyhow::anyhow!("building the classifier: {e}"))?;
    let mentions = data::load_mentions(&cli.data.join("mentions/car_mentions_dev.jsonl"))
        .context("reading the car mentions")?;
    let (tuning, unseen): (Vec<LabelledMention>, Vec<LabelledMention>) = mentions
        .into_iter()
        .partition(|m| data::half_of(&m.id) == Half::Tuning);

    if cli.tuning_misses {
        for m in &tuning {
            let c = classifier.classify_learned(&m.text, m.author.as_deref());
            let p = prediction(&c);
            let g = m.gold;
            if p.sentiment != g.sentiment
                || p.intent != g.intent
                || p.lead != g.lead
                || p.crisis_match != g.crisis
            {
                println!(
                    "gold {:?}/{:?}/{:?}/{} got {:?}/{:?}/{:?}/{} {:+.2} {:?}",
                    g.sentiment,
                    g.intent,
                    g.lead,
                    g.crisis,
                    p.sentiment,
                    p.intent,
                    p.lead,
                    p.crisis_match,
                    c.sentiment.score,
                    m.text.escape_debug().to_string()
                );
            }
        }
        return Ok(());
    }
    println!("## Car mentions (sentiment recall neg / neu / pos; intent recall complaint / question / purchase / praise / other)\n");
    println!("| half | n | clf | sentiment acc | macro-F1 | min F1 | recall | intent acc | macro-F1 | min F1 | recall | lead acc (n) | crisis R / P (match) | crisis R (neg or match) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (half, set) in [("tuning", &tuning), ("unseen", &unseen)] {
        let gold: Vec<_> = set.iter().map(|m| m.gold).collect();
        for (name, run) in CLASSIFIERS {
            let pred: Vec<Prediction> = set
                .iter()
                .map(|m| prediction(&run(&classifier, &m.text, m.author.as_deref())))
                .collect();
            let f = mention_figures(&pred, &gold);
            if cli.confusion && name == "new" {
                let intents: Vec<_> = pred
                    .iter()
                    .zip(&gold)
                    .map(|(p, g)| (p.intent, g.intent))
                    .collect();
                confusion(
                    &format!("{half}: intent"),
                    &intents,
                    &herald::classify::learned::eval::INTENTS,
                );
                let leads: Vec<_> = pred
                    .iter()
                    .zip(&gold)
                    .map(|(p, g)| (p.lead, g.lead))
                    .collect();
                use herald::classify::lead::Grade::*;
                confusion(
                    &format!("{half}: lead"),
                    &leads,
                    &[None, Some(Hot), Some(Warm), Some(Cold), Some(Unvalued)],
                );
                println!();
            }
            println!(
                "| {half} | {} | {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {:.3} |",
                set.len(),
                pct(f.sentiment.accuracy),
                pct(f.sentiment.macro_f1),
                min_f1(&f.sentiment),
                recalls(&f.sentiment),
                pct(f.intent.accuracy),
                pct(f.intent.macro_f1),
                min_f1(&f.intent),
                recalls(&f.intent),
                pct(f.lead.0),
                f.lead.1,
                flag(&f.crisis),
                f.crisis_loose.recall(),
            );
        }
    }
    throughput(
        &classifier,
        tuning.iter().chain(&unseen).map(|m| m.text.as_str()),
    );
    if cli.mentions_only {
        return Ok(());
    }
    let public =
        data::load_public(&cli.data.join("sentiment")).context("reading the public sets")?;
    println!("\n## Public test splits (sentiment; 2-class sets count the score's sign; complaint = intent complaint)\n");
    println!("| set | what | n | clf | sentiment acc | macro-F1 | recall neg / neu / pos | complaint R / P |");
    println!("|---|---|---|---|---|---|---|---|");
    for set in &public {
        for (name, run) in CLASSIFIERS {
            let mut pairs = Vec::new();
            let mut complaint = Vec::new();
            for l in &set.test {
                let c = run(&classifier, &l.text, None);
                let label = if l.binary {
                    if c.sentiment.score > 0.0 {
                        Label::Positive
                    } else {
                        Label::Negative
                    }
                } else {
                    c.sentiment.label
                };
                pairs.push((label, l.label));
                if let Some(g) = l.complaint {
                    complaint.push((c.intent == Intent::Complaint, g));
                }
            }
            let f = class_figures(&pairs, &LABELS);
            let comp = if complaint.is_empty() {
                "-".to_string()
            } else {
                let f = FlagFigures::of(complaint);
                format!("{:.3} / {:.3}", f.recall(), f.precision())
            };
            println!(
                "| {} | {} | {} | {name} | {} | {} | {} | {comp} |",
                set.name,
                set.what,
                set.test.len(),
                pct(f.accuracy),
                pct(f.macro_f1),
                recalls(&f),
            );
        }
    }
    Ok(())
}

/// Times both pipelines on the texts (repeated to about 50,000), best of 3 runs each, run
/// alternately on this thread; prints mentions per second.
fn throughput<'a>(classifier: &Classifier, texts: impl Iterator<Item = &'a str>) {
    let texts: Vec<&str> = texts.collect();
    if texts.is_empty() {
        return;
    }
    let reps = (50_000 / texts.len()).max(1);
    let mut best = [f64::MAX; 2];
    for _ in 0..3 {
        for (k, (_, run)) in CLASSIFIERS.iter().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                for text in &texts {
                    std::hint::black_box(run(classifier, std::hint::black_box(text), None));
                }
            }
            best[k] = best[k].min(t.elapsed().as_secs_f64());
        }
    }
    let n = (reps * texts.len()) as f64;
    println!(
        "\npipeline on the car mentions, one thread, best of 3: old {:.0} mentions/s, new {:.0} mentions/s\n",
        n / best[0],
        n / best[1]
    );
}
