//! Crisis handling: alerts raised by the spike detector, and telling people about them.
//!
//! [`notify`] owns the alert sinks (WeCom, DingTalk, Feishu/Lark, Slack, webhook, e-mail) and
//! the durable delivery worker that sends every queued alert message to them.

pub mod notify;
