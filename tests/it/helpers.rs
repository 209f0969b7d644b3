//! Running the `herald` binary in a scratch folder, and opening its store on the backend the
//! tests run on (see [`crate::pg`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use herald::store::Store;

use crate::pg::{self, Backend};

/// The brand herald writes under when `[storage] brand` is not given (the tests never give one).
const DEFAULT_BRAND: &str = "default";

/// The repository root (where the checked-in content lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch folder holding copies of `content-plan/` and `keywords/`, as a new user has them.
///
/// Its store is on the backend the tests run on ([`pg::backend`]): on PostgreSQL, a schema of
/// its own, named in `[storage] url` of every `herald.toml` written here (one with only that
/// is written at once, so that a test writing none still runs on PostgreSQL).
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// The workspace's PostgreSQL schema; `None` on sled.
    schema: Option<pg::Schema>,
}

impl Workspace {
    /// A workspace on the backend the tests run on.
    pub fn new() -> Self {
        Self::on(pg::backend())
    }

    /// A workspace whose store is sled whatever the backend: for tests about sled's own files
    /// (damaged or locked store files, its folder's growth), which mean nothing on PostgreSQL.
    pub fn new_sled() -> Self {
        Self::on(Backend::Sled)
    }

    fn on(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(
            &repo().join("content-plan"),
            &dir.path().join("content-plan"),
        );
        copy_dir(&repo().join("keywords"), &dir.path().join("keywords"));
        let schema = (backend == Backend::Postgres).then(pg::Schema::new);
        let ws = Self { dir, schema };
        if ws.schema.is_some() {
            ws.write("herald.toml", "");
        }
        ws
    }

    /// The backend this workspace's store is on.
    pub fn backend(&self) -> Backend {
        if self.schema.is_some() {
            Backend::Postgres
        } else {
            Backend::Sled
        }
    }

    /// Opens this workspace's store as herald does with the default `[storage]`: sled at
    /// `data/herald.db`, or the workspace's schema (brand `default`).
    pub fn store(&self) -> Store {
        match &self.schema {
            Some(schema) => Store::open_postgres(&schema.options(DEFAULT_BRAND))
                .expect("open the workspace's PostgreSQL store"),
            None => Store::open(&self.path().join("data/herald.db")).expect("open the sled store"),
        }
    }

    /// Starts `herald run` here and returns once its control socket is served (the startup
    /// summary names it); its stderr is drained from then on.
    pub fn start_run(&self) -> std::process::Child {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("run")
            .current_dir(self.path())
            .env_remove("HERALD_CONFIG")
            .env_remove("HERALD_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("herald run");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok);
        assert!(
            lines.any(|l| l.contains("other herald commands reach this process")),
            "herald run started with its control socket"
        );
        std::thread::spawn(move || lines.for_each(drop));
        child
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `herald` with `args` in this folder.
    pub fn herald(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .current_dir(self.path())
            .env_remove("HERALD_CONFIG")
            .env_remove("HERALD_LOG")
            .output()
            .expect("run herald");
        Run::from(out)
    }

    /// Writes `rel`; a `herald.toml` gets the workspace's PostgreSQL URL in `[storage]`.
    pub fn write(&self, rel: &str, text: &str) {
        let text = match &self.schema {
            Some(schema) if rel == "herald.toml" => with_storage_url(text, &schema.url()),
            _ => text.to_string(),
        };
        let path = self.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read")
    }

    /// Replaces the first `from` in a file with `to`, failing loudly if `from` is not there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} has no {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }
}

/// `text` (a `herald.toml`) with `url = "<url>"` in its `[storage]` section: under the header
/// when there is one, else in a `[storage]` added at the end (so that no line the test's
/// assertions name moves). A `[storage]` that already has a `url` or `url_env` is left as it
/// is: the test chose its database itself (the multi-process tests share one), or the text is
/// one this function wrote (`edit` rewrites the file it read).
fn with_storage_url(text: &str, url: &str) -> String {
    let line = format!("url = \"{url}\"");
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.trim() == "[storage]") {
        let names_a_database = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| l.split_once('='))
            .any(|(key, _)| matches!(key.trim(), "url" | "url_env"));
        if names_a_database {
            return text.to_string();
        }
        lines.insert(i + 1, &line);
        let mut out = lines.join("\n");
        out.push('\n');
        return out;
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("\n[storage]\n");
    out.push_str(&line);
    out.push('\n');
    out
}

/// A store for tests that drive the library directly (no workspace): sled in a temporary
/// folder, or a PostgreSQL schema of its own, per the backend the tests run on. Open it as
/// often as needed: each [`TestDb::open`] is another handle on the same data, as a restarted
/// herald would open it.
pub struct TestDb {
    dir: tempfile::TempDir,
    schema: Option<pg::Schema>,
}

impl TestDb {
    /// A fresh store on the backend the tests run on.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            schema: (pg::backend() == Backend::Postgres).then(pg::Schema::new),
        }
    }

    /// A temporary folder beside the store, for a test's other files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Opens the store (again).
    pub fn open(&self) -> Store {
        match &self.schema {
            Some(schema) => {
                Store::open_postgres(&schema.options(DEFAULT_BRAND)).expect("open postgres")
            }
            None => Store::open(&self.dir.path().join("db")).expect("open sled"),
        }
    }
}

