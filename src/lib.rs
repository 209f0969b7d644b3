//! herald: a bot for brand community managers.
//!
//! ```text
//! content-plan/ ─► plan (pure) ─► schedule ─► store ─► publish ─► platform ─► Mastodon / Bluesky / webhook
//! sources ─► listen ─► ingest: classify (pure) ─► store ─► crisis (detector, pure) ─► alerts ─► notify
//!                                                     └─► inbox: drafts ─► a person approves ─► publish
//! ```
//!
//! Modules by layer, top first (imports point down; `tests/it/layering.rs` checks it, and
//! `docs/architecture.md` explains it):
//!
//! - [`cli`]: the `herald` command line: arguments, logging, the startup summary, and the local
//!   control socket through which commands reach a running `herald run`.
//! - [`app`]: `herald run`'s wiring: each component built once, the tasks spawned and
//!   supervised, graceful shutdown.
//! - Services: [`web`] (the web UI and JSON API), [`schedule`] (operations on the stored
//!   schedule shared by the CLI, the web UI and `herald run`), [`ingest`] (the one stage every
//!   source's mentions go through: classified, stored once with their reply draft in one
//!   transaction, sent to the live crisis detector), [`publish`] (channels and the exactly-once
//!   publish loop), [`listen`] (sources polled from stored cursors, handing mentions to the
//!   ingest stage), [`inbox`] (reply drafts, the reply sender, leads), and the IO parts of
//!   [`crisis`] (the live detector, `herald replay`, alert delivery in `crisis::notify`).
//! - [`config`]: loads `herald.toml`, `content-plan/` and `keywords/`; reports every problem as
//!   `file:line:column: key: why`.
//! - [`store`]: the sled store; the only module that knows sled.
//! - Pure cores and records: [`plan`] (the content planner), [`classify`] (keyword rules,
//!   sentiment, intent, lead grade), the spike detector in [`crisis`], and [`domain`] (the records
//!   the store and the services share: mention, reply queue item and its state machine, reply
//!   target, alert level and event), so the store imports no service.
//! - [`platform`]: the Mastodon and Bluesky clients (sessions, rich text and length rules),
//!   `Retry-After`, error snippets, webhook signing, and the one error type of platform calls;
//!   shared by publishing, listening and alert delivery.
//! - Foundations: [`clock`] (the injectable wall clock), [`http`] (the one HTTP client
//!   builder), [`retry`] (backoff with jitter), [`rng`] (a seeded generator), [`supervise`]
//!   (tasks restarted with backoff, their failures counted), [`untrusted`] (untrusted text made
//!   inert for terminals and logs).

pub mod app;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crisis;
pub mod domain;
pub mod engage;
pub mod http;
pub mod inbox;
pub mod ingest;
pub mod lang;
pub mod lease;
pub mod listen;
pub mod media;
pub mod plan;
pub mod platform;
pub mod publish;
pub mod report;
pub mod retry;
pub mod rng;
pub mod schedule;
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
