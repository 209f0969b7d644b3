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
//! - [`app`]: wiring of the above into the operations the CLI offers.

pub mod app;
pub mod classify;
pub mod config;
pub mod plan;
pub mod publish;
pub mod store;
