//! Trains herald's sentiment model on the public data sets and prints the evaluation table.
//!
//! ```text
//! cargo run --release --bin herald-train-sentiment -- \
//!     --data DATA/sentiment --out src/classify/sentiment/model.bin
//! herald-train-sentiment --data DIR --eval-only [--model FILE] [--dump-predictions FILE]
//! herald-train-sentiment --predict < texts.txt        # one text a line in, JSON lines out
//! ```
//!
//! A thin shell: the splits, the learner and the metrics are in `herald::classify::sentiment::train`.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use herald::classify::sentiment::train::{
    self, calibrate_neutral, figures, Corpus, Example, Featuriser, Figures, Gold, TrainConfig,
    Trainer,
};
use herald::classify::sentiment::{Label, Scored, Sentiment};

#[derive(Debug, Parser)]
#[command(about = "Train and measure herald's sentiment model")]
struct Cli {
    /// The folder with the public sentiment data (chnsenticorp_*.tsv, …).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where to write the trained weights.
    #[arg(long, default_value = "src/classify/sentiment/model.bin")]
    out: PathBuf,
    /// Do not train: measure a model (the embedded one unless --model is given).
    #[arg(long)]
    eval_only: bool,
    /// The weights file to measure with --eval-only.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Write every test prediction as JSON lines (for benches/compare_sentiment.py).
    #[arg(long)]
    dump_predictions: Option<PathBuf>,
    /// Hand-written car mentions (`label<TAB>text`) measured after the public sets.
    #[arg(long, default_value = "tests/fixtures/sentiment_mentions.tsv")]
    fixture: PathBuf,
    /// Classify the lines of standard input with the embedded model, print JSON lines.
    #[arg(long)]
    predict: bool,
    /// log2 of the number of hash buckets.
    #[arg(long)]
    bits: Option<u32>,
    /// Passes over the training data.
    #[arg(long)]
    epochs: Option<u32>,
    /// AdaGrad base learning rate.
    #[arg(long)]
    learning_rate: Option<f32>,
    /// L2 penalty.
    #[arg(long)]
    l2: Option<f32>,
    /// Weight of an English tweet relative to a Chinese review.
    #[arg(long)]
    tweet_weight: Option<f32>,
    /// Soft target of a tweet: sigmoid(k × rating).
    #[arg(long)]
    soft_k: Option<f32>,
    /// Multiplier of the learned logit for questions.
    #[arg(long)]
    question_damp: Option<f32>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.predict {
        return predict();
    }
    let Some(data) = cli.data.clone() else {
        bail!("--data DIR is required (the folder with chnsenticorp_train.tsv and the others)");
    };
    let t0 = Instant::now();
    let corpus = train::load_corpus(&data).context("loading the data")?;
    eprintln!(
        "loaded {} training texts ({} dropped: also in a test or validation set) in {:.1} s",
        corpus.train.len(),
        corpus.dropped_duplicates,
        t0.elapsed().as_secs_f64()
    );
    let fixture = load_fixture(&cli.fixture)?;
    let sentiment = if cli.eval_only {
        match &cli.model {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                Sentiment::from_bytes(&bytes).with_context(|| p.display().to_string())?
            }
            None => Sentiment::embedded().context("the embedded model")?,
        }
    } else {
        let sentiment = train_model(&cli, &corpus)?;
        let bytes = sentiment.model().to_bytes();
        std::fs::write(&cli.out, &bytes)
            .with_context(|| format!("writing {}", cli.out.display()))?;
        eprintln!(
            "wrote {} ({} KiB, 2^{} i16 weights)",
            cli.out.display(),
            bytes.len() / 1024,
            sentiment.model().bits
        );
        sentiment
    };
    let mut sets: Vec<(&str, &str, &[Example])> = corpus
        .test
        .iter()
        .map(|s| (s.name, s.role, s.examples.as_slice()))
        .collect();
    if let Some(f) = &fixture {
        sets.push(("car-mentions", "hand-written fixture, 3-class", f));
    }
    print_table(&sentiment, &sets);
    if let Some(path) = &cli.dump_predictions {
        dump(&sentiment, &sets, path)?;
        eprintln!("wrote predictions to {}", path.display());
    }
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn config(cli: &Cli) -> TrainConfig {
    let d = TrainConfig::default();
    TrainConfig {
        bits: cli.bits.unwrap_or(d.bits),
        epochs: cli.epochs.unwrap_or(d.epochs),
        learning_rate: cli.learning_rate.unwrap_or(d.learning_rate),
        l2: cli.l2.unwrap_or(d.l2),
        tweet_weight: cli.tweet_weight.unwrap_or(d.tweet_weight),
        soft_k: cli.soft_k.unwrap_or(d.soft_k),
        question_damp: cli.question_damp.unwrap_or(d.question_damp),
        seed: d.seed,
    }
}

