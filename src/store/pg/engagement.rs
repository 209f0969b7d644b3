//! Engagement of published posts on PostgreSQL: the `engagement` table (migration 4), one row
//! per post with sled's record (see `store::engagement`). Each write is one upsert.

use chrono::{DateTime, Utc};

use super::{from_record, to_record, PgStore};
use crate::store::{Engagement, EngagementStore, StoreError};

/// EngagementStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgEngagement(pub(crate) PgStore);

impl EngagementStore for PgEngagement {
    fn get(&self, channel: &str, post_at: DateTime<Utc>) -> Result<Option<Engagement>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT record FROM engagement WHERE brand = $1 AND channel = $2 AND post_at = $3",
                &[&brand, &channel, &post_at],
            )?
            .map(|row| {
                from_record(
                    format!("engagement/{channel}@{}", post_at.timestamp()),
                    row.get(0),
                )
            })
            .transpose()
        })
    }

    fn put(&self, record: &Engagement) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        let json = to_record(record);
        self.0.pool.with(|c| {
            c.execute(
                "INSERT INTO engagement (brand, channel, post_at, next_at, record)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (brand, channel, post_at)
                 DO UPDATE SET next_at = excluded.next_at, record = excluded.record",
                &[
                    &brand,
                    &record.channel,
                    &record.post_at,
                    &record.next_at,
                    &json,
                ],
            )?;
            Ok(())
        })
    }

    fn all(&self) -> Result<Vec<Engagement>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            // sled's order: channel bytes, then time.
            c.query(
                "SELECT channel, post_at, record FROM engagement WHERE brand = $1
                 ORDER BY channel COLLATE \"C\", post_at",
                &[&brand],
            )?
            .into_iter()
            .map(|row| {
                let at: DateTime<Utc> = row.get(1);
                from_record(
                    format!("engagement/{}@{}", row.get::<_, String>(0), at.timestamp()),
                    row.get(2),
                )
            })
            .collect()
        })
    }
}
