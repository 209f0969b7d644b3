//! From the heads' probabilities and the cue flags to the contract's answers: the crisis flag,
//! the intent (cue rules, arbitrated by the intent head where they disagree), replies on a
//! brand's behalf ([`dealer_reply`]), and the phrases the contract reads whatever their words
//! say: slang, good and bad news, replies and announcements ([`Slang`], one pass). The
//! thresholds were set on the tuning half of the measurement set (out of fold, once the heads
//! were trained on it).

use super::super::intent::Intent;
use super::super::phrases::{COMPLAINT, INTEREST, PRAISE, QUESTION, TEST_DRIVE};
use super::super::sentiment::Label;
use super::fault::{Fault, Faults};
use super::HeadsOut;
use aho_corasick::AhoCorasick;
use std::sync::LazyLock;

/// P(complaint) above which a text is a complaint whatever its cues.
pub const COMPLAINT_P: f32 = 0.5;

/// P(positive) from which a positive text without a praise phrase is praise.
pub const PRAISE_P: f32 = 0.5;

/// P(positive) from which a crisis keyword in a positive text is dropped.
pub const DROP_CRISIS_P: f32 = 0.6;

/// P(purchase) the intent head must give a text whose purchase cues would make it a lead.
/// Out of fold on the tuning half, 0.15 and 0.2 read it best (intent 0.815, lead 0.922 against
/// 0.812 and 0.896 without the gate); 0.25 and over lost true purchases (0.805 and less).
pub const PURCHASE_P: f32 = 0.15;

/// P(crisis) from which a negative text is a crisis without a fault phrase. Out of fold on the
/// tuning half, 0.3 caught one crisis of 40 more than the vocabulary alone (recall 0.950
/// against 0.925, precision 0.731 against 0.740); 0.2 and under cost precision (0.603 and
/// less), 0.5 and over caught nothing more.
pub const CRISIS_P: f32 = 0.3;

/// Whether a text is a crisis, from the fault kinds its phrases name outright (`strong`, see
/// [`super::fault::FaultScan::strong`]), those named by a part and a symptom (`paired`), and
/// all the kinds found (`faults`, with the [`super::fault::WEAK`] phrases):
/// - a safety failure named outright, anywhere (such phrases do not occur in praise:
///   "brakes are great" names no failure);
/// - a recall or mass complaint named outright, or a failure said in other words
///   ("刹车踩着软软的"), in a text that is not positive (a recall handled well is not a
///   crisis; news and brand statements about a defect are);
/// - in a negative text, any kind found: a weak phrase ("airbag", "fire", "曝光") or a near
///   miss ([`Fault::Danger`]);
/// - a negative text the crisis head gives more than [`CRISIS_P`].
pub fn crisis(strong: Faults, paired: Faults, faults: Faults, heads: &HeadsOut) -> bool {
    let softer = Fault::Recall.bit() | Fault::Collective.bit();
    let label = heads.label();
    strong & !(softer | Fault::Danger.bit()) != 0
        || (strong & softer | paired & !Fault::Danger.bit()) != 0 && label != Label::Positive
        || label == Label::Negative && (faults != 0 || heads.crisis > CRISIS_P)
}

/// How much a [`Slang`] phrase multiplies the odds of positive (as a logit added to the
/// positive class): about twenty to one, so a text with strong negative evidence besides stays
/// negative.
pub const SLANG_TILT: f32 = 3.0;

/// Phrases the contract reads as positive whatever their words say: hype slang and negated
/// complaints (the label rules of the measurement set: "杀疯了", "破防了😭", "sick", "insane",
/// "一点都不差", "不比合资差", "没有任何异响", "Not bad at all", "Can't complain"), with their
/// common variants. The public training sets hold almost none of them, and read "sick",
/// "complain" and "差" as negative, so a learned weight cannot fix them.
const SLANG: &[&str] = &[
    "杀疯了",
    "离谱地便宜",
    "破防了😭",
    "真香",
    "绝绝子",
    "yyds",
    "天花板",
    "太顶了",
    "挑不出毛病",
    "没毛病",
    "一点都不差",
    "一点也不差",
    "不比合资差",
    "没有任何异响",
    "没有异响",
    "零故障",
    "not bad at all",
    "can't complain",
    "can’t complain",
    "cannot complain",
    "no complaints",
    "zero issues",
    "zero problems",
    "chef's kiss",
    "chef’s kiss",
    "sick",
    "insane",
];

