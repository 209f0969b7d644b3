//! `herald store check`: open a store without changing it, walk every tree, decode every
//! record, and say what is there and what is unreadable.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{
    catch_quietly, open_sled, read_through, AlertDelivery, AlertRecord, Hold, Session, StoreError,
    StoreOptions, StoredMention, StoredPost, User, MARKER_FILE, SCHEMA_VERSION,
};
use crate::domain::QueueItem;

/// At most this many problems are listed one by one; the rest are counted.
const MAX_LISTED: usize = 50;

/// What one tree holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeReport {
    /// The tree's name (`posts`, `mentions`, `queue`, an index…).
    pub name: String,
    /// Records read.
    pub records: u64,
    /// Records whose value could not be decoded (only trees of typed records are decoded;
    /// index trees are counted).
    pub unreadable: u64,
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The store checked.
    pub path: PathBuf,
    /// Every tree, by name.
    pub trees: Vec<TreeReport>,
    /// What is wrong, one line each (record keys escaped), at most 50 of them.
    pub problems: Vec<String>,
    /// Problems beyond those listed.
    pub more_problems: usize,
}

impl CheckReport {
    /// Whether the store is sound.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Records in the tree `name` (0 when there is no such tree).
    pub fn records(&self, name: &str) -> u64 {
        self.trees
            .iter()
            .find(|t| t.name == name)
            .map_or(0, |t| t.records)
    }

    fn problem(&mut self, line: String) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(line);
        } else {
            self.more_problems += 1;
        }
    }
}

impl std::fmt::Display for CheckReport {
    /// The text `herald store check` prints: one line per tree, then the problems, then the
    /// verdict.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "store {}", self.path.display())?;
        for t in &self.trees {
            write!(f, "  {:<20} {:>9} records", t.name, t.records)?;
            if t.unreadable > 0 {
                write!(f, ", {} unreadable", t.unreadable)?;
            }
            writeln!(f)?;
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        if self.more_problems > 0 {
            writeln!(f, "… and {} more problems", self.more_problems)?;
        }
        if self.is_ok() {
            writeln!(f, "the store is sound")
        } else {
            writeln!(
                f,
                "the store is damaged: restore it from a backup (herald will not start on it)"
            )
        }
    }
}

fn decodes<T: DeserializeOwned>(v: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<T>(v).map(drop)
}

/// Decodes one record's value, or says why it cannot.
type Decoder = fn(&[u8]) -> Result<(), serde_json::Error>;

/// The decoder of a typed tree; `None` for index trees, which are only counted.
fn decoder(tree: &str) -> Option<Decoder> {
    Some(match tree {
        "posts" => decodes::<StoredPost>,
        "mentions" => decodes::<StoredMention>,
        "queue" => decodes::<QueueItem>,
        "alerts" => decodes::<AlertRecord>,
        "alert_deliveries" => decodes::<AlertDelivery>,
        "users" => decodes::<User>,
        "sessions" => decodes::<Session>,
        "engagement" => decodes::<crate::store::Engagement>,
        "click_links" => decodes::<crate::store::ClickLink>,
        _ => return None,
    })
}

/// A key as it may be shown: lossy UTF-8 with control characters escaped (keys hold author
/// names and mention ids, which are untrusted).
fn shown_key(k: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(k))
}

