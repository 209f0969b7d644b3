//! Fixed cues: emoji, emoticons, Weibo bracket emoticons and sarcasm markers, each with a prior
//! logit written by hand.
//!
//! The public training data has almost no emoji and no sarcasm markers (2014 tweets, Chinese
//! product reviews), so a learned weight for "😡" or "/s" would be noise. These cues add their
//! prior to the logit, during training as well as at inference, so the learned weights are fitted
//! around them; each cue also emits a hashed feature whose weight the training may learn where the
//! data has the cue (":)" in the tweets, "呵呵" in the reviews). All patterns are matched in one
//! pass over the raw text, leftmost-longest (a longer cue hides the cues inside it), ASCII
//! letters without case. This module must not hold anything learned.

use crate::classify::literals::{Hit, LeftmostLongest, Literals};

/// A cue's kind, for documentation and the tests; the prior is what matters to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueKind {
    /// An emoji or a Unicode symbol.
    Emoji,
    /// An ASCII emoticon such as `:)`.
    Emoticon,
    /// A Weibo emoticon such as `[怒]` (Weibo renders them as pictures).
    Weibo,
    /// A sarcasm marker: the literal words say one thing, the writer means the opposite. The
    /// classifier turns the positive evidence of the words against the text.
    Sarcasm,
    /// Often ironic, often not ("呵呵" is a friendly laugh in most of the review and Weibo
    /// data: 61% and 81% of the texts with it are positive): a weak prior, no flip.
    Irony,
}

/// How a match must end to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Anywhere.
    Any,
    /// Not followed by an ASCII letter or digit (for word-like patterns: "#not" is not "#nothing").
    WordEnd,
    /// Nothing but spaces, punctuation or emoji after it up to the end of the clause: "great… not"
    /// but not "great… not sure".
    ClauseEnd,
}

struct CueDef {
    pattern: &'static str,
    prior: f32,
    kind: CueKind,
    tail: Tail,
}

const fn cue(pattern: &'static str, prior: f32, kind: CueKind, tail: Tail) -> CueDef {
    CueDef {
        pattern,
        prior,
        kind,
        tail,
    }
}

use CueKind::{Emoji, Emoticon, Irony, Sarcasm, Weibo};
use Tail::{Any, ClauseEnd, WordEnd};