/// News the contract reads as good for the brand: awards, safety ratings, records.
const GOOD_NEWS: &[&str] = &[
    "五星安全",
    "五星评级",
    "最高安全评级",
    "年度车型",
    "年度最佳",
    "荣获",
    "获评",
    "摘得",
    "销量创新高",
    "创历史新高",
    "top safety pick",
    "5-star",
    "five-star",
    "car of the year",
    "award",
    "awards",
    "record sales",
    "sales record",
    "all-time high",
];

/// News the contract reads as bad for the brand: falling sales, dealer closures.
const BAD_NEWS: &[&str] = &[
    "同比下降",
    "同比下滑",
    "销量下滑",
    "销量下降",
    "销量暴跌",
    "销量腰斩",
    "倒闭",
    "跑路",
    "停业",
    "闭店",
    "关门了",
    "破产",
    "裁员",
    "sales fell",
    "sales dropped",
    "sales slumped",
    "sales slump",
    "sales plunged",
    "sales are down",
    "closed its doors",
    "went bankrupt",
    "bankruptcy",
    "layoffs",
    // Trouble that keeps coming back: with praise words around it, sarcasm.
    "第三次进店",
    "第三次去",
    "第四次",
    "三次进店",
    "进了三次",
    "进了四次",
    "跑了三趟",
    "换了两次",
    "换了三次",
    "换了三个",
    "修了三次",
    "还是没修好",
    "都没修好",
    "third time",
    "fourth time",
    "again and again",
    "breaks something",
    "still not fixed",
    "same problem again",
];

/// What a text's contract phrases say of it ([`Slang::found`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tilt {
    /// Positive slang or good news.
    pub up: bool,
    /// Bad news.
    pub down: bool,
    /// An English service reply's phrase ([`REPLYING`]).
    pub reply: bool,
    /// A phrase of news or announcements ([`ANNOUNCING`]).
    pub announcing: bool,
}

/// What a phrase of [`Slang`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Up,
    Down,
    Reply,
    Announcing,
}

/// Finds the contract's positive slang phrases, its good and bad news, and the phrases of
/// replies and announcements on a brand's behalf, in one pass (ASCII letters without case;
/// an English slang or news phrase must stand as whole words).
#[derive(Debug, Clone)]
pub struct Slang {
    automaton: aho_corasick::AhoCorasick,
    /// Each phrase's kind, and whether it must stand as whole words.
    kinds: Vec<(Kind, bool)>,
}

/// The phrases of [`Slang`], in pattern order, with their kinds.
fn tilt_phrases() -> impl Iterator<Item = (&'static str, Kind)> {
    let of = |list: &'static [&'static str], kind| list.iter().map(move |p| (*p, kind));
    of(SLANG, Kind::Up)
        .chain(of(GOOD_NEWS, Kind::Up))
        .chain(of(BAD_NEWS, Kind::Down))
        .chain(of(REPLYING, Kind::Reply))
        .chain(of(ANNOUNCING, Kind::Announcing))
}

impl Default for Slang {
    fn default() -> Self {
        Self::new()
    }
}

impl Slang {
    /// Compiles the phrases.
    pub fn new() -> Self {
        let automaton = aho_corasick::AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(tilt_phrases().map(|(p, _)| p))
            .expect("the slang phrases compile");
        let kinds = tilt_phrases()
            .map(|(p, kind)| (kind, p.is_ascii() && matches!(kind, Kind::Up | Kind::Down)))
            .collect();
        Self { automaton, kinds }
    }

