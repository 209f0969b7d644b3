//! Clicks on tracked links on PostgreSQL: `click_links` (one row per source code, sled's
//! [`ClickLink`] as `record`) and `click_counts` (one row per code and UTC hour), migration 5.
//! A click is one statement that counts only when the code has a link and returns its target.

use chrono::{DateTime, Utc};

use super::{from_record, to_record, PgStore};
use crate::store::{hour_of, ClickCount, ClickLink, ClickStore, StoreError};

/// ClickStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgClicks(pub(crate) PgStore);

fn upsert_link(
    tx: &mut postgres::Transaction<'_>,
    brand: &str,
    link: &ClickLink,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO click_links (brand, code, record) VALUES ($1, $2, $3)
         ON CONFLICT (brand, code) DO UPDATE SET record = excluded.record",
        &[&brand, &link.code, &to_record(link)],
    )?;
    Ok(())
}

/// A count as PostgreSQL's `bigint` holds it (a count past `i64::MAX` cannot be reached by
/// clicks; it is capped rather than wrapped).
fn as_bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl ClickStore for PgClicks {
    fn put_links(&self, links: &[ClickLink]) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            for l in links {
                upsert_link(&mut tx, brand, l)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn link(&self, code: &str) -> Result<Option<ClickLink>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT record FROM click_links WHERE brand = $1 AND code = $2",
                &[&brand, &code],
            )?
            .map(|row| from_record(format!("click_links/{code}"), row.get(0)))
            .transpose()
        })
    }

    fn links(&self) -> Result<Vec<ClickLink>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query(
                "SELECT code, record FROM click_links WHERE brand = $1 ORDER BY code COLLATE \"C\"",
                &[&brand],
            )?
            .into_iter()
            .map(|row| {
                from_record(
                    format!("click_links/{}", row.get::<_, String>(0)),
                    row.get(1),
                )
            })
            .collect()
        })
    }

    fn record_click(&self, code: &str, at: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let brand: &str = &self.0.brand;
        let hour = hour_of(at);
        self.0.pool.with(|c| {
            // One statement: the count is added only when the code has a link, atomically
            // (the row lock of the upsert), and the link comes back with it.
            let row = c.query_opt(
                "WITH l AS (SELECT record FROM click_links WHERE brand = $1 AND code = $2),
                      n AS (INSERT INTO click_counts (brand, code, hour, clicks)
                            SELECT $1, $2, $3, 1 FROM l
                            ON CONFLICT (brand, code, hour)
                            DO UPDATE SET clicks = click_counts.clicks + 1)
                 SELECT record FROM l",
                &[&brand, &code, &hour],
            )?;
            row.map(|r| from_record::<ClickLink>(format!("click_links/{code}"), r.get(0)))
                .transpose()
                .map(|l| l.map(|l| l.target))
        })
    }

    fn counts(&self) -> Result<Vec<ClickCount>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT code, hour, clicks FROM click_counts WHERE brand = $1
                 ORDER BY hour, code COLLATE \"C\"",
                &[&brand],
            )?
            .into_iter()
            .map(|row| ClickCount {
                code: row.get(0),
                hour: row.get(1),
                clicks: row.get::<_, i64>(2).max(0).unsigned_abs(),
            })
            .collect())
        })
    }

    fn counts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT code, sum(clicks)::bigint FROM click_counts
                  WHERE brand = $1 AND hour >= $2 AND hour < $3
                  GROUP BY code HAVING sum(clicks) > 0 ORDER BY code COLLATE \"C\"",
                &[&brand, &from, &to],
            )?
            .into_iter()
            .map(|row| (row.get(0), row.get::<_, i64>(1).max(0).unsigned_abs()))
            .collect())
        })
    }

    fn import(&self, links: &[ClickLink], counts: &[ClickCount]) -> Result<usize, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            for l in links {
                upsert_link(&mut tx, brand, l)?;
            }
            for k in counts {
                tx.execute(
                    "INSERT INTO click_counts (brand, code, hour, clicks) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (brand, code, hour) DO UPDATE SET clicks = excluded.clicks",
                    &[&brand, &k.code, &hour_of(k.hour), &as_bigint(k.clicks)],
                )?;
            }
            tx.commit()?;
            Ok(links.len() + counts.len())
        })
    }
}
