//! The reply queue's record and its state machine: a [`QueueItem`] (the mention, the drafted
//! reply and its audit log), where it is in its life ([`ReplyState`]), what can be done to it
//! ([`Action`]) and the one pure function that moves it ([`apply`]). The inbox drafts and sends
//! items, the store keeps them (running [`apply`] inside its transactions); neither owns the
//! record, so that the store never imports the inbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::media::PostMedia;
use super::reply::ReplyTo;

/// How urgent an item is; the inbox lists the most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// A crisis keyword matched: routed before everything else.
    Crisis,
    Complaint,
    Question,
    /// Purchase interest.
    Lead,
    Praise,
    /// Anything else that was still worth a draft.
    Other,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 6] = [
        Priority::Crisis,
        Priority::Complaint,
        Priority::Question,
        Priority::Lead,
        Priority::Praise,
        Priority::Other,
    ];

    /// The name used in files, the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Crisis => "crisis",
            Priority::Complaint => "complaint",
            Priority::Question => "question",
            Priority::Lead => "lead",
            Priority::Praise => "praise",
            Priority::Other => "other",
        }
    }

    /// The byte the store's index sorts by (most urgent lowest).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The priority of an index byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// Parses a name (`crisis`, `complaint`, …).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Where a reply is in its life.
///
/// ```text
/// pending ──approve (as drafted or edited)──► approved ──claim──► sending ──► sent
///    │ ▲ edit, attach, assign                    │                    └────► failed ──retry, approve──► approved
///    ├──reject──► rejected ◄──reject─────────────┤
///    └──expire──► expired                        └──fail (no channel)──► failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyState {
    /// Drafted, waiting for a person.
    Pending,
    /// A person approved it; the reply sender will hand it to the publisher.
    Approved,
    /// Handed to the publisher as a reply post; its fate is the post's.
    Sending,
    /// On the platform, in the thread of the mention.
    Sent,
    /// Could not be sent (the platform refused it, no channel can reply there).
    Failed,
    /// A person decided not to answer.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

impl ReplyState {
    /// Every state, in lifecycle order.
    pub const ALL: [ReplyState; 7] = [
        ReplyState::Pending,
        ReplyState::Approved,
        ReplyState::Sending,
        ReplyState::Sent,
        ReplyState::Failed,
        ReplyState::Rejected,
        ReplyState::Expired,
    ];

    /// States that still need someone (a person or the sender).
    pub const OPEN: [ReplyState; 4] = [
        ReplyState::Pending,
        ReplyState::Approved,
        ReplyState::Sending,
        ReplyState::Failed,
    ];

    /// The name used in the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyState::Pending => "pending",
            ReplyState::Approved => "approved",
            ReplyState::Sending => "sending",
            ReplyState::Sent => "sent",
            ReplyState::Failed => "failed",
            ReplyState::Rejected => "rejected",
            ReplyState::Expired => "expired",
        }
    }

    /// The byte the store's index groups by.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses a name (`pending`, `approved`, …).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the SLA timer runs: nobody has answered yet.
    pub fn awaits_answer(self) -> bool {
        matches!(self, ReplyState::Pending | ReplyState::Approved)
    }
}

/// The reply post an approved item became: its key in the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRef {
    /// The channel that sends it.
    pub channel: String,
    /// Its time in the schedule (a free second on the channel): with the channel, its key.
    pub at: DateTime<Utc>,
}

/// One recorded transition: who did what, when, and the reply text before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// A person's name, or `herald` for the system.
    pub who: String,
    /// `draft`, `edit`, `approve`, `reject`, `assign`, `expire`, `claim`, `sent`, `fail`, `retry`.
    pub action: String,
    /// `None` for the entry that created the item.
    pub from: Option<ReplyState>,
    /// The state after it.
    pub to: ReplyState,
    /// The reply text before the transition (empty when drafted).
    pub text_before: String,
    /// The reply text after it.
    pub text_after: String,
    /// A reason, an assignee, an error, a remote id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A lead carried by an item, for the dealer's CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadInfo {
    /// `hot`, `warm`, `cold` or `unvalued` (playbook §5).
    pub grade: String,
    /// A phone number is in the mention.
    pub phone: bool,
    /// An e-mail address is in the mention.
    pub email: bool,
    #[serde(default)]
    pub test_drive: bool,
    #[serde(default)]
    pub timeframe_months: Option<u32>,
}