    /// Which phrases `text` holds: slang or good news (`up`), bad news (`down`), a reply's
    /// or an announcement's phrase. A negated news phrase does not count ("没有裁员", "no
    /// layoffs"); slang is never negated (its negated complaints are slang themselves).
    pub fn found(&self, text: &str) -> Tilt {
        let bytes = text.as_bytes();
        let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        let mut tilt = Tilt::default();
        for m in self.automaton.find_overlapping_iter(text) {
            let i = m.pattern().as_usize();
            let Some(&(kind, whole_words)) = self.kinds.get(i) else {
                continue;
            };
            let whole = !whole_words
                || !word(m.start().checked_sub(1).and_then(|i| bytes.get(i)))
                    && !word(bytes.get(m.end()));
            let news = i >= SLANG.len() && matches!(kind, Kind::Up | Kind::Down);
            if !whole || news && super::fault::negated_before(text, m.start()) {
                continue;
            }
            match kind {
                Kind::Up => tilt.up = true,
                Kind::Down => tilt.down = true,
                Kind::Reply => tilt.reply = true,
                Kind::Announcing => tilt.announcing = true,
            }
        }
        tilt
    }
}

/// Phrases of news, announcements, statements and replies on a brand's or dealer's behalf.
pub const ANNOUNCING: &[&str] = &[
    "情况说明",
    "的说明",
    "宣布",
    "公布",
    "官宣",
    "据悉",
    "记者",
    "we're sorry to hear",
    "we’re sorry to hear",
    "sorry for the inconvenience",
    "please dm us",
    "please email our",
    "announced",
    "announces",
];

/// Phrases of owning a car already or of paying for its service and parts: price talk with
/// them is an owner's question, not a purchase (the contract: a car already ordered,
/// accessories and extended warranties are questions).
const OWNER: &[&str] = &[
    "原厂",
    "保养",
    "配一把",
    "补漆",
    "轮胎",
    "刹车片",
    "延保",
    "后装",
    "钥匙",
    "维修",
    "机油",
    "权益",
    "订了",
    "warranty",
    "service",
    "tires",
    "brake pads",
    "oil change",
    "already ordered",
];

/// Whether the text talks as an owner (service, parts, a car already ordered).
pub fn owner_talk(text: &str) -> bool {
    static OWNER_AC: LazyLock<AhoCorasick> = LazyLock::new(|| phrase_automaton(OWNER));
    OWNER_AC.is_match(text)
}

/// An automaton that finds any of `phrases`, ASCII letters without case.
fn phrase_automaton(phrases: &[&str]) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(phrases)
        .expect("static phrases compile")
}

/// Whether a text reads as news, an ad or a reply for a brand or dealer rather than an
/// author's own report: a headline in 【…】 brackets (four characters or more inside; a short
/// tag such as 【吐槽】 is a post's own label), a reply on a brand's behalf
/// ([`dealer_reply`]), or an announcing phrase (`tilt`, from [`Slang::found`]). Such a mention
/// is `other`, whatever problem or offer it carries (the contract: brand statements and news
/// about a defect are other).
pub fn news_like(text: &str, tilt: Tilt) -> bool {
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix('【') {
        if rest
            .find('】')
            .is_some_and(|end| rest[..end].chars().count() >= 4)
        {
            return true;
        }
    }
    dealer_reply(t, tilt) || tilt.announcing
}

/// Phrases with which a brand's or dealer's account answers a customer in English.
pub const REPLYING: &[&str] = &[
    "please dm us",
    "send us a dm",
    "send us a direct message",
    "we're sorry to hear",
    "we’re sorry to hear",
    "we are sorry to hear",
    "thanks for reaching out",
    "thank you for reaching out",
];

/// Whether a text is a brand's or dealer's reply to a customer: it opens with 您好, speaks
/// to 您 again after the greeting (您反映的, 给您带来, 请您) and of itself only as 我们 or
/// 我司, or it uses an English service reply's phrase ("please DM us", "we're sorry to
/// hear": `tilt.reply`, from [`Slang::found`]). The contract reads such a reply as neutral and never a crisis, whatever fault it
/// repeats back ("关于您反映的制动踏板问题"). A customer who writes to the brand with 您好
/// and 您 still speaks of 我 ("您好，我的车自燃了，请您联系我"), so is not taken for one.
pub fn dealer_reply(text: &str, tilt: Tilt) -> bool {
    if let Some(rest) = text.trim_start().strip_prefix("您好") {
        let first_person = rest.match_indices('我').any(|(i, _)| {
            !matches!(
                rest[i + '我'.len_utf8()..].chars().next(),
                Some('们' | '司')
            )
        });
        return rest.contains('您') && !first_person;
    }
    tilt.reply
}

