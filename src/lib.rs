//! herald: a bot for brand community managers.
//!
//! ```text
//! content-plan/ ──► config ──► plan (pure) ──► store (sled) ──► publish ──► platforms
//! keywords/     ──► config ──► classify (pure)
//! ```
//!
//! - [`config`]: loads `herald.toml`, `content-plan/` and `keywords/`; reports every problem as
//!   `file:line:column: key: why`.
//! - [`plan`]: the content planner (mix, peaks, caps, series, cooldowns, blackout), pure.
//! - [`store`]: the sled store; the only module that knows sled.
//! - [`publish`]: channel configuration (and, later, publishing).
//! - [`classify`]: keyword rules (and, later, sentiment, intent and leads), pure.
//! - [`inbox`]: reply drafts from templates, the approval queue and its audit log, sending
//!   approved replies in thread through the publishing path.
//! - [`app`]: wiring of the above into the operations the CLI offers.

pub mod app;
pub mod classify;
pub mod config;
pub mod inbox;
pub mod listen;
pub mod plan;
pub mod publish;
pub mod store;

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
