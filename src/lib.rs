//! herald: a bot for brand community managers.
//!
//! ```text
//! content-plan/ ──► config ──► plan (pure) ──► store (sled) ──► publish ──► platforms
//! keywords/     ──► config ──► classify (pure)
//! ```
//!
//! - [`clock`]: the injectable wall clock every wall-clock decision asks.
//! - [`config`]: loads `herald.toml`, `content-plan/` and `keywords/`; reports every problem as
//!   `file:line:column: key: why`.
//! - [`plan`]: the content planner (mix, peaks, caps, series, cooldowns, blackout), pure.
//! - [`store`]: the sled store; the only module that knows sled.
//! - [`publish`]: channels and the exactly-once publish loop.
//! - [`classify`]: keyword rules, sentiment, intent and lead grade, pure.
//! - [`crisis`]: the spike detector (pure), alert episodes, `herald replay`'s pipeline, and the
//!   delivery of alerts to people (`crisis::notify`: WeCom, DingTalk, Feishu, Slack, webhook,
//!   e-mail).
//! - [`listen`]: sources (mentions, keyword searches, hashtags, feeds, pages) polled from stored
//!   cursors into mentions, classified and stored once.
//! - [`http`]: the one HTTP client builder (timeout, user agent).
//! - [`inbox`]: reply drafts from templates, the approval queue and its audit log, sending
//!   approved replies in thread through the publishing path.
//! - [`app`]: wiring of the above into the operations the CLI offers.
//! - [`cli`]: the `herald` command line: arguments, logging, the startup summary, and the local
//!   control socket through which commands reach a running `herald run`.
//! - [`supervise`]: restarts the tasks of `herald run` with backoff when they fail, counts and
//!   records the failures, and gives up (stopping herald) on a task that fails over and over.
//! - [`retry`]: exponential backoff with jitter, for every loop that retries.
//! - [`untrusted`]: untrusted text made inert for terminals and logs.
//! - [`web`]: the web UI and JSON API that `herald run` serves (login, calendar, mentions).

pub mod app;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crisis;
pub mod http;
pub mod inbox;
pub mod listen;
pub mod plan;
pub mod publish;
pub mod retry;
pub mod rng;
pub mod store;
pub mod supervise;
pub mod untrusted;
pub mod web;

/// FNV-1a, 64 bits: a hash that is the same on every build and platform (unlike std's), for
/// ids derived from content.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
