//! The one way herald builds an HTTP client for a platform, a feed or an alert sink: a timeout
//! for the whole request and herald's user agent (`herald/<version>`).

use std::time::Duration;

/// A client whose requests give up after `timeout`.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
        .build()
}