/// Opens the store a loaded configuration names, as `herald` itself does: its PostgreSQL
/// database when `[storage]` has one, else sled at `[storage] path`.
pub fn open_store(config: &herald::config::Config) -> Store {
    let storage = &config.herald.storage;
    match &storage.postgres {
        Some(pg) => Store::open_postgres(&pg.options().expect("the store's secrets"))
            .expect("open postgres"),
        None => Store::open_with(&storage.path, &storage.options).expect("open sled"),
    }
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A planned post for tests that seed the store directly.
pub fn stored_post(
    channel: &str,
    text: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> herald::store::StoredPost {
    herald::store::StoredPost {
        channel: channel.into(),
        at,
        kind: herald::store::PostKind::Planned,
        category: "service".into(),
        draft: "service/test".into(),
        peak: "lunch".into(),
        text: text.into(),
        promo: false,
        series: None,
        source_code: format!("{channel}.service.test.{}", at.timestamp()),
        state: herald::store::PostState::Planned,
        title: None,
        reply: None,
        media: Vec::new(),
        delivery: Default::default(),
    }
}

/// The harness itself: the URL in herald.toml, the backend each store is on.
mod tests {
    use super::*;

    /// The URL goes under an existing `[storage]`, else into a `[storage]` added at the end,
    /// so that the test's own lines keep their numbers; writing the result again adds nothing.
    #[test]
    fn the_storage_url_is_added_once_without_moving_a_line() {
        let url = "postgresql://h@127.0.0.1:1/p?options=-csearch_path%3Dt_1";
        let key = format!("url = \"{url}\"");
        let cases = [
            ("", format!("\n[storage]\n{key}\n")),
            (
                "timezone = \"UTC\"",
                format!("timezone = \"UTC\"\n\n[storage]\n{key}\n"),
            ),
            (
                "[[sources]]\nname = \"a\"\n",
                format!("[[sources]]\nname = \"a\"\n\n[storage]\n{key}\n"),
            ),
            (
                "[storage]\ncache_mb = 16\n\n[web]\n",
                format!("[storage]\n{key}\ncache_mb = 16\n\n[web]\n"),
            ),
        ];
        for own in [
            "[storage]\nurl = \"postgresql://h@shared:1/p\"\n\n[[channels]]\nname = \"a\"\n",
            "[storage]\ncache_mb = 8\nurl_env = \"DB\"\n",
        ] {
            assert_eq!(
                with_storage_url(own, url),
                own,
                "the test's own database stays"
            );
        }
        for (text, want) in cases {
            let got = with_storage_url(text, url);
            assert_eq!(got, want, "{text:?}");
            assert_eq!(with_storage_url(&got, url), got, "again: {text:?}");
            let parsed: toml::Table = got.parse().expect("still TOML");
            assert_eq!(parsed["storage"]["url"].as_str(), Some(url), "{got}");
        }
    }

    /// What `herald` writes lands in the store the test reads, on the chosen backend; a
    /// workspace asked for on sled is on sled whatever the backend.
    #[test]
    fn herald_and_the_test_share_the_workspace_store_on_the_chosen_backend() {
        let ws = Workspace::new();
        assert_eq!(ws.backend(), pg::backend());
        let plan = ws.herald(&["plan", "--days", "2", "--from", "2026-12-01"]);
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let store = ws.store();
        let want = match pg::backend() {
            Backend::Sled => "sled",
            Backend::Postgres => "postgres",
        };
        assert_eq!(store.backend(), want);
        assert!(!store.posts().all().expect("posts").is_empty(), "planned");
        assert_eq!(
            ws.path().join("data/herald.db").exists(),
            pg::backend() == Backend::Sled,
            "sled's folder exists only on sled"
        );

        let sled = Workspace::new_sled();
        assert_eq!(sled.backend(), Backend::Sled);
        assert_eq!(sled.store().backend(), "sled");
        assert!(
            !sled.path().join("herald.toml").exists(),
            "left as a new user has it"
        );

        let db = TestDb::new();
        assert_eq!(db.open().backend(), want);
    }

    /// Each `TestDb::open` is another handle on the same data, as a restarted herald sees it;
    /// two `TestDb`s never share.
    #[test]
    fn a_test_db_reopens_its_own_data_only() {
        let (a, b) = (TestDb::new(), TestDb::new());
        let at = chrono::DateTime::from_timestamp(1_796_083_200, 0).expect("t");
        a.open()
            .posts()
            .put(&stored_post("outbox", "kept", at))
            .expect("put");
        assert_eq!(a.open().posts().all().expect("posts").len(), 1);
        assert!(b.open().posts().all().expect("posts").is_empty());
    }
}