/// One item of the queue: the mention, the drafted reply, and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    /// Assigned by the store when enqueued (0 before).
    pub id: u64,
    /// The mention's id (the Mention contract's `id`).
    pub mention_id: String,
    /// `bluesky`, `mastodon`, `rss`, …
    pub platform: String,
    /// The listening source that found the mention.
    pub source: String,
    /// The mention's author (untrusted).
    pub author: String,
    /// The mention's text: untrusted, shown escaped, never put into a reply.
    pub mention_text: String,
    #[serde(default)]
    pub mention_url: Option<String>,
    /// When the mention was posted.
    pub mention_at: DateTime<Utc>,
    /// `zh` or `en`.
    pub lang: String,
    /// The classifier's intent (`complaint`, `question`, `purchase`, `praise`, `other`).
    pub intent: String,
    /// How urgent it is.
    pub priority: Priority,
    /// A crisis keyword matched.
    pub crisis: bool,
    /// `group/rule` of every keyword match.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub lead: Option<LeadInfo>,
    /// The customer's lifecycle stage, when the text says (playbook §7).
    #[serde(default)]
    pub stage: Option<String>,
    /// The template the draft came from.
    pub template: String,
    /// The reply as it will be sent.
    pub text: String,
    /// The reply's tracking code (playbook §6), also in its link's `utm_content`.
    #[serde(default)]
    pub source_code: String,
    /// The channel that will send the reply (`None`: no channel can reply on this platform).
    #[serde(default)]
    pub channel: Option<String>,
    /// Where it is in its life.
    pub state: ReplyState,
    /// When the item was enqueued: its age.
    pub created_at: DateTime<Utc>,
    /// When the first answer is due (its SLA).
    pub due_at: DateTime<Utc>,
    #[serde(default)]
    pub assignee: Option<String>,
    /// Where the reply goes in the thread, once resolved.
    #[serde(default)]
    pub reply_to: Option<ReplyTo>,
    /// The reply post in the schedule, once claimed.
    #[serde(default)]
    pub post: Option<PostRef>,
    #[serde(default)]
    pub remote_id: Option<String>,
    #[serde(default)]
    pub remote_url: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Every transition, oldest first.
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
    /// A picture from the media library a person attached to the reply ([`Action::Attach`]);
    /// the reply post carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<PostMedia>,
}

impl QueueItem {
    /// Whether the item still waits for its first answer after its SLA ran out.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.awaits_answer() && self.due_at < now
    }
}

/// Something done to an item, by a person or by herald.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Replace the draft's text, staying pending.
    Edit { text: String },
    /// Approve, as drafted (`None`) or with new text; also a failed reply, to send it again.
    Approve { text: Option<String> },
    /// Decide not to answer (pending, approved but not yet sending, or failed).
    Reject { reason: Option<String> },
    /// Give the item to a person (`None` to unassign); any state before the end.
    Assign { to: Option<String> },
    /// A pending item nobody decided on in time.
    Expire,
    /// The sender made the reply post: approved → sending.
    Claim {
        post: PostRef,
        reply_to: Option<ReplyTo>,
    },
    /// The publisher put it on the platform.
    Sent {
        remote_id: String,
        url: Option<String>,
    },
    /// It cannot be sent.
    Fail { error: String },
    /// A person asks to send a failed reply again: failed → approved.
    Retry,
    /// Attach a picture to the reply (`None`: remove it), staying pending or failed. Its alt
    /// text is required and at most [`MAX_ALT_CHARS`] characters.
    Attach { media: Option<PostMedia> },
}