/// The table. Priors are logits: +1.5 alone moves a neutral text to about 0.64 on the -1..1
/// score. Sarcasm markers are stronger than emoji because they overturn the literal words.
const CUES: &[CueDef] = &[
    // Positive emoji.
    cue("😀", 1.2, Emoji, Any),
    cue("😃", 1.2, Emoji, Any),
    cue("😄", 1.2, Emoji, Any),
    cue("😁", 1.2, Emoji, Any),
    cue("😆", 1.0, Emoji, Any),
    cue("😊", 1.2, Emoji, Any),
    cue("🙂", 0.8, Emoji, Any),
    cue("😍", 1.6, Emoji, Any),
    cue("🥰", 1.6, Emoji, Any),
    cue("😘", 1.2, Emoji, Any),
    cue("🤩", 1.6, Emoji, Any),
    cue("😎", 1.0, Emoji, Any),
    cue("🥳", 1.4, Emoji, Any),
    cue("👍", 1.6, Emoji, Any),
    cue("👏", 1.4, Emoji, Any),
    cue("🙌", 1.4, Emoji, Any),
    cue("👌", 1.2, Emoji, Any),
    cue("💪", 1.0, Emoji, Any),
    cue("🎉", 1.4, Emoji, Any),
    cue("❤", 1.4, Emoji, Any),
    cue("💕", 1.4, Emoji, Any),
    cue("💯", 1.4, Emoji, Any),
    cue("✨", 0.8, Emoji, Any),
    cue("🤣", 0.6, Emoji, Any),
    cue("😂", 0.4, Emoji, Any),
    // Negative emoji.
    cue("😡", -1.8, Emoji, Any),
    cue("😠", -1.6, Emoji, Any),
    cue("🤬", -2.0, Emoji, Any),
    cue("😤", -1.2, Emoji, Any),
    cue("👎", -1.8, Emoji, Any),
    cue("💩", -1.6, Emoji, Any),
    cue("😞", -1.4, Emoji, Any),
    cue("😢", -1.2, Emoji, Any),
    cue("😭", -1.2, Emoji, Any),
    cue("😩", -1.4, Emoji, Any),
    cue("😫", -1.4, Emoji, Any),
    cue("😖", -1.2, Emoji, Any),
    cue("😣", -1.0, Emoji, Any),
    cue("😕", -1.0, Emoji, Any),
    cue("🙁", -1.0, Emoji, Any),
    cue("☹", -1.2, Emoji, Any),
    cue("😒", -1.4, Emoji, Any),
    cue("😑", -0.8, Emoji, Any),
    cue("🤮", -2.0, Emoji, Any),
    cue("🤢", -1.6, Emoji, Any),
    cue("💔", -1.4, Emoji, Any),
    cue("😱", -1.0, Emoji, Any),
    cue("😰", -1.0, Emoji, Any),
    // Emoji used for irony far more often than for their face value.
    cue("🙄", -1.8, Sarcasm, Any),
    cue("😅", -1.0, Irony, Any),
    cue("🙃", -1.2, Sarcasm, Any),
    cue("🤡", -1.8, Sarcasm, Any),
    cue("🤦", -1.6, Sarcasm, Any),
    // ASCII emoticons (no ":/", which is in every URL).
    cue(":)", 1.2, Emoticon, Any),
    cue(":-)", 1.2, Emoticon, Any),
    cue("=)", 1.0, Emoticon, Any),
    cue(";)", 0.8, Emoticon, Any),
    cue(":d", 1.2, Emoticon, WordEnd),
    cue(":-d", 1.2, Emoticon, WordEnd),
    cue("<3", 1.4, Emoticon, WordEnd),
    cue(":(", -1.4, Emoticon, Any),
    cue(":-(", -1.4, Emoticon, Any),
    cue(":'(", -1.4, Emoticon, Any),
    cue("=(", -1.2, Emoticon, Any),
    cue(">:(", -1.8, Emoticon, Any),
    cue("</3", -1.4, Emoticon, WordEnd),
    // Weibo emoticons. The Weibo test set is measured with these stripped.
    cue("[哈哈]", 1.4, Weibo, Any),
    cue("[嘻嘻]", 1.4, Weibo, Any),
    cue("[爱你]", 1.6, Weibo, Any),
    cue("[心]", 1.4, Weibo, Any),
    cue("[鼓掌]", 1.4, Weibo, Any),
    cue("[赞]", 1.6, Weibo, Any),
    cue("[good]", 1.6, Weibo, Any),
    cue("[太开心]", 1.6, Weibo, Any),
    cue("[偷笑]", 1.0, Weibo, Any),
    cue("[可爱]", 1.2, Weibo, Any),
    cue("[威武]", 1.4, Weibo, Any),
    cue("[耶]", 1.2, Weibo, Any),
    cue("[泪]", -1.4, Weibo, Any),
    cue("[怒]", -1.8, Weibo, Any),
    cue("[怒骂]", -2.0, Weibo, Any),
    cue("[抓狂]", -1.6, Weibo, Any),
    cue("[衰]", -1.4, Weibo, Any),
    cue("[失望]", -1.6, Weibo, Any),
    cue("[悲伤]", -1.4, Weibo, Any),
    cue("[伤心]", -1.4, Weibo, Any),
    cue("[鄙视]", -1.6, Weibo, Any),
    cue("[委屈]", -1.2, Weibo, Any),
    cue("[哼]", -1.2, Weibo, Any),
    cue("[晕]", -1.0, Weibo, Any),
    cue("[吐]", -1.6, Weibo, Any),
    cue("[弱]", -1.4, Weibo, Any),
    cue("[生病]", -1.0, Weibo, Any),
    cue("[崩溃]", -1.6, Weibo, Any),
    // Sarcasm, Chinese.
    cue("呵呵", -0.6, Irony, Any),
    cue("真是太好了…", -2.2, Sarcasm, Any),
    cue("真是太好了...", -2.2, Sarcasm, Any),
    cue("真是太好了。。。", -2.2, Sarcasm, Any),
    cue("好棒棒", -1.6, Sarcasm, Any),
    cue("真行啊", -1.4, Sarcasm, Any),
    cue("你们真行", -1.6, Sarcasm, Any),
    cue("谢谢你们啊", -1.2, Sarcasm, Any),
    cue("我服了", -1.0, Irony, Any),
    cue("服了你们", -1.4, Sarcasm, Any),
    cue("醉了", -1.0, Irony, Any),
    cue("高级黑", -1.4, Sarcasm, Any),
    // Sarcasm, English.
    cue(" /s", -2.4, Sarcasm, ClauseEnd),
    cue("#sarcasm", -2.4, Sarcasm, WordEnd),
    cue("#not", -1.8, Sarcasm, WordEnd),
    cue("yeah right", -1.6, Sarcasm, WordEnd),
    cue("yeah, right", -1.6, Sarcasm, WordEnd),
    cue("just great", -1.6, Sarcasm, WordEnd),
    cue("oh great", -1.6, Sarcasm, WordEnd),
    cue("just perfect", -1.4, Sarcasm, WordEnd),
    cue("thanks a lot", -0.8, Sarcasm, WordEnd),
    cue("thanks for nothing", -2.2, Sarcasm, WordEnd),
    cue("… not", -2.6, Sarcasm, ClauseEnd),
    cue("…not", -2.6, Sarcasm, ClauseEnd),
    cue("... not", -2.6, Sarcasm, ClauseEnd),
    cue("...not", -2.6, Sarcasm, ClauseEnd),
];

