//! Purchase leads out of the queue for the dealer's CRM (playbook §5: leads flow to the dealer
//! for sales follow-up): as CSV, or POSTed as JSON to a webhook whose URL comes from the
//! environment (it usually carries a token).
//!
//! The mention text goes along because it holds the contact the customer left; it is untrusted,
//! so CSV cells that a spreadsheet would run as a formula are defused.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::QueueItem;

/// The CSV header, in column order.
pub const CSV_HEADER: &str =
    "id,received_at,platform,author,grade,phone,email,test_drive,timeframe_months,url,text";

/// Every queue item that carries a lead (received since `since`, when given), newest first:
/// what the Leads page, its CSV and `herald queue leads` show.
pub fn leads(
    store: &crate::store::Store,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<QueueItem>, crate::store::StoreError> {
    let mut items: Vec<QueueItem> = store
        .queue()
        .page(&crate::store::QueueQuery {
            limit: usize::MAX,
            ..Default::default()
        })?
        .into_iter()
        .filter(|i| i.lead.is_some() && since.is_none_or(|s| i.created_at >= s))
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    Ok(items)
}

/// Leads among `items` (those carrying a lead), CSV with a header row, RFC 4180 quoting.
pub fn to_csv(items: &[QueueItem]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for i in items {
        let Some(lead) = &i.lead else { continue };
        let cells = [
            i.id.to_string(),
            i.created_at.to_rfc3339(),
            i.platform.clone(),
            i.author.clone(),
            lead.grade.clone(),
            lead.phone.to_string(),
            lead.email.to_string(),
            lead.test_drive.to_string(),
            lead.timeframe_months
                .map(|m| m.to_string())
                .unwrap_or_default(),
            i.mention_url.clone().unwrap_or_default(),
            i.mention_text.clone(),
        ];
        let row: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell: quoted, quotes doubled, and a leading `= + - @` (a formula to a spreadsheet)
/// prefixed with `'`.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The JSON body of a webhook delivery: `{"leads": [...]}`.
pub fn to_json(items: &[QueueItem], now: DateTime<Utc>) -> serde_json::Value {
    let leads: Vec<serde_json::Value> = items
        .iter()
        .filter_map(|i| {
            let l = i.lead.as_ref()?;
            Some(json!({
                "id": i.id,
                "received_at": i.created_at,
                "platform": i.platform,
                "author": i.author,
                "grade": l.grade,
                "phone": l.phone,
                "email": l.email,
                "test_drive": l.test_drive,
                "timeframe_months": l.timeframe_months,
                "url": i.mention_url,
                "text": i.mention_text,
            }))
        })
        .collect();
    json!({ "sent_at": now, "leads": leads })
}

/// Why the CRM webhook did not take the leads. Never shows the URL: it may carry a token.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No answer (no connection, a timeout); the URL is left out of the message.
    #[error("{0}")]
    Transport(reqwest::Error),
    /// The webhook answered with an unsuccessful status.
    #[error("the CRM webhook answered {0}")]
    Refused(reqwest::StatusCode),
}

/// POSTs the leads of `items` to `url`; the number of leads sent.
pub async fn post_webhook(
    http: &reqwest::Client,
    url: &url::Url,
    items: &[QueueItem],
    now: DateTime<Utc>,
) -> Result<usize, WebhookError> {
    let body = to_json(items, now);
    let n = body["leads"].as_array().map_or(0, Vec::len);
    let answer = http
        .post(url.clone())
        .json(&body)
        .send()
        .await
        // Never show the URL: it may carry a token.
        .map_err(|e| WebhookError::Transport(e.without_url()))?;
    if !answer.status().is_success() {
        return Err(WebhookError::Refused(answer.status()));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::{tests::item, LeadInfo, ReplyState};

    /// Only items with a lead, only since the given time, newest first.
    #[test]
    fn leads_are_the_items_with_a_lead_newest_first() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::store::Store::open(&dir.path().join("db")).expect("store");
        let now = Utc::now();
        for (n, hours, lead) in [(1, 30, true), (2, 3, true), (3, 2, false), (4, 1, true)] {
            let mut i = item(ReplyState::Pending);
            i.mention_id = format!("m{n}");
            i.created_at = now - chrono::TimeDelta::hours(hours);
            i.lead = lead.then(|| LeadInfo {
                grade: "warm".into(),
                phone: true,
                email: false,
                test_drive: false,
                timeframe_months: None,
            });
            store.queue().enqueue(&i).expect("enqueue");
        }
        let ids = |items: Vec<QueueItem>| -> Vec<String> {
            items.into_iter().map(|i| i.mention_id).collect()
        };
        assert_eq!(ids(leads(&store, None).expect("leads")), ["m4", "m2", "m1"]);
        let since = Some(now - chrono::TimeDelta::hours(24));
        assert_eq!(ids(leads(&store, since).expect("leads")), ["m4", "m2"]);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut a = item(ReplyState::Pending);
        a.lead = Some(LeadInfo {
            grade: "hot".into(),
            phone: true,
            email: false,
            test_drive: true,
            timeframe_months: Some(1),
        });
        a.mention_text = "=HYPERLINK(\"x\"), 电话13812345678".into();
        let mut no_lead = item(ReplyState::Pending);
        no_lead.id = 2;
        let csv = to_csv(&[a, no_lead]);
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2, "header and one lead: {csv}");
        assert!(lines[1].contains("\"hot\""), "{}", lines[1]);
        assert!(
            lines[1].ends_with("\"'=HYPERLINK(\"\"x\"\"), 电话13812345678\""),
            "{}",
            lines[1]
        );
        assert_eq!(
            to_json(&[item(ReplyState::Pending)], Utc::now())["leads"],
            json!([])
        );
    }

    #[tokio::test]
    async fn the_webhook_gets_the_leads_as_json_and_a_refusal_is_an_error() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/crm"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
        let mut a = item(ReplyState::Pending);
        a.lead = Some(LeadInfo {
            grade: "warm".into(),
            phone: false,
            email: true,
            test_drive: false,
            timeframe_months: None,
        });
        let http = reqwest::Client::new();
        let url = url::Url::parse(&format!("{}/crm", server.uri())).expect("url");
        let n = post_webhook(&http, &url, &[a, item(ReplyState::Sent)], Utc::now())
            .await
            .expect("sent");
        assert_eq!(n, 1);
        let got = server.received_requests().await.expect("recorded");
        let body: serde_json::Value = serde_json::from_slice(&got[0].body).expect("json");
        assert_eq!(body["leads"][0]["grade"], "warm");
        assert_eq!(body["leads"][0]["email"], true);
        let missing = url::Url::parse(&format!("{}/nowhere", server.uri())).expect("url");
        let e = post_webhook(&http, &missing, &[], Utc::now())
            .await
            .expect_err("404");
        assert!(e.to_string().contains("404"), "{e}");
        assert!(
            matches!(e, WebhookError::Refused(s) if s == reqwest::StatusCode::NOT_FOUND),
            "{e:?}"
        );
        // No answer at all: the message leaves out the URL and its token.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let secret = url::Url::parse(&format!("http://127.0.0.1:{port}/crm?token=sk-secret-7"))
            .expect("url");
        let e = post_webhook(&http, &secret, &[], Utc::now())
            .await
            .expect_err("no server");
        assert!(matches!(e, WebhookError::Transport(_)), "{e:?}");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("sk-secret-7"), "{shown}");
    }
}