/// The intent, by the contract's precedence (complaint > purchase > question > praise >
/// other); news, ads and replies on a brand's behalf ([`news_like`], with the text's `tilt`)
/// are `other`.
///
/// The rules decide complaint and purchase where their cues speak, and the intent head
/// arbitrates where cues and heads disagree:
/// - purchase talk does not shield a negative text from being a complaint when the head
///   finds it likelier a complaint than a purchase ("本来要订的，销售爱答不理，还买吗");
/// - the purchase cues need the head's P(purchase) ≥ [`PURCHASE_P`] (price talk in praise
///   or chit-chat is not a lead), and without a cue the head's own first choice of purchase
///   counts ("有必要上高配吗");
/// - a negative text is a complaint unless the head thinks it likelier a question or other
///   (an owner's worried question, a former salesman's advice).
pub fn intent(
    text: &str,
    flags: u16,
    heads: &HeadsOut,
    crisis: bool,
    keyword_crisis: bool,
    tilt: Tilt,
) -> Intent {
    if news_like(text, tilt) {
        return Intent::Other;
    }
    let label = heads.label();
    let [p_complaint, p_question, p_purchase, p_praise, p_other] = heads.intent;
    // An untrained head (all five equal) leaves every choice to the cue rules.
    let trained = heads.intent.iter().any(|&p| p != p_complaint);
    let complaint_cue = flags & COMPLAINT != 0;
    // The learned complaint signal does not outrank purchase talk: a test drive or a quote
    // request with a number is a lead, however the heads read it, unless the intent head
    // calls a negative text a complaint before a purchase.
    let interest =
        flags & INTEREST != 0 && !(trained && label == Label::Negative && p_complaint > p_purchase);
    if crisis
        || heads.complaint > COMPLAINT_P && label != Label::Positive && !interest
        || complaint_cue && label == Label::Negative
        || keyword_crisis && label == Label::Negative
    {
        return Intent::Complaint;
    }
    let owner = || owner_talk(text);
    if trained
        && label != Label::Negative
        && heads.intent.iter().all(|&p| p <= p_purchase)
        && !owner()
    {
        return Intent::Purchase;
    }
    // A test drive without a complaint phrase or a crisis is a lead even when the heads read
    // it as negative (a number and a date read as cold to a sentiment model).
    let test_drive = flags & TEST_DRIVE != 0 && !complaint_cue && !keyword_crisis;
    if interest
        && (label != Label::Negative || test_drive)
        && (!trained || p_purchase >= PURCHASE_P)
        && !owner()
    {
        return Intent::Purchase;
    }
    if label == Label::Negative {
        // A question about one's own problem is a complaint, unless the head finds a
        // question or other likelier.
        if trained && p_question > p_complaint && p_question >= p_other {
            return Intent::Question;
        }
        if trained && p_other > p_complaint && p_other > p_question {
            return Intent::Other;
        }
        return Intent::Complaint;
    }
    // The rest (question, praise, other) is the intent head's choice among those three;
    // praise only for a positive text (the contract: the author's own positive judgement),
    // and, as in the cue rules, a weakly positive one needs a praise phrase.
    if !trained {
        return rest_by_cues(flags, heads);
    }
    let praise_allowed =
        label == Label::Positive && (heads.sentiment[2] >= PRAISE_P || flags & PRAISE != 0);
    let praise = if praise_allowed { p_praise } else { 0.0 };
    if p_question >= praise && p_question >= p_other {
        Intent::Question
    } else if praise >= p_other {
        Intent::Praise
    } else {
        Intent::Other
    }
}