fn train_model(cli: &Cli, corpus: &Corpus) -> Result<Sentiment> {
    let cfg = config(cli);
    if !(10..=24).contains(&cfg.bits) {
        bail!("--bits must be 10..24");
    }
    eprintln!("{cfg:?}");
    let t = Instant::now();
    let f = Featuriser::new();
    let docs: Vec<_> = corpus.train.iter().map(|e| f.doc(e, &cfg)).collect();
    let dev: Vec<(&str, Vec<_>, &[Example])> = corpus
        .dev
        .iter()
        .map(|s| {
            let docs = s.examples.iter().map(|e| f.doc(e, &cfg)).collect();
            (s.name, docs, s.examples.as_slice())
        })
        .collect();
    eprintln!("features extracted in {:.1} s", t.elapsed().as_secs_f64());
    let mut trainer = Trainer::new(cfg.clone());
    let mut neutral = 0.0;
    for epoch in 1..=cfg.epochs {
        let te = Instant::now();
        let loss = trainer.epoch(&docs);
        let mut line = format!("epoch {epoch}: loss {loss:.4}");
        for (name, docs, examples) in &dev {
            let scores: Vec<f32> = docs.iter().map(|d| trainer.score(d)).collect();
            let three = examples.iter().any(|e| matches!(e.gold, Gold::Rated(_)));
            if three {
                let pairs: Vec<(f32, Label)> = scores
                    .iter()
                    .zip(*examples)
                    .map(|(s, e)| (*s, e.gold.label()))
                    .collect();
                neutral = calibrate_neutral(&pairs);
            }
            let scored: Vec<Scored> = scores
                .iter()
                .map(|&score| Scored {
                    label: label_with(score, neutral),
                    score,
                })
                .collect();
            let fg = figures(examples, &scored);
            line += &format!("  {name} {}", short(&fg));
            if three {
                line += &format!(" (neutral |score| < {neutral:.2})");
            }
        }
        eprintln!("{line}  [{:.1} s]", te.elapsed().as_secs_f64());
    }
    eprintln!(
        "trained in {:.1} s (extraction included)",
        t.elapsed().as_secs_f64()
    );
    Ok(Sentiment::from_model(trainer.model(neutral)))
}

fn label_with(score: f32, neutral: f32) -> Label {
    if score >= neutral {
        Label::Positive
    } else if score <= -neutral {
        Label::Negative
    } else {
        Label::Neutral
    }
}

fn short(f: &Figures) -> String {
    match (f.macro_f1, f.sign_accuracy) {
        (Some(m), Some(s)) => format!("acc3 {:.3} F1 {m:.3} sign {s:.3}", f.accuracy),
        _ => format!("acc {:.3}", f.accuracy),
    }
}

fn print_table(s: &Sentiment, sets: &[(&str, &str, &[Example])]) {
    println!(
        "| set | role | n | accuracy | macro-F1 (3-class) | sign accuracy |\n|---|---|---|---|---|---|"
    );
    for (name, role, examples) in sets {
        let predicted: Vec<Scored> = examples.iter().map(|e| s.classify(&e.text)).collect();
        let f = figures(examples, &predicted);
        let opt = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.3}"));
        println!(
            "| {name} | {role} | {} | {:.3} | {} | {} |",
            f.n,
            f.accuracy,
            opt(f.macro_f1),
            opt(f.sign_accuracy)
        );
    }
}

fn load_fixture(path: &PathBuf) -> Result<Option<Vec<Example>>> {
    let Ok(src) = std::fs::read_to_string(path) else {
        eprintln!("no fixture at {} (skipped)", path.display());
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((label, text)) = line.split_once('\t') else {
            bail!("{}:{}: expected label<TAB>text", path.display(), i + 1);
        };
        // A rating of ±2 or 0 puts the mention in the same 3-class scheme as the tweets.
        let rating = match label {
            "positive" => 2.0,
            "negative" => -2.0,
            "neutral" => 0.0,
            other => bail!("{}:{}: unknown label {other:?}", path.display(), i + 1),
        };
        out.push(Example {
            text: text.to_string(),
            gold: Gold::Rated(rating),
        });
    }
    Ok(Some(out))
}

/// One JSON line per test text, then one line of herald's throughput per set, measured here by
/// classifying each set's texts repeatedly for at least half a second on this thread.
fn dump(s: &Sentiment, sets: &[(&str, &str, &[Example])], path: &PathBuf) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for (name, _, examples) in sets {
        for e in *examples {
            let p = s.classify(&e.text);
            let vader = s.logit(&e.text).vader;
            let (gold, rating) = match e.gold {
                Gold::Binary(pos) => (if pos { "positive" } else { "negative" }, None),
                Gold::Rated(r) => (e.gold.label().as_str(), Some(r)),
            };
            let line = serde_json::json!({
                "set": name, "text": e.text, "gold": gold, "rating": rating,
                "label": p.label, "score": p.score, "vader": vader,
            });
            writeln!(out, "{line}")?;
        }
    }
    for (name, _, examples) in sets {
        let t = Instant::now();
        let mut texts = 0usize;
        let mut sink = 0f32;
        while t.elapsed().as_secs_f64() < 0.5 {
            for e in *examples {
                sink += std::hint::black_box(s.classify(std::hint::black_box(&e.text))).score;
            }
            texts += examples.len();
        }
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        let line = serde_json::json!({
            "set": "_timing", "of": name, "texts": texts, "seconds": secs,
            "per_second": texts as f64 / secs,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

fn predict() -> Result<()> {
    let s = Sentiment::embedded().context("the embedded model")?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line.context("reading standard input")?;
        writeln!(out, "{}", serde_json::to_string(&s.classify(&line))?)?;
    }
    out.flush()?;
    Ok(())
}
