//! Running the `herald` binary in a scratch folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where the checked-in content lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch folder holding copies of `content-plan/` and `keywords/`, as a new user has them.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(
            &repo().join("content-plan"),
            &dir.path().join("content-plan"),
        );
        copy_dir(&repo().join("keywords"), &dir.path().join("keywords"));
        Self { dir }
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

    pub fn write(&self, rel: &str, text: &str) {
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
        delivery: Default::default(),
    }
}
