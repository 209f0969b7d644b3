//! Clicks on tracked links, on sled: which URL each source code sends a visitor to, and how
//! many visits each code had per UTC hour. Nothing about a visitor is a field of these records
//! (no address, no cookie, no user agent): a click is one added to a counter.
//!
//! Two trees:
//! - `click_links`: key the source code, value the JSON [`ClickLink`] (the tagged target). The
//!   schedule writes one per planned post whose link goes through the redirect.
//! - `clicks`: key `hour ‖ code` (the hour's start in seconds since the epoch, big-endian with
//!   the sign bit flipped, so keys sort by time and a week is one range scan), value the count
//!   as a big-endian `u64`. One fixed-size record per code and hour, whatever the traffic.
//!
//! A click is counted only for a code that has a link: an unknown code writes nothing, so a
//! flood of made-up codes cannot grow the store. Counts are not flushed per click (a burst of
//! visits must not be a burst of disk syncs); sled writes them out within its flush interval,
//! so a crash may lose the last moment's clicks, never a link.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{encode_json, ClickStore, SledStore, StoreError};

/// Where the visitors of one source code are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickLink {
    /// The full source code, `<channel>.<category>.<stem>.<YYYYMMDD>T<HHMM>` (the redirect's
    /// path names it whole, see `plan::track::click_url`).
    pub code: String,
    /// The URL the visitor is sent to, with its `utm_*` tracking parameters.
    pub target: String,
    /// When the link was last written (the start of the plan, or the time of the post by
    /// hand, that wrote it).
    pub since: DateTime<Utc>,
}

/// The visits of one code in one UTC hour. These three fields are all a click leaves behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickCount {
    /// The source code.
    pub code: String,
    /// The start of the UTC hour.
    pub hour: DateTime<Utc>,
    /// Visits counted in it.
    pub clicks: u64,
}

/// The start of the UTC hour `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(3600) * 3600;
    Utc.timestamp_opt(secs, 0).single().unwrap_or(at)
}

/// The first hour start at or after `at` (the first bucket a range from `at` takes whole).
fn hour_at_or_after(at: DateTime<Utc>) -> i64 {
    let secs = at.timestamp();
    let start = secs.div_euclid(3600) * 3600;
    if start == secs && at.timestamp_subsec_nanos() == 0 {
        start
    } else {
        start.saturating_add(3600)
    }
}

/// sled's click records.
#[derive(Clone)]
pub(crate) struct Clicks(pub(crate) SledStore);

const LINKS: &str = "click_links";
const COUNTS: &str = "clicks";

fn hour_key(secs: i64) -> [u8; 8] {
    ((secs as u64) ^ (1 << 63)).to_be_bytes()
}

fn count_key(code: &str, hour: DateTime<Utc>) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + code.len());
    key.extend_from_slice(&hour_key(hour_of(hour).timestamp()));
    key.extend_from_slice(code.as_bytes());
    key
}

fn decode_link(k: &[u8], v: &[u8]) -> Result<ClickLink, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        key: format!("{LINKS}/{}", String::from_utf8_lossy(k)),
        why: e.to_string(),
    })
}

/// A count record's code, hour and count, from its key and value.
fn decode_count(k: &[u8], v: &[u8]) -> Result<ClickCount, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt {
        key: format!("{COUNTS}/{}", String::from_utf8_lossy(k)),
        why: why.to_string(),
    };
    let (hour, code) = k
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("the key is shorter than an hour"))?;
    let secs = (u64::from_be_bytes(*hour) ^ (1 << 63)) as i64;
    let hour = Utc
        .timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| corrupt("the hour is out of range"))?;
    let code = std::str::from_utf8(code).map_err(|_| corrupt("the code is not UTF-8"))?;
    let clicks = <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("the count is not 8 bytes"))?;
    Ok(ClickCount {
        code: code.to_string(),
        hour,
        clicks,
    })
}

/// Whether a `clicks` record reads (for `herald store check`).
pub(crate) fn count_decodes(k: &[u8], v: &[u8]) -> Result<(), StoreError> {
    decode_count(k, v).map(drop)
}

impl ClickStore for Clicks {
    fn put_links(&self, links: &[ClickLink]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for l in links {
            batch.insert(l.code.as_bytes(), encode_json(l));
        }
        self.0.db.open_tree(LINKS)?.apply_batch(batch)?;
        self.0.flush()
    }

    fn link(&self, code: &str) -> Result<Option<ClickLink>, StoreError> {
        self.0
            .db
            .open_tree(LINKS)?
            .get(code.as_bytes())?
            .map(|v| decode_link(code.as_bytes(), &v))
            .transpose()
    }

