//! Property test of the queue's state machine: whatever sequence of actions arrives, only the
//! transitions of the documented table are accepted, a refused action changes nothing, and
//! the audit log holds exactly one entry per accepted action, chained state to state.

use chrono::{TimeDelta, Utc};
use proptest::prelude::*;

use super::tests::item;
use super::*;

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        "[a-z ]{0,8}".prop_map(|text| Action::Edit { text }),
        proptest::option::of("[a-z ]{0,8}").prop_map(|text| Action::Approve { text }),
        Just(Action::Reject { reason: None }),
        proptest::option::of("[a-z]{1,5}").prop_map(|to| Action::Assign { to }),
        Just(Action::Expire),
        Just(Action::Claim {
            post: PostRef {
                channel: "c".into(),
                at: Utc::now(),
            },
            reply_to: None,
        }),
        Just(Action::Sent {
            remote_id: "r".into(),
            url: None,
        }),
        Just(Action::Fail { error: "e".into() }),
        Just(Action::Retry),
        proptest::option::of("[a-z ]{0,4}").prop_map(|alt| Action::Attach {
            media: alt.map(|alt| crate::domain::PostMedia {
                file: "a.jpg".into(),
                alt,
                focus: None,
            }),
        }),
    ]
}

/// The documented table, written independently of `apply`'s match.
fn allowed(a: &Action, s: ReplyState) -> Option<ReplyState> {
    use ReplyState::*;
    let to = match (a.name(), s) {
        ("edit", Pending) => Pending,
        ("approve", Pending | Failed) => Approved,
        ("reject", Pending | Approved | Failed) => Rejected,
        ("assign", Pending | Approved | Sending | Failed) => s,
        ("expire", Pending) => Expired,
        ("claim", Approved) => Sending,
        ("sent", Sending) => Sent,
        ("fail", Approved | Sending) => Failed,
        ("retry", Failed) => Approved,
        ("attach", Pending | Failed) => s,
        _ => return None,
    };
    Some(to)
}

proptest! {
    #[test]
    fn only_legal_transitions_and_a_complete_audit_log(actions in proptest::collection::vec(action(), 0..40)) {
        let mut current = item(ReplyState::Pending);
        let mut accepted = 0usize;
        let t0 = current.created_at;
        for (n, a) in actions.iter().enumerate() {
            let now = t0 + TimeDelta::seconds(n as i64);
            let before = current.clone();
            match apply(&current, a, "tester", now) {
                Ok(next) => {
                    let want = allowed(a, before.state);
                    prop_assert_eq!(want, Some(next.state), "{:?} from {:?}", a, before.state);
                    let entry = next.audit.last().cloned();
                    prop_assert!(entry.is_some());
                    let entry = entry.unwrap_or_else(|| unreachable!());
                    prop_assert_eq!(entry.from, Some(before.state));
                    prop_assert_eq!(entry.to, next.state);
                    prop_assert_eq!(&entry.text_before, &before.text);
                    prop_assert_eq!(&entry.text_after, &next.text);
                    prop_assert_eq!(entry.at, now);
                    if before.state == ReplyState::Sent || before.state == ReplyState::Rejected || before.state == ReplyState::Expired {
                        prop_assert!(false, "a final state moved: {:?}", a);
                    }
                    accepted += 1;
                    current = next;
                }
                Err(_) => {
                    // Refused only when the table forbids it, or for empty text.
                    let empty = matches!(a, Action::Edit { text } | Action::Approve { text: Some(text) } if text.trim().is_empty())
                        || matches!(a, Action::Attach { media: Some(m) } if m.alt.trim().is_empty());
                    prop_assert!(allowed(a, before.state).is_none() || empty, "{:?} from {:?} refused", a, before.state);
                }
            }
            prop_assert_eq!(current.audit.len(), accepted);
        }
        // The log chains: each entry starts where the previous one ended.
        for w in current.audit.windows(2) {
            prop_assert_eq!(w[0].to, w[1].from.unwrap_or(w[0].to));
            prop_assert_eq!(&w[0].text_after, &w[1].text_before);
        }
    }
}