impl Action {
    /// The audit log's name of the action.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Edit { .. } => "edit",
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::Assign { .. } => "assign",
            Action::Expire => "expire",
            Action::Claim { .. } => "claim",
            Action::Sent { .. } => "sent",
            Action::Fail { .. } => "fail",
            Action::Retry => "retry",
            Action::Attach { .. } => "attach",
        }
    }
}

/// Why an action was refused; the item is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("cannot {action} a reply that is {state}")]
    Illegal {
        action: &'static str,
        state: &'static str,
    },
    #[error("the reply text is empty")]
    EmptyText,
    /// Longer than [`MAX_TEXT_CHARS`]: the page keeps the text and names both numbers.
    #[error("the reply text has {len} characters, over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("no queue item {0}")]
    NotFound(u64),
    /// A picture without alt text: people who cannot see it must be told what it shows.
    #[error("the picture needs an alt text that says what it shows")]
    AltMissing,
    /// An alt text over [`MAX_ALT_CHARS`].
    #[error("the alt text has {len} characters, over the limit of {max}")]
    AltTooLong { len: usize, max: usize },
    /// A picture name that is not a plain relative path in the media folder.
    #[error("{0:?} is not a file name in the media folder")]
    BadFile(String),
}

/// The longest reply text accepted from a person (both platforms take far less; the publisher
/// reports the exact limit).
pub const MAX_TEXT_CHARS: usize = 5000;

/// The longest alt text accepted for a reply's picture: Mastodon's default description limit,
/// under Bluesky's (the publisher checks the exact limit of the instance).
pub const MAX_ALT_CHARS: usize = 1500;

/// Whether `file` is a plain relative path with `/` separators: no empty, `.` or `..`
/// component, no backslash, no control character, not absolute. The web UI also checks that
/// it names a picture inside the media folder; this keeps anything else out of the record.
pub fn is_plain_media_name(file: &str) -> bool {
    !file.is_empty()
        && file.len() <= 1024
        && !file.contains('\\')
        && !file.chars().any(char::is_control)
        && file
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && !file.contains(':')
}

