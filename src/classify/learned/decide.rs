//! From the heads' probabilities and the cue flags to the contract's answers: the crisis flag
//! and the intent. The thresholds were set on the tuning half of the measurement set.

use super::super::intent::Intent;
use super::super::phrases::{COMPLAINT, INTEREST, PRAISE, QUESTION};
use super::super::sentiment::Label;
use super::fault::Faults;
use super::HeadsOut;

/// P(complaint) above which a text is a complaint whatever its cues.
pub const COMPLAINT_P: f32 = 0.5;

/// Whether a text is a crisis: a fault kind or a mass complaint named in a text that is not
/// positive (a recall handled well, brakes praised, are not).
pub fn crisis(faults: Faults, heads: &HeadsOut) -> bool {
    faults != 0 && heads.label() != Label::Positive
}

/// The intent, by the contract's precedence (complaint > purchase > question > praise >
/// other).
pub fn intent(flags: u16, heads: &HeadsOut, crisis: bool, keyword_crisis: bool) -> Intent {
    let label = heads.label();
    let complaint_cue = flags & COMPLAINT != 0;
    if crisis
        || heads.complaint > COMPLAINT_P && label != Label::Positive
        || complaint_cue && label == Label::Negative
        || keyword_crisis && label == Label::Negative
    {
        return Intent::Complaint;
    }
    if flags & INTEREST != 0 && label != Label::Negative {
        return Intent::Purchase;
    }
    // A question about one's own problem is a complaint.
    if label == Label::Negative {
        return Intent::Complaint;
    }
    if flags & QUESTION != 0 {
        return Intent::Question;
    }
    match label {
        Label::Negative => Intent::Complaint,
        Label::Positive => Intent::Praise,
        Label::Neutral if flags & PRAISE != 0 => Intent::Praise,
        Label::Neutral => Intent::Other,
    }
}