    fn links(&self) -> Result<Vec<ClickLink>, StoreError> {
        self.0
            .db
            .open_tree(LINKS)?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode_link(&k, &v)
            })
            .collect()
    }

    fn record_click(&self, code: &str, at: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let Some(link) = self.link(code)? else {
            return Ok(None);
        };
        // One atomic read-modify-write: concurrent clicks each add their one.
        self.0
            .db
            .open_tree(COUNTS)?
            .update_and_fetch(count_key(code, at), |old| {
                let n = old
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .map_or(0, u64::from_be_bytes);
                Some(n.saturating_add(1).to_be_bytes().to_vec())
            })?;
        Ok(Some(link.target))
    }

    fn counts(&self) -> Result<Vec<ClickCount>, StoreError> {
        self.0
            .db
            .open_tree(COUNTS)?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode_count(&k, &v)
            })
            .collect()
    }

    fn counts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (lo, hi) = (hour_at_or_after(from), hour_at_or_after(to));
        let mut sums: std::collections::BTreeMap<String, u64> = Default::default();
        if lo < hi {
            for kv in self
                .0
                .db
                .open_tree(COUNTS)?
                .range(hour_key(lo)..hour_key(hi))
            {
                let (k, v) = kv?;
                let c = decode_count(&k, &v)?;
                let sum = sums.entry(c.code).or_default();
                *sum = sum.saturating_add(c.clicks);
            }
        }
        Ok(sums.into_iter().filter(|(_, n)| *n > 0).collect())
    }

    fn import(&self, links: &[ClickLink], counts: &[ClickCount]) -> Result<usize, StoreError> {
        let mut link_batch = sled::Batch::default();
        for l in links {
            link_batch.insert(l.code.as_bytes(), encode_json(l));
        }
        let mut count_batch = sled::Batch::default();
        for c in counts {
            count_batch.insert(count_key(&c.code, c.hour), c.clicks.to_be_bytes().to_vec());
        }
        self.0.db.open_tree(LINKS)?.apply_batch(link_batch)?;
        self.0.db.open_tree(COUNTS)?.apply_batch(count_batch)?;
        self.0.flush()?;
        Ok(links.len() + counts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn link(code: &str, target: &str) -> ClickLink {
        ClickLink {
            code: code.into(),
            target: target.into(),
            since: at("2026-11-30T00:00:00Z"),
        }
    }

    const A: &str = "masto.product.x-trail.20261201T0845";
    const B: &str = "sky.service.winter-check.20261201T1200";

    /// A known code counts one per click, per UTC hour, and answers its target; an unknown
    /// code answers nothing and writes nothing; a week's counts sum per code over the hours
    /// that start in it.
    #[test]
    fn clicks_count_per_code_and_hour_on_every_backend() {
        for t in each() {
            let c = t.store.clicks();
            let ta = "https://a.example/t?utm_source=masto&utm_content=x";
            c.put_links(&[link(A, ta), link(B, "https://b.example/")])
                .expect("links");
            assert_eq!(c.link(A).expect("link"), Some(link(A, ta)), "{}", t.backend);
            assert_eq!(c.link("nope").expect("link"), None, "{}", t.backend);
            for when in [
                "2026-12-01T09:00:00Z",
                "2026-12-01T09:59:59Z",
                "2026-12-01T10:00:00Z",
                "2026-12-07T23:59:00Z",
            ] {
                assert_eq!(
                    c.record_click(A, at(when)).expect("click").as_deref(),
                    Some(ta),
                    "{}",
                    t.backend
                );
            }
            c.record_click(B, at("2026-12-08T00:00:00Z"))
                .expect("click");
            assert_eq!(
                c.record_click(
                    "masto.product.made-up.20261201T0845",
                    at("2026-12-01T09:00:00Z")
                )
                .expect("click"),
                None,
                "{}",
                t.backend
            );
            let counts = c.counts().expect("counts");
            assert_eq!(
                counts
                    .iter()
                    .map(|k| (k.code.as_str(), k.hour.to_rfc3339(), k.clicks))
                    .collect::<Vec<_>>(),
                vec![
                    (A, "2026-12-01T09:00:00+00:00".to_string(), 2),
                    (A, "2026-12-01T10:00:00+00:00".to_string(), 1),
                    (A, "2026-12-07T23:00:00+00:00".to_string(), 1),
                    (B, "2026-12-08T00:00:00+00:00".to_string(), 1),
                ],
                "{}: the unknown code wrote nothing",
                t.backend
            );
            let week = c
                .counts_between(at("2026-12-01T00:00:00Z"), at("2026-12-08T00:00:00Z"))
                .expect("week");
            assert_eq!(week, vec![(A.to_string(), 4)], "{}", t.backend);
            let next = c
                .counts_between(at("2026-12-08T00:00:00Z"), at("2026-12-15T00:00:00Z"))
                .expect("next week");
            assert_eq!(next, vec![(B.to_string(), 1)], "{}", t.backend);
            // An hour is counted by its start: one that starts before `from` is left out.
            let part = c
                .counts_between(at("2026-12-01T09:30:00Z"), at("2026-12-01T11:00:00Z"))
                .expect("part");
            assert_eq!(part, vec![(A.to_string(), 1)], "{}", t.backend);
            assert!(c
                .counts_between(at("2026-12-02T00:00:00Z"), at("2026-12-01T00:00:00Z"))
                .expect("backwards")
                .is_empty());
            // A new plan replaces a code's target.
            c.put_links(&[link(A, "https://a.example/new")])
                .expect("relink");
            assert_eq!(
                c.record_click(A, at("2026-12-01T09:10:00Z"))
                    .expect("click")
                    .as_deref(),
                Some("https://a.example/new"),
                "{}",
                t.backend
            );
            assert_eq!(c.links().expect("links").len(), 2, "{}", t.backend);
        }
    }

    /// Clicks from many threads at once all count (the count is one atomic step).
    #[test]
    fn concurrent_clicks_all_count_on_every_backend() {
        for t in each() {
            t.store
                .clicks()
                .put_links(&[link(A, "https://a.example/")])
                .expect("link");
            let when = at("2026-12-01T09:15:00Z");
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..25 {
                            t.store.clicks().record_click(A, when).expect("click");
                        }
                    });
                }
            });
            assert_eq!(
                t.store
                    .clicks()
                    .counts_between(hour_of(when), hour_of(when) + chrono::TimeDelta::hours(1))
                    .expect("counts"),
                vec![(A.to_string(), 100)],
                "{}",
                t.backend
            );
        }
    }

    /// `import` writes links and counts as they are (for `herald store copy`).
    #[test]
    fn import_writes_links_and_counts_as_they_are_on_every_backend() {
        for t in each() {
            let counts = vec![
                ClickCount {
                    code: A.into(),
                    hour: at("2026-12-01T09:00:00Z"),
                    clicks: 7,
                },
                ClickCount {
                    code: B.into(),
                    hour: at("2026-12-02T13:00:00Z"),
                    clicks: 2,
                },
            ];
            let links = vec![link(A, "https://a.example/"), link(B, "https://b.example/")];
            assert_eq!(t.store.clicks().import(&links, &counts).expect("import"), 4);
            assert_eq!(
                t.store.clicks().links().expect("links"),
                links,
                "{}",
                t.backend
            );
            assert_eq!(
                t.store.clicks().counts().expect("counts"),
                counts,
                "{}",
                t.backend
            );
        }
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(
            hour_of(at("2026-12-01T09:59:59Z")),
            at("2026-12-01T09:00:00Z")
        );
        assert_eq!(
            hour_of(at("1969-12-31T23:30:00Z")),
            at("1969-12-31T23:00:00Z")
        );
        assert_eq!(
            hour_at_or_after(at("2026-12-01T09:00:00Z")),
            at("2026-12-01T09:00:00Z").timestamp()
        );
        assert_eq!(
            hour_at_or_after(at("2026-12-01T09:00:01Z")),
            at("2026-12-01T10:00:00Z").timestamp()
        );
    }

    /// `herald store check` reads both click trees: good records read, a broken one is
    /// reported.
    #[test]
    fn check_reads_click_records_and_reports_a_broken_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        {
            let store = crate::store::Store::open(&path).expect("open");
            store
                .clicks()
                .put_links(&[link(A, "https://a.example/")])
                .expect("link");
            store
                .clicks()
                .record_click(A, at("2026-12-01T09:00:00Z"))
                .expect("click");
            let sled = store.as_sled();
            sled.db
                .open_tree(COUNTS)
                .expect("tree")
                .insert(b"short", b"1".as_slice())
                .expect("raw insert");
            sled.db
                .open_tree(LINKS)
                .expect("tree")
                .insert(b"x", b"{not json".as_slice())
                .expect("raw insert");
            sled.flush().expect("flush");
        }
        let report = crate::store::check(&path).expect("check");
        assert!(!report.is_ok(), "{report}");
        for tree in [LINKS, COUNTS] {
            let t = report
                .trees
                .iter()
                .find(|t| t.name == tree)
                .expect("the tree is reported");
            assert_eq!((t.records, t.unreadable), (2, 1), "{tree}: {report}");
        }
    }
}
