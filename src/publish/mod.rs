//! Publishing scheduled posts to the platforms.
//!
//! This module owns the channel configuration (`[[channels]]` in `herald.toml`): a closed set of
//! kinds, each with its own settings and with secrets named by environment variable, never
//! written in a file.

pub mod config;

pub use config::{ChannelConfig, ChannelKind};
