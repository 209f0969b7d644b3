//! Reading and signing HTTP answers the same way for every platform and sink: the
//! `Retry-After` header, a one-line snippet of an error body, the table that turns an
//! unsuccessful status into an [`Error`], and the HMAC signature of herald's webhooks.
//!
//! Building the client itself is [`crate::http::client`]'s job.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use sha2::Sha256;

use super::Error;

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// Shortens an error body for a message: the first 300 characters, one line.
pub fn snippet(body: &str) -> String {
    crate::untrusted::one_line(body, 300)
}

/// The error for an unsuccessful `status`, by HTTP's meaning of it: 429 waits `retry_after`,
/// 503 is unavailable (and waits too), 401 and 403 are credentials, other 5xx and 408 may pass,
/// anything else is a refusal. `message` says what the platform answered.
pub fn status_error(status: StatusCode, retry_after: Option<Duration>, message: String) -> Error {
    match status {
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited { retry_after },
        StatusCode::SERVICE_UNAVAILABLE => Error::Unavailable {
            message,
            retry_after,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Auth(message),
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => Error::Transient(message),
        _ => Error::Rejected(message),
    }
}

/// The signature of a webhook body, as herald sends it in `X-Herald-Signature`:
/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            retry_after.parse().expect("header"),
        );
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&headers("120")), Some(Duration::from_secs(120)));
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
        };
        let soon = std::time::SystemTime::now() + Duration::from_secs(600);
        let header = headers(&httpdate::fmt_http_date(soon));
        let before = unix(std::time::SystemTime::now());
        let d = retry_after(&header).expect("a date").as_secs();
        let after = unix(std::time::SystemTime::now());
        // Counted from the moment it is read; the date has whole seconds.
        assert!(
            (unix(soon) - after - 1..=unix(soon) - before).contains(&d),
            "{d}"
        );
        // A date in the past means now; garbage means no hint.
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon")), None);
    }

    #[test]
    fn statuses_map_to_what_happens_next() {
        let ra = Some(Duration::from_secs(30));
        let m = || "said no".to_string();
        for (code, want) in [
            (429, Error::RateLimited { retry_after: ra }),
            (
                503,
                Error::Unavailable {
                    message: m(),
                    retry_after: ra,
                },
            ),
            (401, Error::Auth(m())),
            (403, Error::Auth(m())),
            (500, Error::Transient(m())),
            (502, Error::Transient(m())),
            (408, Error::Transient(m())),
            (400, Error::Rejected(m())),
            (422, Error::Rejected(m())),
        ] {
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(status_error(status, ra, m()), want, "{code}");
        }
    }

    #[test]
    fn snippets_are_one_short_line() {
        let s = snippet(&format!("bad\nrequest {}", "x".repeat(1000)));
        assert!(!s.contains('\n'), "{s}");
        assert!(s.chars().count() <= 301, "{}", s.chars().count());
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference value from Python: hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("k", 1_700_000_000, b"{}"),
            "sha256=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
        );
    }
}
