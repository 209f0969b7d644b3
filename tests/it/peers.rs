//! The real peers the suite runs against (started by `tests/peers/with-peers.sh`).

use std::time::Duration;

use serde_json::Value;

/// mastodon-mock's fault rules apply to whichever request comes next, from any test: every
/// test that posts to it holds this lock, so an injected fault meets the request it was meant for.
pub static MASTODON: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Addresses and accounts of the running peers.
pub struct Peers {
    pub pds: String,
    pub mastodon: String,
}

/// The peers, or a clear failure telling how to start them.
pub fn peers() -> Peers {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run the tests with the peers up: bash tests/peers/with-peers.sh cargo test")
        })
    };
    Peers {
        pds: var("HERALD_TEST_PDS_URL"),
        mastodon: var("HERALD_TEST_MASTODON_URL"),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

impl Peers {
    /// A Bluesky session for a test account: (did, access token).
    pub async fn bsky_login(&self, handle: &str, password: &str) -> (String, String) {
        let v: Value = client()
            .post(format!(
                "{}/xrpc/com.atproto.server.createSession",
                self.pds
            ))
            .json(&serde_json::json!({ "identifier": handle, "password": password }))
            .send()
            .await
            .expect("createSession")
            .json()
            .await
            .expect("session json");
        (
            v["did"].as_str().expect("did").to_string(),
            v["accessJwt"].as_str().expect("jwt").to_string(),
        )
    }

    /// Every post record of a repository.
    pub async fn bsky_posts(&self, did: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post&limit=100",
                self.pds
            );
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let v: Value = client()
                .get(url)
                .send()
                .await
                .expect("listRecords")
                .json()
                .await
                .expect("json");
            let records = v["records"].as_array().cloned().unwrap_or_default();
            let done = records.is_empty();
            out.extend(records);
            cursor = v["cursor"].as_str().map(str::to_string);
            if done || cursor.is_none() {
                return out;
            }
        }
    }

    pub async fn bsky_record(&self, uri: &str) -> Value {
        let parts: Vec<&str> = uri.trim_start_matches("at://").split('/').collect();
        client()
            .get(format!(
                "{}/xrpc/com.atproto.repo.getRecord?repo={}&collection={}&rkey={}",
                self.pds, parts[0], parts[1], parts[2]
            ))
            .send()
            .await
            .expect("getRecord")
            .json()
            .await
            .expect("json")
    }

    /// Every status of a Mastodon account, newest first (paged by max_id).
    pub async fn mastodon_statuses(&self, token: &str) -> Vec<Value> {
        let me: Value = client()
            .get(format!(
                "{}/api/v1/accounts/verify_credentials",
                self.mastodon
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("verify")
            .json()
            .await
            .expect("json");
        let id = me["id"].as_str().expect("id").to_string();
        let mut out: Vec<Value> = Vec::new();
        let mut max_id: Option<String> = None;
        loop {
            let mut url = format!("{}/api/v1/accounts/{id}/statuses?limit=40", self.mastodon);
            if let Some(m) = &max_id {
                url.push_str(&format!("&max_id={m}"));
            }
            let page: Vec<Value> = client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("statuses")
                .json()
                .await
                .expect("json");
            if page.is_empty() {
                return out;
            }
            max_id = page
                .last()
                .and_then(|s| s["id"].as_str().map(str::to_string));
            out.extend(page);
        }
    }

    pub async fn mastodon_status(&self, token: &str, id: &str) -> Value {
        client()
            .get(format!("{}/api/v1/statuses/{id}", self.mastodon))
            .bearer_auth(token)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json")
    }

    /// Injects a fault into mastodon-mock for the next `count` matching requests.
    pub async fn mastodon_fault(&self, method: &str, path: &str, effect: Value, count: u32) {
        let answer = client()
            .post(format!("{}/api/v1/_mock/faults", self.mastodon))
            .json(&serde_json::json!({ "match": { "methods": [method], "path": path }, "effect": effect, "count": count }))
            .send()
            .await
            .expect("fault");
        assert!(
            answer.status().is_success(),
            "fault API: {}",
            answer.status()
        );
    }

    pub async fn mastodon_clear_faults(&self) {
        let _ = client()
            .delete(format!("{}/api/v1/_mock/faults", self.mastodon))
            .send()
            .await;
    }
}
