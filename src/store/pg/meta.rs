//! Holds, cursors and leases on PostgreSQL (`meta`, `cursors`, `leases`).

use chrono::{DateTime, Utc};

use super::{from_record, to_record, PgStore, POSTS_CHANNEL};
use crate::store::{Hold, Lease, MetaStore, StoreError};

/// Small state on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgMeta(pub(crate) PgStore);

impl PgMeta {
    fn get_hold(&self, key: &str) -> Result<Option<Hold>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT value FROM meta WHERE brand = $1 AND key = $2",
                &[&brand, &key],
            )?
            .map(|r| from_record(format!("meta/{key}"), r.get(0)))
            .transpose()
        })
    }

    fn set_hold_at(&self, key: &str, hold: Option<&Hold>) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            let mut tx = c.transaction()?;
            match hold {
                Some(h) => tx.execute(
                    "INSERT INTO meta (brand, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (brand, key) DO UPDATE SET value = excluded.value",
                    &[&brand, &key, &to_record(h)],
                )?,
                None => tx.execute(
                    "DELETE FROM meta WHERE brand = $1 AND key = $2",
                    &[&brand, &key],
                )?,
            };
            // A lifted hold may make posts sendable at once.
            tx.execute("SELECT pg_notify($1, $2)", &[&POSTS_CHANNEL, &brand])?;
            tx.commit()?;
            Ok(())
        })
    }
}

impl MetaStore for PgMeta {
    fn cursors(&self) -> Result<Vec<(String, String)>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT source, cursor FROM cursors WHERE brand = $1 ORDER BY source COLLATE \"C\"",
                &[&brand],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query_opt(
                "SELECT cursor FROM cursors WHERE brand = $1 AND source = $2",
                &[&brand, &source],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn set_cursor(&self, source: &str, cursor: &str) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.execute(
                "INSERT INTO cursors (brand, source, cursor) VALUES ($1, $2, $3)
                 ON CONFLICT (brand, source) DO UPDATE SET cursor = excluded.cursor",
                &[&brand, &source, &cursor],
            )?;
            Ok(())
        })
    }

    fn hold(&self) -> Result<Option<Hold>, StoreError> {
        self.get_hold("hold")
    }

    fn set_hold(&self, hold: Option<&Hold>) -> Result<(), StoreError> {
        self.set_hold_at("hold", hold)
    }

    fn crisis_hold(&self) -> Result<Option<Hold>, StoreError> {
        self.get_hold("crisis_hold")
    }

    fn set_crisis_hold(&self, hold: Option<&Hold>) -> Result<(), StoreError> {
        self.set_hold_at("crisis_hold", hold)
    }

    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let brand: &str = &self.0.brand;
        let ttl = ttl.as_secs_f64();
        self.0.pool.with(|c| {
            // The database's clock decides when a lease lapses, so machines whose clocks
            // differ agree on it.
            let row = c.query_opt(
                "INSERT INTO leases (brand, name, holder, expires_at)
                 VALUES ($1, $2, $3, now() + make_interval(secs => $4))
                 ON CONFLICT (brand, name) DO UPDATE
                    SET holder = excluded.holder, expires_at = excluded.expires_at
                  WHERE leases.holder = excluded.holder OR leases.expires_at <= now()
                 RETURNING holder",
                &[&brand, &name, &holder, &ttl],
            )?;
            Ok(row.is_some())
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.execute(
                "DELETE FROM leases WHERE brand = $1 AND name = $2 AND holder = $3",
                &[&brand, &name, &holder],
            )?;
            Ok(())
        })
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            Ok(c.query(
                "SELECT name, holder, expires_at FROM leases WHERE brand = $1 ORDER BY name",
                &[&brand],
            )?
            .into_iter()
            .map(|r| Lease {
                name: r.get(0),
                holder: r.get(1),
                expires_at: r.get::<_, DateTime<Utc>>(2),
            })
            .collect())
        })
    }
}