/// The compiled cue table.
#[derive(Debug, Clone)]
pub struct Cues {
    matcher: Literals,
}

/// What the cues found in one text.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CueHits {
    /// The sum of the priors of the distinct cues found (a cue repeated counts once).
    pub prior: f32,
    /// Which cues, as a bitset over the table's indices.
    pub seen: u128,
    /// Whether any sarcasm marker (not merely an ironic one) was found.
    pub sarcasm: bool,
}

impl CueHits {
    /// The indices of the cues found, in table order.
    pub fn indices(&self) -> impl Iterator<Item = usize> {
        let mut rest = self.seen;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            Some(i)
        })
    }
}

/// Collects cue hits: feed it every occurrence of a cue pattern in [`Literals::find`] order
/// (all occurrences, by start); it keeps what a leftmost-longest search reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct CueScan {
    pick: LeftmostLongest,
    hits: CueHits,
}

impl CueScan {
    /// One occurrence of the cue `index` at `start..end` of `text`.
    #[inline]
    pub fn feed(&mut self, text: &str, index: usize, start: u32, end: u32) {
        let h = Hit {
            pattern: index as u32,
            start,
            end,
        };
        if !self.pick.take(&h) {
            return;
        }
        let def = &CUES[index];
        if !tail_ok(def.tail, &text[end as usize..]) {
            return;
        }
        let bit = 1u128 << index;
        if self.hits.seen & bit == 0 {
            self.hits.seen |= bit;
            self.hits.prior += def.prior;
            self.hits.sarcasm |= def.kind == CueKind::Sarcasm;
        }
    }

    /// What was found.
    pub fn hits(&self) -> CueHits {
        self.hits
    }
}

impl Cues {
    /// Compiles the table (about 130 patterns; microseconds).
    pub fn new() -> Self {
        // The table has fewer than 128 entries (checked by a test) so hits fit a u128 bitset.
        let matcher = Literals::new(patterns()).unwrap_or_else(|_| unreachable_matcher());
        Self { matcher }
    }

    /// Finds the cues in `text`.
    pub fn scan(&self, text: &str) -> CueHits {
        let mut scan = CueScan::default();
        self.matcher.find(text, |h| {
            scan.feed(text, h.pattern as usize, h.start, h.end)
        });
        scan.hits()
    }
}

impl Default for Cues {
    fn default() -> Self {
        Self::new()
    }
}

/// The cue patterns, by index (for a matcher that finds them with other literals).
pub fn patterns() -> impl Iterator<Item = &'static str> {
    CUES.iter().map(|c| c.pattern)
}

/// The patterns are non-empty literals, so building cannot fail; were it ever to, a matcher
/// that matches nothing keeps the classifier working without cues.
fn unreachable_matcher() -> Literals {
    Literals::new(Vec::<&str>::new()).unwrap_or_else(|_| unreachable!("no literal"))
}

fn tail_ok(tail: Tail, rest: &str) -> bool {
    match tail {
        Tail::Any => true,
        Tail::WordEnd => !rest
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric()),
        Tail::ClauseEnd => !rest
            .chars()
            .take_while(|c| !matches!(c, '.' | '!' | '?' | ',' | ';' | '。' | '！' | '？' | '\n'))
            .any(char::is_alphanumeric),
    }
}

/// The prior of the cue at `index` and its kind (for the tests and for explaining a score).
pub fn cue_info(index: usize) -> Option<(&'static str, f32, CueKind)> {
    CUES.get(index).map(|c| (c.pattern, c.prior, c.kind))
}

/// Number of cues in the table.
pub fn cue_count() -> usize {
    CUES.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_fits_the_bitset() {
        assert!(cue_count() <= 128, "{} cues", cue_count());
    }

    #[test]
    fn scans() {
        let cues = Cues::new();
        let table: &[(&str, bool, bool)] = &[
            // text, any cue, sarcasm
            ("great service", false, false),
            ("great service /s", true, true),
            ("Great, another recall. Just great… not", true, true),
            ("good... not sure yet", false, false),
            ("#nothing to see", false, false),
            ("#not impressed", true, true),
            ("售后真是太好了…呵呵", true, true),
            ("xDrive is great :)", true, false),
            ("see https://example.com/s", false, false),
            ("😡😡😡", true, false),
        ];
        for (text, any, sarcasm) in table {
            let hits = cues.scan(text);
            assert_eq!(hits.seen != 0, *any, "{text}");
            assert_eq!(hits.sarcasm, *sarcasm, "{text}");
        }
        let angry = cues.scan("😡😡😡");
        assert_eq!(angry.indices().count(), 1, "repeated cue counts once");
        assert!(angry.prior < 0.0);
    }
}
