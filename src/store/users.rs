//! Web UI users and login sessions in the store: one tree of users by name, one of sessions by
//! the hash of their id. What a session id or a password hash is, and when a session ends, is
//! the web module's business; this file only keeps the records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{encode_json, StoreError, UserStore, Users};

/// A person who may log in to the web UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The login name, as typed (looked up case-insensitively).
    pub name: String,
    /// An argon2 hash in PHC string form; never the password.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The user's name.
    pub user: String,
    /// The token every form of this session must send back.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn user_key(name: &str) -> Vec<u8> {
    name.to_lowercase().into_bytes()
}

fn decode<T: for<'de> Deserialize<'de>>(tree: &str, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        key: format!("{tree}/{}", String::from_utf8_lossy(k)),
        why: e.to_string(),
    })
}

impl UserStore for Users {
    /// Adds `user`, or replaces the one of the same name when `replace` is true. Returns false
    /// (and changes nothing) if the name is taken and `replace` is false.
    fn put(&self, user: &User, replace: bool) -> Result<bool, StoreError> {
        let tree = self.0.db.open_tree("users")?;
        let key = user_key(&user.name);
        let value = encode_json(user);
        if replace {
            tree.insert(key, value)?;
        } else if tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))?
            .is_err()
        {
            return Ok(false);
        }
        self.0.flush()?;
        Ok(true)
    }

    /// The user called `name` (case-insensitive), if any.
    fn get(&self, name: &str) -> Result<Option<User>, StoreError> {
        let tree = self.0.db.open_tree("users")?;
        let key = user_key(name);
        tree.get(&key)?
            .map(|v| decode("users", &key, &v))
            .transpose()
    }

    /// Every user, by name.
    fn list(&self) -> Result<Vec<User>, StoreError> {
        let tree = self.0.db.open_tree("users")?;
        tree.iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode("users", &k, &v)
            })
            .collect()
    }

    /// Removes a user; returns whether there was one. Their sessions stop working because every
    /// request looks the user up.
    fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let removed = self
            .0
            .db
            .open_tree("users")?
            .remove(user_key(name))?
            .is_some();
        self.0.flush()?;
        Ok(removed)
    }

    /// Records a session under `key` (the web layer passes a hash of the session id, so the
    /// store never holds a usable id).
    fn put_session(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.0
            .db
            .open_tree("sessions")?
            .insert(key.as_bytes(), encode_json(session))?;
        self.0.flush()?;
        Ok(())
    }

    /// The session recorded under `key`, if any (expired or not).
    fn session(&self, key: &str) -> Result<Option<Session>, StoreError> {
        self.0
            .db
            .open_tree("sessions")?
            .get(key.as_bytes())?
            .map(|v| decode("sessions", key.as_bytes(), &v))
            .transpose()
    }

    /// Replaces the session under `key` with `new`, only if it is still exactly `old`; returns
    /// whether it did. A request that extends a session while another logs it out must not
    /// bring it back. Not flushed: an extension lost in a crash only ends the login sooner.
    fn replace_session(&self, key: &str, old: &Session, new: &Session) -> Result<bool, StoreError> {
        Ok(self
            .0
            .db
            .open_tree("sessions")?
            .compare_and_swap(
                key.as_bytes(),
                Some(encode_json(old)),
                Some(encode_json(new)),
            )?
            .is_ok())
    }

    /// Forgets one session (logout).
    fn remove_session(&self, key: &str) -> Result<(), StoreError> {
        self.0.db.open_tree("sessions")?.remove(key.as_bytes())?;
        self.0.flush()?;
        Ok(())
    }

    /// Forgets every session that expired before `now`; returns how many.
    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let tree = self.0.db.open_tree("sessions")?;
        let mut removed = 0;
        for kv in tree.iter() {
            let (k, v) = kv?;
            // An unreadable record is no session either.
            let expired =
                decode::<Session>("sessions", &k, &v).map_or(true, |s| s.expires_at < now);
            if expired {
                tree.remove(&k)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.0.flush()?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::alerts::tests::{race, store_pairs};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("t")
            .with_timezone(&Utc)
    }

    #[test]
    fn users_are_found_case_insensitively_and_not_overwritten_by_accident() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let u = User {
                name: "Mei".into(),
                password_hash: "$argon2id$x".into(),
                created_at: at("2026-11-22T10:00:00Z"),
            };
            assert!(store.users().put(&u, false).expect("add"));
            let other = User {
                password_hash: "$argon2id$y".into(),
                ..u.clone()
            };
            assert!(!store.users().put(&other, false).expect("again"));
            assert_eq!(store.users().get("mei").expect("get"), Some(u.clone()));
            assert!(store.users().put(&other, true).expect("replace"));
            assert_eq!(store.users().get("MEI").expect("get"), Some(other));
            assert_eq!(store.users().list().expect("list").len(), 1);
            assert!(store.users().remove("mei").expect("remove"));
            assert_eq!(store.users().get("mei").expect("get"), None);
        }
    }

    #[test]
    fn expired_sessions_are_purged() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let s = |exp: &str| Session {
                user: "mei".into(),
                csrf: "c".into(),
                created_at: at("2026-11-22T00:00:00Z"),
                expires_at: at(exp),
            };
            store
                .users()
                .put_session("old", &s("2026-11-22T01:00:00Z"))
                .expect("put");
            store
                .users()
                .put_session("new", &s("2026-11-22T23:00:00Z"))
                .expect("put");
            assert_eq!(
                store
                    .users()
                    .purge_sessions(at("2026-11-22T12:00:00Z"))
                    .expect("purge"),
                1
            );
            assert_eq!(store.users().session("old").expect("get"), None);
            assert!(store.users().session("new").expect("get").is_some());
            store.users().remove_session("new").expect("remove");
            assert_eq!(store.users().session("new").expect("get"), None);
        }
    }

    #[test]
    fn a_session_is_extended_only_if_nobody_changed_or_removed_it_meanwhile() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let s = Session {
                user: "mei".into(),
                csrf: "c".into(),
                created_at: at("2026-11-22T00:00:00Z"),
                expires_at: at("2026-11-22T02:00:00Z"),
            };
            let later = Session {
                expires_at: at("2026-11-22T03:00:00Z"),
                ..s.clone()
            };
            store.users().put_session("k", &s).expect("put");
            assert!(store
                .users()
                .replace_session("k", &s, &later)
                .expect("extend"));
            assert_eq!(
                store.users().session("k").expect("get"),
                Some(later.clone())
            );
            assert!(
                !store
                    .users()
                    .replace_session("k", &s, &later)
                    .expect("stale"),
                "a stale read does not win"
            );
            store.users().remove_session("k").expect("logout");
            assert!(!store
                .users()
                .replace_session("k", &later, &later)
                .expect("gone"));
            assert_eq!(
                store.users().session("k").expect("get"),
                None,
                "a logged-out session is not brought back"
            );
        }
    }

    /// Two processes adding the same new name at once (not replacing): exactly one adds it,
    /// and the stored user is the winner's.
    #[test]
    fn racing_adds_of_one_name_add_it_once() {
        for (backend, a, b, _keep) in store_pairs() {
            for round in 0..12 {
                let user = |side: usize| User {
                    name: format!("Racer{round}"),
                    password_hash: format!("$argon2id${side}"),
                    created_at: at("2026-11-22T10:00:00Z"),
                };
                let (x, y) = race(&a, &b, |s, side| {
                    s.users().put(&user(side), false).expect("put")
                });
                assert!(x ^ y, "{backend}: exactly one adds: {x} {y}");
                let winner = if x { 0 } else { 1 };
                assert_eq!(
                    b.users().get(&format!("racer{round}")).expect("get"),
                    Some(user(winner)),
                    "{backend}"
                );
            }
        }
    }

    /// Two requests extending one session at once from the same read: exactly one wins, and
    /// the stored session is the winner's.
    #[test]
    fn racing_extensions_of_one_session_let_one_win() {
        for (backend, a, b, _keep) in store_pairs() {
            for round in 0..12 {
                let key = format!("k{round}");
                let s = Session {
                    user: "mei".into(),
                    csrf: "c".into(),
                    created_at: at("2026-11-22T00:00:00Z"),
                    expires_at: at("2026-11-22T02:00:00Z"),
                };
                let extended = |side: usize| Session {
                    expires_at: s.expires_at + chrono::TimeDelta::minutes(1 + side as i64),
                    ..s.clone()
                };
                a.users().put_session(&key, &s).expect("put");
                let (x, y) = race(&a, &b, |st, side| {
                    st.users()
                        .replace_session(&key, &s, &extended(side))
                        .expect("extend")
                });
                assert!(x ^ y, "{backend}: exactly one extends: {x} {y}");
                let winner = if x { 0 } else { 1 };
                assert_eq!(
                    b.users().session(&key).expect("get"),
                    Some(extended(winner)),
                    "{backend}"
                );
            }
        }
    }

    /// Purging keeps a session that expires a fraction of a microsecond after `now` and
    /// removes one that expired a fraction before (the record's time decides, on PostgreSQL
    /// too); list is by lower-case name.
    #[test]
    fn purge_is_exact_and_users_are_listed_by_name() {
        for t in crate::store::testing::each() {
            let store = &t.store;
            let now = at("2026-11-22T12:00:00Z");
            let s = |exp| Session {
                user: "mei".into(),
                csrf: "c".into(),
                created_at: at("2026-11-22T00:00:00Z"),
                expires_at: exp,
            };
            let users = store.users();
            users
                .put_session("before", &s(now - chrono::TimeDelta::nanoseconds(300)))
                .expect("put");
            users
                .put_session("after", &s(now + chrono::TimeDelta::nanoseconds(300)))
                .expect("put");
            users.put_session("now", &s(now)).expect("put");
            assert_eq!(
                users.purge_sessions(now).expect("purge"),
                1,
                "{}",
                t.backend
            );
            assert_eq!(users.session("before").expect("get"), None, "{}", t.backend);
            assert!(
                users.session("after").expect("get").is_some(),
                "{}",
                t.backend
            );
            assert!(
                users.session("now").expect("get").is_some(),
                "{}",
                t.backend
            );
            for name in ["bo", "Al", "b", "Zed"] {
                let u = User {
                    name: name.into(),
                    password_hash: "h".into(),
                    created_at: now,
                };
                assert!(users.put(&u, false).expect("add"));
            }
            assert_eq!(
                users
                    .list()
                    .expect("list")
                    .into_iter()
                    .map(|u| u.name)
                    .collect::<Vec<_>>(),
                ["Al", "b", "bo", "Zed"],
                "{}",
                t.backend
            );
            assert!(!users.remove("nobody").expect("remove"), "{}", t.backend);
        }
    }
}