/// Checks the store at `path` without writing to it: every tree is walked and every typed
/// record decoded. A store sled cannot open at all is `Err(StoreError::Damaged)`; a store that
/// opens is described by the report, whose `problems` are empty when it is sound.
pub fn check(path: &Path) -> Result<CheckReport, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.display().to_string(),
        });
    }
    let marked = path.join(MARKER_FILE).exists();
    let db = open_sled(path, &StoreOptions::default())?;
    let mut report = CheckReport {
        path: path.to_path_buf(),
        trees: Vec::new(),
        problems: Vec::new(),
        more_problems: 0,
    };
    let mut names: Vec<String> = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| !n.starts_with("__sled__"))
        .collect();
    names.sort();
    // The schedule unreadable is what makes `SledStore::open` refuse the store: say so the same way.
    if names.iter().any(|n| n == "posts") {
        let damaged = |why: String| StoreError::Damaged {
            path: path.display().to_string(),
            why,
        };
        let posts = db.open_tree("posts")?;
        match catch_quietly(|| read_through(&posts)) {
            Ok(Ok(())) => {}
            Ok(Err(StoreError::Unreadable { why })) => return Err(damaged(why)),
            Ok(Err(e)) => return Err(e),
            Err(why) => return Err(damaged(format!("sled failed reading it ({why})"))),
        }
    }
    let schema = names
        .iter()
        .any(|n| n == "meta")
        .then(|| db.open_tree("meta").and_then(|m| m.get("schema")))
        .transpose()?
        .flatten();
    match schema {
        Some(v) if v.as_ref() == SCHEMA_VERSION => {}
        Some(v) => report.problem(format!(
            "schema version {} (this herald reads version 1)",
            shown_key(&v)
        )),
        None if marked || !names.is_empty() => report.problem(
            "it opened empty, but its files say it holds data (a file of it, such as a `snap.*` snapshot, is missing or cut short)"
                .into(),
        ),
        None => report.problem("this folder is not a herald store (no schema record)".into()),
    }
    for name in names {
        let tree = db.open_tree(&name)?;
        let decode = decoder(&name);
        let mut t = TreeReport {
            name: name.clone(),
            records: 0,
            unreadable: 0,
        };
        let mut problems = Vec::new();
        let walked = catch_quietly(|| {
            for kv in tree.iter() {
                let (k, v) = match kv {
                    Ok(kv) => kv,
                    Err(e) => {
                        problems.push(format!("{name}: cannot read further: {e}"));
                        return;
                    }
                };
                t.records += 1;
                let result = match (decode, name.as_str(), k.as_ref()) {
                    (Some(d), _, _) => d(&v).map_err(|e| e.to_string()),
                    (None, "meta", b"hold" | b"crisis_hold") => {
                        decodes::<Hold>(&v).map_err(|e| e.to_string())
                    }
                    // Counts are binary (key `hour ‖ code`, value a u64), not JSON.
                    (None, "clicks", _) => {
                        super::clicks::count_decodes(&k, &v).map_err(|e| e.to_string())
                    }
                    _ => Ok(()),
                };
                if let Err(why) = result {
                    t.unreadable += 1;
                    problems.push(format!("{name}/{}: {why}", shown_key(&k)));
                }
            }
        });
        if let Err(why) = walked {
            problems.push(format!("{name}: sled failed reading it ({why})"));
        }
        for p in problems {
            report.problem(p);
        }
        report.trees.push(t);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::filled_store;
    use crate::store::Store;

    #[test]
    fn a_sound_store_is_counted_tree_by_tree() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        filled_store(&path);
        {
            let store = Store::open(&path).expect("open");
            let m = crate::store::mentions::tests::mention(
                "m1",
                "alice",
                "hi",
                "2026-11-22T10:00:00Z",
                &[],
            );
            let draft = crate::domain::queue::tests::item(crate::domain::ReplyState::Pending);
            store
                .mentions()
                .insert_with_draft(&m, Some(&draft))
                .expect("insert");
        }
        let report = check(&path).expect("check");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.records("posts"), 300);
        assert_eq!(report.records("mentions"), 1);
        assert_eq!(report.records("queue"), 1);
        let text = report.to_string();
        assert!(text.contains("the store is sound"), "{text}");
        // Checking changed nothing: the store still opens with all of it.
        let store = Store::open(&path).expect("open");
        assert_eq!(store.posts().all().expect("posts").len(), 300);
    }

    #[test]
    fn unreadable_records_and_lost_data_are_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        filled_store(&path);
        {
            let store = Store::open(&path).expect("open");
            store
                .as_sled()
                .posts
                .insert(b"x\0\x1b[2Jjunk", b"{not json".as_slice())
                .expect("raw insert");
            store.as_sled().flush().expect("flush");
        }
        let report = check(&path).expect("check");
        assert!(!report.is_ok());
        assert_eq!(report.records("posts"), 301);
        let posts = report
            .trees
            .iter()
            .find(|t| t.name == "posts")
            .expect("posts");
        assert_eq!(posts.unreadable, 1);
        assert_eq!(report.problems.len(), 1, "{report}");
        assert!(
            report.problems[0].starts_with("posts/") && !report.problems[0].contains('\x1b'),
            "{:?}",
            report.problems
        );
        assert!(report.to_string().contains("the store is damaged"));

        // The data files gone: the marker says there was data.
        for f in std::fs::read_dir(&path).expect("dir").flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name == "db" || name.starts_with("snap.") {
                std::fs::remove_file(f.path()).expect("rm");
            }
        }
        let report = check(&path).expect("check");
        assert!(
            report.problems.iter().any(|p| p.contains("opened empty")),
            "{report}"
        );

        assert!(matches!(
            check(&dir.path().join("nothing")),
            Err(StoreError::Missing { .. })
        ));
    }

    #[test]
    fn a_store_cut_in_half_is_damaged_for_check_too() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("db");
        filled_store(&path);
        let db = path.join("db");
        let len = std::fs::metadata(&db).expect("meta").len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .expect("open")
            .set_len(len / 2)
            .expect("truncate");
        assert!(matches!(check(&path), Err(StoreError::Damaged { .. })));
    }
}
