//! Trains herald's learned heads (three-class sentiment and complaint) on the public data sets.
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

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use herald::classify::learned::data::{self, Half, Labelled};
use herald::classify::learned::train::{self, calibrate_offsets, Featuriser, HeadsConfig, Sample};
use herald::classify::learned::{has_han, Learned};
use herald::classify::sentiment::Sentiment;

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
    /// Passes over the data (three read the tuning half better than five, ten or twenty: more
    /// passes fit the public sets' own domains closer).
    #[arg(long, default_value_t = 3)]
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
    let heads = train::train(&samples, &featuriser, &cfg);
    eprintln!("trained in {:.1} s", t0.elapsed().as_secs_f64());
    // Calibrate the class offsets on the tuning half only.
    let mentions = data::load_mentions(&cli.data.join("mentions/car_mentions_dev.jsonl"))
        .context("reading the car mentions")?;
    let learned = Learned::from_heads(heads.clone());
    let scored: Vec<_> = mentions
        .iter()
        .filter(|m| data::half_of(&m.id) == Half::Tuning)
        .map(|m| {
            (
                train::score(&learned, &sentiment, &m.text),
                m.gold.sentiment,
            )
        })
        .collect();
    let [oz, op] = calibrate_offsets(&scored);
    eprintln!("Han-script offsets on the tuning half: neutral {oz:+.1}, positive {op:+.1}");
    // Latin-script text: calibrated on the public development splits (never a test split).
    let latin: Vec<_> = public
        .iter()
        .flat_map(|set| &set.dev)
        .filter(|l| !has_han(&l.text))
        .map(|l| (train::score(&learned, &sentiment, &l.text), l.label))
        .collect();
    let [lz, lp] = calibrate_offsets(&latin);
    eprintln!(
        "Latin-script offsets on {} development texts: neutral {lz:+.1}, positive {lp:+.1}",
        latin.len()
    );
    let mut heads = heads;
    heads.offset = [0.0, oz, op, cli.complaint_offset];
    heads.offset_latin = [0.0, lz, lp, cli.complaint_offset];
    let bytes = heads.to_bytes();
    std::fs::write(&cli.out, &bytes).with_context(|| format!("writing {}", cli.out.display()))?;
    eprintln!("wrote {} ({} KiB)", cli.out.display(), bytes.len() / 1024);
    Ok(())
}