/// Applies `action` by `who` at `now`: the item after it, with the transition appended to its
/// audit log, or why it is not allowed. Pure; the store runs it inside a transaction.
pub fn apply(
    item: &QueueItem,
    action: &Action,
    who: &str,
    now: DateTime<Utc>,
) -> Result<QueueItem, TransitionError> {
    use ReplyState::*;
    let illegal = || TransitionError::Illegal {
        action: action.name(),
        state: item.state.as_str(),
    };
    let check_text = |t: &str| {
        let len = t.chars().count();
        if t.trim().is_empty() {
            Err(TransitionError::EmptyText)
        } else if len > MAX_TEXT_CHARS {
            Err(TransitionError::TooLong {
                len,
                max: MAX_TEXT_CHARS,
            })
        } else {
            Ok(())
        }
    };
    let mut next = item.clone();
    let mut note = None;
    match (action, item.state) {
        (Action::Edit { text }, Pending) => {
            check_text(text)?;
            next.text = text.clone();
        }
        (Action::Approve { text }, Pending | Failed) => {
            if let Some(t) = text {
                check_text(t)?;
                next.text = t.clone();
            }
            next.state = Approved;
            // Approving a failed reply again (usually with shorter text) makes a new post.
            next.post = None;
        }
        (Action::Reject { reason }, Pending | Approved | Failed) => {
            next.state = Rejected;
            note = reason.clone();
        }
        (Action::Assign { to }, Pending | Approved | Sending | Failed) => {
            next.assignee = to.clone();
            note = Some(to.clone().unwrap_or_else(|| "(nobody)".into()));
        }
        (Action::Expire, Pending) => next.state = Expired,
        (Action::Claim { post, reply_to }, Approved) => {
            next.state = Sending;
            next.post = Some(post.clone());
            next.reply_to = reply_to.clone();
            next.error = None;
            note = Some(format!("{}@{}", post.channel, post.at.timestamp()));
        }
        (Action::Sent { remote_id, url }, Sending) => {
            next.state = Sent;
            next.remote_id = Some(remote_id.clone());
            next.remote_url = url.clone();
            next.error = None;
            note = Some(remote_id.clone());
        }
        (Action::Fail { error }, Approved | Sending) => {
            next.state = Failed;
            next.error = Some(error.clone());
            note = Some(error.clone());
        }
        (Action::Attach { media }, Pending | Failed) => {
            if let Some(m) = media {
                if !is_plain_media_name(&m.file) {
                    return Err(TransitionError::BadFile(m.file.clone()));
                }
                let len = m.alt.chars().count();
                if m.alt.trim().is_empty() {
                    return Err(TransitionError::AltMissing);
                }
                if len > MAX_ALT_CHARS {
                    return Err(TransitionError::AltTooLong {
                        len,
                        max: MAX_ALT_CHARS,
                    });
                }
            }
            next.media = media.clone();
            note = Some(match media {
                Some(m) => format!("{}: {}", m.file, m.alt),
                None => "(none)".into(),
            });
        }
        (Action::Retry, Failed) => {
            next.state = Approved;
            // A new attempt is a new reply post: the failed one stays in the schedule as it is.
            next.post = None;
        }
        _ => return Err(illegal()),
    }
    next.audit.push(AuditEntry {
        at: now,
        who: who.to_string(),
        action: action.name().to_string(),
        from: Some(item.state),
        to: next.state,
        text_before: item.text.clone(),
        text_after: next.text.clone(),
        note,
    });
    Ok(next)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A queue item in `state`, as the inbox drafts one (for tests of the store and the inbox).
    pub(crate) fn item(state: ReplyState) -> QueueItem {
        let t = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        QueueItem {
            id: 1,
            mention_id: "m1".into(),
            platform: "mastodon".into(),
            source: "masto".into(),
            author: "alice".into(),
            mention_text: "刹车失灵".into(),
            mention_url: None,
            mention_at: t,
            lang: "zh".into(),
            intent: "complaint".into(),
            priority: Priority::Crisis,
            crisis: true,
            topics: vec![],
            lead: None,
            stage: None,
            template: "crisis-zh".into(),
            text: "draft".into(),
            source_code: "masto.reply.crisis-zh.20261201T1000".into(),
            channel: Some("masto".into()),
            state,
            created_at: t,
            due_at: t + chrono::TimeDelta::minutes(30),
            assignee: None,
            reply_to: None,
            post: None,
            remote_id: None,
            remote_url: None,
            error: None,
            audit: vec![],
            media: None,
        }
    }

    #[test]
    fn approve_with_an_edit_records_both_texts() {
        let now = Utc::now();
        let done = apply(
            &item(ReplyState::Pending),
            &Action::Approve {
                text: Some("edited".into()),
            },
            "mei",
            now,
        )
        .expect("legal");
        assert_eq!(
            (done.state, done.text.as_str()),
            (ReplyState::Approved, "edited")
        );
        let e = done.audit.last().expect("audited");
        assert_eq!(
            (
                e.who.as_str(),
                e.action.as_str(),
                e.text_before.as_str(),
                e.text_after.as_str()
            ),
            ("mei", "approve", "draft", "edited")
        );
        assert_eq!(
            (e.from, e.to),
            (Some(ReplyState::Pending), ReplyState::Approved)
        );
    }

    #[test]
    fn sent_replies_cannot_be_rejected_or_edited() {
        let sent = item(ReplyState::Sent);
        for a in [
            Action::Reject { reason: None },
            Action::Edit { text: "x".into() },
            Action::Approve { text: None },
            Action::Retry,
        ] {
            assert!(matches!(
                apply(&sent, &a, "mei", Utc::now()),
                Err(TransitionError::Illegal { .. })
            ));
        }
    }

    #[test]
    fn too_long_edits_name_the_limit_and_the_length() {
        let text = "长".repeat(MAX_TEXT_CHARS + 1);
        for a in [
            Action::Edit { text: text.clone() },
            Action::Approve {
                text: Some(text.clone()),
            },
        ] {
            let e = apply(&item(ReplyState::Pending), &a, "mei", Utc::now());
            assert_eq!(
                e,
                Err(TransitionError::TooLong {
                    len: MAX_TEXT_CHARS + 1,
                    max: MAX_TEXT_CHARS
                })
            );
            assert_eq!(
                e.err().map(|e| e.to_string()).unwrap_or_default(),
                "the reply text has 5001 characters, over the limit of 5000"
            );
        }
        let at_limit = Action::Edit {
            text: "长".repeat(MAX_TEXT_CHARS),
        };
        assert!(apply(&item(ReplyState::Pending), &at_limit, "mei", Utc::now()).is_ok());
    }

    #[test]
    fn empty_edits_are_refused() {
        assert_eq!(
            apply(
                &item(ReplyState::Pending),
                &Action::Edit {
                    text: "  \n".into()
                },
                "mei",
                Utc::now()
            ),
            Err(TransitionError::EmptyText)
        );
    }

    #[test]
    fn a_picture_needs_a_plain_name_and_an_alt_text_within_the_limit() {
        let pic = |file: &str, alt: &str| Action::Attach {
            media: Some(PostMedia {
                file: file.into(),
                alt: alt.into(),
                focus: None,
            }),
        };
        let pending = item(ReplyState::Pending);
        let done = apply(
            &pending,
            &pic("dealer/snow.jpg", "雪地里的奇骏"),
            "mei",
            Utc::now(),
        )
        .expect("legal");
        assert_eq!(done.state, ReplyState::Pending);
        assert_eq!(
            done.media
                .as_ref()
                .map(|m| (m.file.as_str(), m.alt.as_str())),
            Some(("dealer/snow.jpg", "雪地里的奇骏"))
        );
        let e = done.audit.last().expect("audited");
        assert_eq!(
            (e.action.as_str(), e.note.as_deref()),
            ("attach", Some("dealer/snow.jpg: 雪地里的奇骏"))
        );
        let removed =
            apply(&done, &Action::Attach { media: None }, "mei", Utc::now()).expect("legal");
        assert_eq!(removed.media, None);
        assert_eq!(
            apply(&pending, &pic("a.jpg", " \n"), "mei", Utc::now()),
            Err(TransitionError::AltMissing)
        );
        assert_eq!(
            apply(
                &pending,
                &pic("a.jpg", &"长".repeat(MAX_ALT_CHARS + 1)),
                "mei",
                Utc::now()
            ),
            Err(TransitionError::AltTooLong {
                len: MAX_ALT_CHARS + 1,
                max: MAX_ALT_CHARS
            })
        );
        assert!(apply(
            &pending,
            &pic("a.jpg", &"长".repeat(MAX_ALT_CHARS)),
            "mei",
            Utc::now()
        )
        .is_ok());
        for bad in [
            "",
            "../x.jpg",
            "/etc/passwd",
            "a//b.jpg",
            "a\\b.jpg",
            "./a.jpg",
            "C:x.jpg",
            "a\u{0}.jpg",
        ] {
            assert_eq!(
                apply(&pending, &pic(bad, "alt"), "mei", Utc::now()),
                Err(TransitionError::BadFile(bad.into())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            apply(
                &item(ReplyState::Sent),
                &pic("a.jpg", "alt"),
                "mei",
                Utc::now()
            ),
            Err(TransitionError::Illegal { .. })
        ));
    }

    #[test]
    fn overdue_only_while_unanswered() {
        let mut i = item(ReplyState::Pending);
        let late = i.due_at + chrono::TimeDelta::seconds(1);
        assert!(i.is_overdue(late));
        assert!(!i.is_overdue(i.due_at));
        i.state = ReplyState::Sent;
        assert!(!i.is_overdue(late));
    }

    #[test]
    fn priority_codes_round_trip_in_urgency_order() {
        for (i, p) in Priority::ALL.into_iter().enumerate() {
            assert_eq!(Priority::from_code(p.code()), Some(p));
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(usize::from(p.code()), i);
        }
        assert!(Priority::Crisis < Priority::Praise);
    }
}
