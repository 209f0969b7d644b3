//! The seam between the sources and what is done with their mentions: the listening loop hands
//! each poll's mentions to a [`MentionSink`] and moves the source's cursor only after the sink
//! has taken them. The sink (the ingest stage, `crate::ingest`) classifies, stores, drafts and
//! feeds the live detector; listen itself does none of that.

use super::Mention;
use crate::store::StoreError;

/// The mentions one poll of one source read.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<'a> {
    /// The source's name, as configured.
    pub source: &'a str,
    /// What the poll read, new or not (the sink de-duplicates).
    pub mentions: Vec<Mention>,
    /// The source's first successful poll since the listener started, from no stored cursor:
    /// its history, to be stored but not treated as news.
    pub history: bool,
}

/// Takes what the sources read. The loop saves a source's cursor only after `ingest` returned
/// `Ok`, so a mention is never behind a cursor without having been taken.
pub trait MentionSink: Send + Sync {
    /// Takes one batch; returns how many of its mentions were new (stored for the first time).
    fn ingest(&self, batch: Batch<'_>) -> Result<usize, StoreError>;
}
