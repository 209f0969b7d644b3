//! Web UI users and login sessions on PostgreSQL: the `users` and `sessions` tables
//! (migration 3), with sled's behaviour (see `store::users`).
//!
//! Each change is one statement, atomic across processes: adding a user who must not replace
//! another is an insert that does nothing on conflict (of two processes adding the same name,
//! one wins); extending a session is an update conditioned on the session being exactly the
//! one read (compare-and-swap, as on sled), so an extension never brings back a session
//! another request logged out, and of two extensions of one session one wins.
//!
//! What a session id or a password hash is, and when a session ends, is the web module's
//! business; this file only keeps the records.

use chrono::{DateTime, Utc};

use super::{from_record, to_record, PgStore};
use crate::store::{Session, StoreError, User, UserStore};

/// UserStore on PostgreSQL.
#[derive(Clone)]
pub(crate) struct PgUsers(pub(crate) PgStore);

/// A user's key: the name in lower case, lowered by Rust as on sled (PostgreSQL's `lower`
/// depends on the database's locale).
fn user_key(name: &str) -> String {
    name.to_lowercase()
}

impl UserStore for PgUsers {
    fn put(&self, user: &User, replace: bool) -> Result<bool, StoreError> {
        let brand: &str = &self.0.brand;
        let key = user_key(&user.name);
        let record = to_record(user);
        self.0.pool.with(|c| {
            let sql = if replace {
                "INSERT INTO users (brand, key, record) VALUES ($1, $2, $3)
                 ON CONFLICT (brand, key) DO UPDATE SET record = excluded.record"
            } else {
                // A concurrent insert of the same name waits for the other's commit, then
                // does nothing: exactly one of them adds the user.
                "INSERT INTO users (brand, key, record) VALUES ($1, $2, $3)
                 ON CONFLICT (brand, key) DO NOTHING"
            };
            Ok(c.execute(sql, &[&brand, &key, &record])? == 1)
        })
    }

    fn get(&self, name: &str) -> Result<Option<User>, StoreError> {
        let brand: &str = &self.0.brand;
        let key = user_key(name);
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT record FROM users WHERE brand = $1 AND key = $2",
                &[&brand, &key],
            )?
            .map(|row| from_record(format!("users/{key}"), row.get(0)))
            .transpose()
        })
    }

    fn list(&self) -> Result<Vec<User>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            // sled's order: the keys' bytes.
            c.query(
                "SELECT key, record FROM users WHERE brand = $1 ORDER BY key COLLATE \"C\"",
                &[&brand],
            )?
            .into_iter()
            .map(|row| from_record(format!("users/{}", row.get::<_, String>(0)), row.get(1)))
            .collect()
        })
    }

    fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let brand: &str = &self.0.brand;
        let key = user_key(name);
        self.0.pool.with(|c| {
            Ok(c.execute(
                "DELETE FROM users WHERE brand = $1 AND key = $2",
                &[&brand, &key],
            )? > 0)
        })
    }

    fn put_session(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        let record = to_record(session);
        self.0.pool.with(|c| {
            c.execute(
                "INSERT INTO sessions (brand, key, expires_at, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (brand, key) DO UPDATE SET expires_at = excluded.expires_at,
                    record = excluded.record",
                &[&brand, &key, &session.expires_at, &record],
            )?;
            Ok(())
        })
    }

    fn session(&self, key: &str) -> Result<Option<Session>, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.query_opt(
                "SELECT record FROM sessions WHERE brand = $1 AND key = $2",
                &[&brand, &key],
            )?
            .map(|row| from_record(format!("sessions/{key}"), row.get(0)))
            .transpose()
        })
    }

    fn replace_session(&self, key: &str, old: &Session, new: &Session) -> Result<bool, StoreError> {
        let brand: &str = &self.0.brand;
        let (old, record) = (to_record(old), to_record(new));
        self.0.pool.with(|c| {
            // One conditional update: a concurrent change of the row makes this one wait and
            // then re-check the condition on the row as the other left it. JSON equality of
            // records is equality of sessions (times are strings with every digit kept).
            Ok(c.execute(
                "UPDATE sessions SET expires_at = $3, record = $4
                 WHERE brand = $1 AND key = $2 AND record = $5",
                &[&brand, &key, &new.expires_at, &record, &old],
            )? == 1)
        })
    }

    fn remove_session(&self, key: &str) -> Result<(), StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            c.execute(
                "DELETE FROM sessions WHERE brand = $1 AND key = $2",
                &[&brand, &key],
            )?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let brand: &str = &self.0.brand;
        self.0.pool.with(|c| {
            // Every session is read, as on sled: an unreadable record is no session either,
            // and the record's time (nanoseconds) decides, not the column's.
            let (keys, records): (Vec<String>, Vec<serde_json::Value>) = c
                .query(
                    "SELECT key, record FROM sessions WHERE brand = $1",
                    &[&brand],
                )?
                .into_iter()
                .map(|row| (row.get::<_, String>(0), row.get::<_, serde_json::Value>(1)))
                .filter(|(key, record)| {
                    from_record::<Session>(key, record.clone()).map_or(true, |s| s.expires_at < now)
                })
                .unzip();
            if keys.is_empty() {
                return Ok(0);
            }
            // Deleted only if still as read: a session replaced meanwhile (put again under
            // the same key) is not the expired one this purge saw.
            Ok(c.execute(
                "DELETE FROM sessions s USING unnest($2::text[], $3::jsonb[]) AS d(key, record)
                 WHERE s.brand = $1 AND s.key = d.key AND s.record = d.record",
                &[&brand, &keys, &records],
            )? as usize)
        })
    }
}