/// Question, praise or other by the cue rules, where the intent head cannot tell them apart
/// (not trained: its probabilities are equal): the question phrase, then the sentiment and
/// the praise phrase.
fn rest_by_cues(flags: u16, heads: &HeadsOut) -> Intent {
    let label = heads.label();
    if flags & QUESTION != 0 {
        return Intent::Question;
    }
    match label {
        Label::Negative => Intent::Complaint,
        // A weakly positive text without a praise phrase is chit-chat, not praise.
        Label::Positive if heads.sentiment[2] >= PRAISE_P || flags & PRAISE != 0 => Intent::Praise,
        Label::Positive => Intent::Other,
        Label::Neutral if flags & PRAISE != 0 => Intent::Praise,
        Label::Neutral => Intent::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tilt(text: &str) -> Tilt {
        Slang::new().found(text)
    }

    #[test]
    fn safety_failures_are_crises_recalls_only_outside_praise() {
        let happy = HeadsOut {
            sentiment: [0.1, 0.2, 0.7],
            complaint: 0.1,
            ..Default::default()
        };
        let sad = HeadsOut {
            sentiment: [0.7, 0.2, 0.1],
            complaint: 0.8,
            ..Default::default()
        };
        assert!(crisis(Fault::Fire.bit(), 0, Fault::Fire.bit(), &happy));
        assert!(
            !crisis(Fault::Recall.bit(), 0, Fault::Recall.bit(), &happy),
            "a recall handled well"
        );
        assert!(crisis(Fault::Recall.bit(), 0, Fault::Recall.bit(), &sad));
        assert!(
            !crisis(0, 0, 0, &sad),
            "a complaint without a fault or a mass complaint"
        );
        let calm = HeadsOut {
            sentiment: [0.2, 0.7, 0.1],
            ..Default::default()
        };
        assert!(
            crisis(Fault::Danger.bit(), 0, Fault::Danger.bit(), &sad),
            "a near miss in a complaint"
        );
        assert!(
            !crisis(Fault::Danger.bit(), 0, Fault::Danger.bit(), &happy),
            "a near miss the car avoided"
        );
        assert!(
            !crisis(Fault::Danger.bit(), 0, Fault::Danger.bit(), &calm),
            "a hazard talked about"
        );
        let airbag = Fault::Airbag.bit();
        assert!(crisis(0, 0, airbag, &sad), "a weak phrase in a complaint");
        assert!(!crisis(0, 0, airbag, &calm), "airbags on a spec sheet");
        let brakes = Fault::Brakes.bit();
        assert!(crisis(0, brakes, brakes, &calm), "news of soft brakes");
        assert!(
            !crisis(0, brakes, brakes, &happy),
            "brakes praised as not soft"
        );
        assert!(
            !crisis(0, 0, Fault::Fire.bit(), &happy),
            "\"this car is fire\""
        );
    }

    #[test]
    fn the_heads_choose_among_question_praise_and_other_and_flag_crises() {
        let praise = HeadsOut {
            sentiment: [0.1, 0.3, 0.6],
            intent: [0.1, 0.2, 0.1, 0.5, 0.1],
            ..Default::default()
        };
        assert_eq!(
            intent("好好开", 0, &praise, false, false, tilt("好好开")),
            Intent::Praise
        );
        // Praise needs a positive text, and a weakly positive one a praise phrase.
        let weak = HeadsOut {
            sentiment: [0.1, 0.45, 0.45],
            intent: [0.1, 0.1, 0.1, 0.5, 0.2],
            ..praise
        };
        assert_eq!(
            intent("好好开", 0, &weak, false, false, tilt("好好开")),
            Intent::Other
        );
        assert_eq!(
            intent("好好开", PRAISE, &weak, false, false, tilt("好好开")),
            Intent::Praise
        );
        let asked = HeadsOut {
            intent: [0.1, 0.4, 0.1, 0.2, 0.2],
            ..praise
        };
        assert_eq!(
            intent("好好开", 0, &asked, false, false, tilt("好好开")),
            Intent::Question
        );
        // Untrained (equal): the cue rules decide, and a neutral text without cues is other.
        let untrained = HeadsOut {
            sentiment: [0.1, 0.6, 0.3],
            intent: [0.2; 5],
            ..praise
        };
        assert_eq!(
            intent("好好开", 0, &untrained, false, false, tilt("好好开")),
            Intent::Other
        );
        assert_eq!(
            intent("好好开", QUESTION, &untrained, false, false, tilt("好好开")),
            Intent::Question
        );
        let negative = HeadsOut {
            sentiment: [0.7, 0.2, 0.1],
            crisis: 0.4,
            ..Default::default()
        };
        assert!(crisis(0, 0, 0, &negative));
        assert!(!crisis(
            0,
            0,
            0,
            &HeadsOut {
                crisis: 0.2,
                ..negative
            }
        ));
        assert!(
            !crisis(
                0,
                0,
                0,
                &HeadsOut {
                    sentiment: [0.1, 0.2, 0.7],
                    ..negative
                }
            ),
            "not when positive"
        );
    }

    #[test]
    fn slang_is_found_as_whole_words() {
        let s = Slang::new();
        let up = Tilt {
            up: true,
            ..Tilt::default()
        };
        let down = Tilt {
            down: true,
            ..Tilt::default()
        };
        assert_eq!(s.found("This thing is SICK. Can't complain"), up);
        assert_eq!(s.found("零百3秒，杀疯了"), up);
        assert_eq!(s.found("开了一年没有任何异响"), up);
        assert_eq!(s.found("sickness and insanely long waits"), Tilt::default());
        assert_eq!(s.found("刹车发软，差点出事"), Tilt::default());
        assert_eq!(s.found("The wagon was named a Top Safety Pick+"), up);
        assert_eq!(s.found("1-10月销量同比下降18%"), down);
        assert_eq!(s.found("the dealer closed its doors last week"), down);
        assert_eq!(s.found("今年没有裁员"), Tilt::default(), "negated news");
        assert_eq!(s.found("an awarding ceremony"), Tilt::default());
    }

    #[test]
    fn replies_on_a_brands_behalf_are_told_from_customers() {
        let reply = |text: &str| dealer_reply(text, tilt(text));
        assert!(reply(
            "您好，关于您反映的问题我们非常重视，请私信留下联系方式"
        ));
        assert!(reply(
            "Hi! We're sorry to hear that. Please DM us your order number."
        ));
        assert!(reply("您好，给您带来不便我们深表歉意，我司已安排专人跟进"));
        assert!(!reply("您好，我的车刹车发软，有人遇到过吗"));
        assert!(!reply("您好，我的车昨天自燃了，请您尽快联系我"));
        assert!(!reply("您好，请您尽快处理，车在高速上自燃了，吓死我了"));
        assert!(!reply("刚提车，您好我好大家好"));
        assert!(!reply("The dealer never answered my DMs"));
    }

    #[test]
    fn news_ads_and_replies_are_other() {
        let neutral = HeadsOut {
            sentiment: [0.8, 0.1, 0.1],
            complaint: 0.9,
            ..Default::default()
        };
        for (text, want) in [
            ("【某品牌宣布召回部分车型】涉及两万辆", Intent::Other),
            ("您好，您反映的问题已记录，请联系服务顾问", Intent::Other),
            ("Acme announced a recall of 20,000 SUVs", Intent::Other),
            // A short tag is the author's own label: the complaint stands.
            ("【吐槽】提车一周就坏了", Intent::Complaint),
            ("提车一周就坏了，气死", Intent::Complaint),
        ] {
            assert_eq!(
                intent(text, 0, &neutral, false, false, tilt(text)),
                want,
                "{text}"
            );
        }
        let calm = HeadsOut {
            sentiment: [0.1, 0.8, 0.1],
            complaint: 0.1,
            ..Default::default()
        };
        // Price talk about service or parts is an owner's question.
        let flags = INTEREST | QUESTION;
        assert_eq!(
            intent(
                "换一套原厂刹车片多少钱？",
                flags,
                &calm,
                false,
                false,
                tilt("换一套原厂刹车片多少钱？")
            ),
            Intent::Question
        );
        assert_eq!(
            intent(
                "这车落地多少钱？",
                flags,
                &calm,
                false,
                false,
                tilt("这车落地多少钱？")
            ),
            Intent::Purchase
        );
    }
}
