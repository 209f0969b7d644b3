//! The cue phrases of intent and lead grading (complaint, question, praise, purchase interest,
//! test drive, near time frame), found in one pass over the text.
//!
//! They used to be eight regular expressions, each a full scan of the text (about a third
//! of the pipeline's time). Every phrase is a literal, or a literal followed by a few words separated by
//! whitespace or a dash, so one search for the leading literals ([`super::literals`]) finds them
//! all and a short check after each hit does the rest: ASCII word boundaries (`(?-u:\b)`) around
//! English words, the words after `\s+` or `[\s-]?`, and "only punctuation up to the end" after
//! a final 吗 or 呢, and, for an English question word, that it opens a clause. The test module
//! writes the same phrases as regular expressions and checks, on generated texts, that both
//! give the same answers. Two cheap byte tests tell whether the phone and
//! e-mail regexes can match at all, so they run only on the few texts that have a `@` or a digit
//! run that starts like a mobile number.
//!
//! Case is ignored for ASCII letters only; the regexes also folded the two non-ASCII letters that
//! fold to ASCII (the Kelvin sign K and the long s ſ), which no mention writes in a cue word.
//! This module must not decide anything: it reports what it found; `intent` and `lead` decide.

use std::sync::LazyLock;

use super::literals::Literals;

/// A complaint cue (投诉, refund, …).
pub const COMPLAINT: u16 = 1 << 0;
/// A question cue (`?`, 请问, how, …).
pub const QUESTION: u16 = 1 << 1;
/// A praise cue (点赞, thanks, 👍, …).
pub const PRAISE: u16 = 1 << 2;
/// Purchase interest (想买, price, test drive, …).
pub const INTEREST: u16 = 1 << 3;
/// A test drive (试驾, test drive).
pub const TEST_DRIVE: u16 = 1 << 4;
/// A near time frame (下个月, this week, soon, …).
pub const NEAR: u16 = 1 << 5;
/// The text names months or years, so the time-frame regex may find something.
pub const MONTHS_HINT: u16 = 1 << 6;
/// The text may hold a mobile or `+` phone number (the phone regex must decide).
pub const MAYBE_PHONE: u16 = 1 << 7;
/// The text has a `@` (the e-mail regex must decide).
pub const MAYBE_EMAIL: u16 = 1 << 8;

/// What follows the leading literal of a phrase, before the final word boundary.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// One or more whitespace characters (`\s+`), then one of the words.
    Spaces(&'static [&'static str]),
    /// Optionally one whitespace character or `-` (`[\s-]?`), then one of the words.
    OptSep(&'static [&'static str]),
}

/// One cue phrase: its leading literal, the flags it sets, whether it is an English word that
/// needs ASCII word boundaries at both ends, what must follow the literal, and whether the
/// phrase is a final particle (only `。！!,，` and whitespace may follow up to the end).
#[derive(Debug, Clone, Copy)]
struct Phrase {
    head: &'static str,
    flags: u16,
    word: bool,
    steps: &'static [Step],
    tail: Tail,
    /// The phrase must open a clause: only whitespace between it and the start of the text or
    /// a clause's punctuation ([`CLAUSE_ENDS`]). "how" asks in "How long is the first
    /// service?" and does not in "that's how it goes".
    clause: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    Any,
    /// `吗[。！!,，\s]*$`
    QuestionEnd,
    /// `呢[。\s]*$`
    NeEnd,
}

const fn lit(head: &'static str, flags: u16) -> Phrase {
    Phrase {
        head,
        flags,
        word: false,
        steps: &[],
        tail: Tail::Any,
        clause: false,
    }
}

const fn word(head: &'static str, flags: u16) -> Phrase {
    Phrase {
        head,
        flags,
        word: true,
        steps: &[],
        tail: Tail::Any,
        clause: false,
    }
}

const fn words(head: &'static str, flags: u16, steps: &'static [Step]) -> Phrase {
    Phrase {
        head,
        flags,
        word: true,
        steps,
        tail: Tail::Any,
        clause: false,
    }
}

/// An English word that counts only when it opens a clause.
const fn opener(head: &'static str, flags: u16) -> Phrase {
    Phrase {
        clause: true,
        ..word(head, flags)
    }
}

/// The characters that end a clause before an `opener` (besides the start of the text).
pub const CLAUSE_ENDS: &[char] = &[
    '.', '!', '?', ',', ';', ':', '。', '！', '？', '，', '；', '：', '…', '、',
];

const ZH_COMPLAINT: &[&str] = &[
    "投诉",
    "维权",
    "差评",
    "垃圾",
    "太坑",
    "被坑",
    "坑人",
    "坑爹",
    "骗子",
    "欺诈",
    "忽悠",
    "欺负",
    "退车",
    "退款",
    "质量问题",
    "故障",
    "异响",
    "漏油",
    "抖动",
    "熄火",
    "失灵",
    "自燃",
    "断轴",
    "召回",
    "趴窝",
    "亏电",
    "黑屏",
    "生锈",
    "态度差",
    "什么态度",
    "态度恶劣",
    "服务差",
    "太差",
    "不满意",
    "太失望",
    "失望透顶",
    "再也不",
    "无人理",
    "没人管",
    "没人接",
    "不回",
    "推来推去",
    "拖着不",
    "修不好",
    "强制",
    "加价",
    "抢钱",
    "离谱",
    "无语",
    "开玩笑",
    "合理吗",
    "这质量",
    "个鬼",
    // Doubled or exclaimed question marks ask in anger ("到底什么时候能给我换？？？").
    "？？",
    "??",
    "？！",
    "?!",
    "！？",
    "!?",
    "曝光",
    "黑心",
    "差劲",
    "恶心",
    "气死",
    "糟糕",
    "后悔",
    "退钱",
    "敷衍",
    "甩锅",
    "扯皮",
    "套路",
    "乱收费",
    "破车",
    "又坏",
    "坏了",
    "烂",
    "避雷",
    "服了",
    "吐槽",
    "心态崩",
    "白花",
    "白跑",
    "吓死",
    "踢皮球",
    "宰人",
    "劝退",
    "拉胯",
    "呵呵",
    "烦死",
    "骗人",
    "不认账",
    "捆绑",
    "离大谱",
    "真的会谢",
    "就这服务",
    "什么规矩",
    "什么操作",
    "破防",
];
const EN_COMPLAINT: &[&str] = &[
    "complain",
    "complaint",
    "complained",
    "complaining",
    "terrible",
    "awful",
    "worst",
    "scam",
    "fraud",
    "refund",
    "broken",
    "broke",
    "died",
    "defect",
    "defective",
    "rude",
    "disappointed",
    "disappointing",
    "unacceptable",
    "ridiculous",
    "joke",
    "useless",
    "nightmare",
    "overcharged",
    "rust",
    "never again",
    "lawsuit",
    "sue",
    "recall",
    "recalled",
    "sucks",
    "hate",
    "annoyed",
    "frustrated",
    "frustrating",
    "waste",
    "wasted",
    "lied",
    "ripped",
    "upsell",
    "upselling",
    "robbery",
    "clown",
    "insulting",
    "nobody",
    "wtf",
    "ugh",
    "smh",
    "not impressed",
    "not happy",
    "not acceptable",
    "not ok",
    "not okay",
    "still waiting",
    "still broken",
    "no reply",
    "no response",
    "no answer",
    "zero reply",
    "zero response",
    // The sarcasm marker ("truly innovative /s").
    "/s",
];
const ZH_QUESTION: &[&str] = &[
    "?",
    "？",
    "请问",
    "怎么",
    "如何",
    "什么",
    "哪里",
    "哪家",
    "哪个",
    "哪些",
    "多少",
    "多久",
    "几点",
    "能不能",
    "可不可以",
    "是否",
    "有没有",
    "咋",
    "为啥",
    "为什么",
    "啥时候",
    "几号",
    "怎样",
    "是不是",
    "要不要",
    "求问",
    "请教",
    "问一下",
    "想问",
];
/// English question words and auxiliaries, as [`opener`]s: they ask only when they open a
/// clause ("Does the warranty transfer", not "that's how it goes").
const EN_QUESTION: &[&str] = &[
    "how", "what", "when", "where", "why", "which", "who", "does", "do", "did", "is", "are", "can",
    "could", "should", "would", "anyone", "anybody",
];
const ZH_PRAISE: &[&str] = &[
    "点赞",
    "好评",
    "满意",
    "感谢",
    "谢谢",
    "推荐",
    "给力",
    "专业",
    "贴心",
    "靠谱",
    "超赞",
    "太棒",
    "喜欢",
    "爱了",
    "感动",
    "太爽",
    "舒服",
    "舒适",
    "高级",
    "没话说",
    "名不虚传",
    "省心",
    "真香",
    "惊喜",
    "不错",
    "很好",
    "真棒",
    "很棒",
    "好看",
    "漂亮",
    "完美",
    "开心",
    "👍",
    "❤️",
    "😍",
    "绝了",
    "满分",
    "零问题",
    "没毛病",
    "平顺",
    "耐造",
    "稳得",
    "感人",
    "友好",
    "💯",
];
const EN_PRAISE: &[&str] = &[
    "love",
    "great",
    "thank",
    "thanks",
    "recommend",
    "recommended",
    "awesome",
    "excellent",
    "amazing",
    "fantastic",
    "helpful",
    "kudos",
    "shoutout",
    "impressed",
    "smooth",
    "comfortable",
    "reliable",
    "nice",
    "happy",
    "beautiful",
    "perfect",
    "brilliant",
    "superb",
    "impressive",
    "wonderful",
    "best",
    "legend",
    "refreshing",
    "flawless",
    "solid",
    "quiet",
    "game changer",
];
const ZH_INTEREST: &[&str] = &[
    "想买",
    "要买",
    "准备买",
    "打算买",
    "购车",
    "买车",
    "提车",
    "订车",
    "想订",
    "下定",
    "定金",
    "报价",
    "落地",
    "裸车",
    "手续费",
    "多少钱",
    "价格",
    "优惠",
    "预算",
    "首付",
    "贷款",
    "分期",
    "置换",
    "以旧换新",
    "换车",
    "想换",
    "入手",
    "求推荐",
    "二选一",
    "看车",
    "到店",
    "试驾",
    "试乘",
    "想要",
    "考虑",
    "下单",
    "定车",
    "团购",
    "性价比",
    "值得买",
    "值不值",
    "选哪个",
    "怎么选",
    "值得入",
    "想入",
    "入一台",
    "展车",
    "现车",
    "下订",
    "订金",
    "心动",
    "种草",
    "全款",
];
const EN_INTEREST: &[&str] = &[
    "buy",
    "buying",
    "purchase",
    "quote",
    "price",
    "pricing",
    "financing",
    "finance",
    "lease",
    "considering",
    "afford",
    "shopping",
    "discount",
    "deals",
    "deposit",
    "shortlist",
    "stock",
    // Phrases of several words are written with one space, as people type them.
    "interested in",
    "thinking about",
    "thinking of",
    "looking to",
    "good deal",
    "good price",
    "best deal",
    "best price",
    "trading in",
    "worth it",
    "down payment",
];
/// English phrases that ask wherever they stand.
const EN_ASKS: &[&str] = &["any idea", "any ideas", "wondering"];
const ZH_NEAR: &[&str] = &[
    "这周",
    "本周",
    "下周",
    "这个月",
    "本月",
    "下个月",
    "下月",
    "月底",
    "近期",
    "最近就",
    "马上",
    "尽快",
    "立刻",
    "年前",
    "明天",
    "周末",
    "两周",
    "一周内",
    "这几天",
    "急用",
    // (?:[一二两三1-3]|半)个?月 (the regex's trailing 内? never changes whether it matches)
    "一月",
    "二月",
    "两月",
    "三月",
    "1月",
    "2月",
    "3月",
    "半月",
    "一个月",
    "二个月",
    "两个月",
    "三个月",
    "1个月",
    "2个月",
    "3个月",
    "半个月",
];

/// The phrases that are not a plain literal or a single English word.
const COMPOUND: &[Phrase] = &[
    words("can", QUESTION, &[Step::Spaces(&["i"])]),
    words("could", QUESTION, &[Step::Spaces(&["you"])]),
    words("do", QUESTION, &[Step::Spaces(&["you"])]),
    words("is", QUESTION, &[Step::Spaces(&["there"])]),
    words("are", QUESTION, &[Step::Spaces(&["there"])]),
    words("anyone", QUESTION, &[Step::Spaces(&["know"])]),
    Phrase {
        head: "吗",
        flags: QUESTION,
        word: false,
        steps: &[],
        tail: Tail::QuestionEnd,
        clause: false,
    },
    Phrase {
        head: "呢",
        flags: QUESTION,
        word: false,
        steps: &[],
        tail: Tail::NeEnd,
        clause: false,
    },
    words("trade", INTEREST, &[Step::OptSep(&["in"])]),
    words("test", INTEREST, &[Step::OptSep(&["drive"])]),
    words("dealer", INTEREST, &[Step::Spaces(&["visit"])]),
    lit("试驾", TEST_DRIVE),
    lit("试乘", TEST_DRIVE),
    Phrase {
        head: "test",
        flags: TEST_DRIVE,
        word: false,
        steps: &[Step::OptSep(&["drive"])],
        tail: Tail::Any,
        clause: false,
    },
    words("this", NEAR, &[Step::Spaces(&["week", "month"])]),
    words("next", NEAR, &[Step::Spaces(&["week", "month"])]),
    word("soon", NEAR),
    word("asap", NEAR),
    // A time frame counted in days or weeks is near ("within 30 days", "in about 8 weeks").
    word("days", NEAR),
    word("weeks", NEAR),
    word("tomorrow", NEAR),
    word("weekend", NEAR),
    words(
        "within",
        NEAR,
        &[
            Step::Spaces(&["a", "one", "two", "three", "1", "2", "3"]),
            Step::Spaces(&["month", "months"]),
        ],
    ),
    // What the time-frame regex needs at least one of.
    lit("月", MONTHS_HINT),
    lit("年", MONTHS_HINT),
    lit("month", MONTHS_HINT),
    lit("year", MONTHS_HINT),
];

fn all_phrases() -> Vec<Phrase> {
    let mut out = Vec::new();
    type Make = fn(&'static str, u16) -> Phrase;
    let tables: [(&[&'static str], u16, Make); 10] = [
        (ZH_COMPLAINT, COMPLAINT, lit),
        (EN_COMPLAINT, COMPLAINT, word),
        (ZH_QUESTION, QUESTION, lit),
        (EN_QUESTION, QUESTION, opener),
        (EN_ASKS, QUESTION, word),
        (ZH_PRAISE, PRAISE, lit),
        (EN_PRAISE, PRAISE, word),
        (ZH_INTEREST, INTEREST, lit),
        (EN_INTEREST, INTEREST, word),
        (ZH_NEAR, NEAR, lit),
    ];
    for (heads, flags, make) in tables {
        out.extend(heads.iter().map(|&h| make(h, flags)));
    }
    out.extend_from_slice(COMPOUND);
    out
}

/// The compiled phrase table: one matcher over the distinct leading literals, and per literal
/// the phrases that start with it.
struct Table {
    heads: Literals,
    phrases: Vec<Vec<Phrase>>,
    /// Flags a hit on the literal sets with no further check (to skip the checks when they are
    /// already all set).
    flags_any: Vec<u16>,
}

impl Table {
    fn new() -> Self {
        let (heads, phrases) = heads();
        let flags_any = phrases
            .iter()
            .map(|ps| ps.iter().fold(0, |f, p| f | p.flags))
            .collect();
        let heads = Literals::new(&heads).unwrap_or_else(|_| empty_matcher());
        Self {
            heads,
            phrases,
            flags_any,
        }
    }
}

/// The distinct leading literals, and per literal the phrases that start with it.
fn heads() -> (Vec<&'static str>, Vec<Vec<Phrase>>) {
    let mut heads: Vec<&'static str> = Vec::new();
    let mut phrases: Vec<Vec<Phrase>> = Vec::new();
    for p in all_phrases() {
        match heads.iter().position(|h| *h == p.head) {
            Some(i) => phrases[i].push(p),
            None => {
                heads.push(p.head);
                phrases.push(vec![p]);
            }
        }
    }
    (heads, phrases)
}

/// The leading literals of the cue phrases, by index: what [`Scan::feed`] takes hits of.
pub fn head_literals() -> Vec<&'static str> {
    heads().0
}

/// The literals are non-empty, so the matcher cannot fail to build; were it ever to, one that
/// matches nothing keeps classification running (with no intent or lead cues).
fn empty_matcher() -> Literals {
    Literals::new(Vec::<&str>::new()).unwrap_or_else(|_| unreachable!("no literal"))
}

static TABLE: LazyLock<Table> = LazyLock::new(Table::new);

#[inline]
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of `word` at the start of `rest` (ASCII case ignored), if it is there.
fn starts_with_ci(rest: &str, word: &str) -> bool {
    rest.len() >= word.len() && rest.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
}

/// Whether the steps match from byte `at` of `text`, ending on an ASCII word boundary when
/// `word` is set. Tries every alternative, as the regex's backtracking would.
fn steps_match(text: &str, at: usize, steps: &[Step], word: bool) -> bool {
    let Some((step, rest_steps)) = steps.split_first() else {
        return !word || !text.as_bytes().get(at).copied().is_some_and(is_word_byte);
    };
    let rest = &text[at..];
    match *step {
        Step::Spaces(alts) => {
            let trimmed = rest.trim_start_matches(char::is_whitespace);
            if trimmed.len() == rest.len() {
                return false;
            }
            let from = at + rest.len() - trimmed.len();
            alts.iter().any(|w| {
                starts_with_ci(trimmed, w) && steps_match(text, from + w.len(), rest_steps, word)
            })
        }
        Step::OptSep(alts) => {
            let mut starts = vec![at];
            if let Some(c) = rest.chars().next() {
                if c.is_whitespace() || c == '-' {
                    starts.push(at + c.len_utf8());
                }
            }
            starts.into_iter().any(|from| {
                alts.iter().any(|w| {
                    starts_with_ci(&text[from..], w)
                        && steps_match(text, from + w.len(), rest_steps, word)
                })
            })
        }
    }
}

fn tail_ok(tail: Tail, rest: &str) -> bool {
    match tail {
        Tail::Any => true,
        Tail::QuestionEnd => rest
            .chars()
            .all(|c| matches!(c, '。' | '！' | '!' | ',' | '，') || c.is_whitespace()),
        Tail::NeEnd => rest.chars().all(|c| c == '。' || c.is_whitespace()),
    }
}

/// Whether byte `start` of `text` opens a clause: only whitespace before it, back to the
/// start of the text or one of [`CLAUSE_ENDS`].
fn opens_clause(text: &str, start: usize) -> bool {
    text[..start]
        .trim_end_matches(char::is_whitespace)
        .chars()
        .next_back()
        .is_none_or(|c| CLAUSE_ENDS.contains(&c))
}

fn phrase_at(text: &str, start: usize, end: usize, p: &Phrase) -> bool {
    if p.word && start > 0 && is_word_byte(text.as_bytes()[start - 1]) {
        return false;
    }
    if p.clause && !opens_clause(text, start) {
        return false;
    }
    tail_ok(p.tail, &text[end..]) && steps_match(text, end, p.steps, p.word)
}

/// The literals whose occurrences decide [`MAYBE_EMAIL`] and [`MAYBE_PHONE`] (see
/// [`Scan::feed_contact`]): `@`, `+`, and `1` followed by `3`–`9`.
pub const CONTACT_LITERALS: [&str; 9] = ["@", "+", "13", "14", "15", "16", "17", "18", "19"];

/// Whether the character at byte `at` of `text` is numeric.
fn numeric_at(text: &str, at: usize) -> bool {
    text.get(at..)
        .and_then(|r| r.chars().next())
        .is_some_and(char::is_numeric)
}

/// Whether the phone regex could match: a `+` before a digit, or `1`, `3`–`9` and a third
/// digit in a row (every mobile number starts so). `char::is_numeric` is wider than the
/// regex's `\d`, which only makes the test more permissive.
fn maybe_phone(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'+' => numeric_at(text, i + 1),
        b'1' => b.get(i + 1).is_some_and(|d| (b'3'..=b'9').contains(d)) && numeric_at(text, i + 2),
        _ => false,
    })
}

/// The byte tests of the contact regexes: [`MAYBE_EMAIL`] and [`MAYBE_PHONE`].
fn contact_flags(text: &str) -> u16 {
    let mut found = 0;
    if text.as_bytes().contains(&b'@') {
        found |= MAYBE_EMAIL;
    }
    if maybe_phone(text) {
        found |= MAYBE_PHONE;
    }
    found
}

/// Collects cue flags from hits of the leading literals (index as in [`head_literals`]), in any
/// order: for a pipeline that finds them together with other literals.
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    found: u16,
}

impl Scan {
    /// Starts with the byte tests of `text`.
    pub fn new(text: &str) -> Self {
        Self {
            found: contact_flags(text),
        }
    }

    /// Starts with no flag: the contact flags then come from [`Scan::feed_contact`], fed every
    /// occurrence of [`CONTACT_LITERALS`].
    pub fn without_contacts() -> Self {
        Self { found: 0 }
    }

    /// An occurrence of `CONTACT_LITERALS[index]` at byte `start` of `text`.
    #[inline]
    pub fn feed_contact(&mut self, text: &str, index: usize, start: usize) {
        match index {
            0 => self.found |= MAYBE_EMAIL,
            1 if numeric_at(text, start + 1) => self.found |= MAYBE_PHONE,
            2.. if numeric_at(text, start + 2) => self.found |= MAYBE_PHONE,
            _ => {}
        }
    }

    /// A hit of leading literal `head` at `start..end` of `text`.
    #[inline]
    pub fn feed(&mut self, text: &str, head: usize, start: usize, end: usize) {
        let table = &*TABLE;
        let Some(&any) = table.flags_any.get(head) else {
            return;
        };
        if self.found & any == any {
            return;
        }
        for p in &table.phrases[head] {
            if self.found & p.flags != p.flags && phrase_at(text, start, end, p) {
                self.found |= p.flags;
            }
        }
    }

    /// The cue flags: an OR of the constants above.
    pub fn flags(&self) -> u16 {
        self.found
    }
}

/// The cue flags of `text`: an OR of the constants above.
pub fn scan(text: &str) -> u16 {
    let mut scan = Scan::new(text);
    TABLE.heads.find(text, |h| {
        scan.feed(text, h.pattern as usize, h.start as usize, h.end as usize)
    });
    scan.flags()
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// The phrases as regular expressions, built from the same word lists, as the oracle:
    /// literals as an alternation, English words between `(?-u:\b)`, openers after the start
    /// of the text or a clause's punctuation and any whitespace, compound phrases written out.
    fn oracle() -> Vec<(u16, Regex)> {
        let alt = |words: &[&str]| {
            words
                .iter()
                .map(|w| regex::escape(w))
                .collect::<Vec<_>>()
                .join("|")
        };
        let ends: String = CLAUSE_ENDS
            .iter()
            .map(|c| regex::escape(&c.to_string()))
            .collect();
        let re = |parts: &[String]| {
            Regex::new(&format!("(?i){}", parts.join("|"))).expect("oracle regex")
        };
        // Not `(?-u:\b)` in front: "/s" starts with no word character.
        let words = |w: &[&str]| format!(r"(?:^|[^0-9A-Za-z_])(?:{})(?-u:\b)", alt(w));
        vec![
            (
            COMPLAINT,
            re(&[
                alt(ZH_COMPLAINT),
                words(EN_COMPLAINT),
            ]),
        ),
            (
                QUESTION,
                re(&[
                    alt(ZH_QUESTION),
                    r"吗[。！!,，\s]*$|呢[。\s]*$".into(),
                    format!(r"(?:^|[{ends}])\s*(?:{})(?-u:\b)", alt(EN_QUESTION)),
                    r"(?-u:\b)(?:can\s+i|could\s+you|do\s+you|is\s+there|are\s+there|anyone\s+know)(?-u:\b)".into(),
                    words(EN_ASKS),
                ]),
            ),
            (
                PRAISE,
                re(&[
                    alt(ZH_PRAISE),
                    words(EN_PRAISE),
                    r"(?-u:\b)thank\s+you(?-u:\b)".into(),
                ]),
            ),
            (
                INTEREST,
                re(&[
                    alt(ZH_INTEREST),
                    words(EN_INTEREST),
                    r"(?-u:\b)(?:trade[\s-]?in|test[\s-]?drive|dealer\s+visit)(?-u:\b)".into(),
                ]),
            ),
            (TEST_DRIVE, re(&[r"试驾|试乘|test[\s-]?drive".into()])),
            (
                NEAR,
                re(&[
                    r"这周|本周|下周|这个月|本月|下个月|下月|月底|近期|最近就|马上|尽快|立刻|年前|明天|周末|两周|一周内|这几天|急用|(?:[一二两三1-3]|半)个?月内?".into(),
                    r"(?-u:\b)(?:this|next)\s+(?:week|month)(?-u:\b)|(?-u:\b)(?:soon|asap|days|weeks|tomorrow|weekend)(?-u:\b)|(?-u:\b)within\s+(?:a|one|two|three|[1-3])\s+months?(?-u:\b)".into(),
                ]),
            ),
        ]
    }

    /// Fragments that hit, nearly hit, or break every phrase: boundaries (`_`, digits, letters
    /// glued on), separators (several spaces, a tab, a dash, none), case, final particles.
    const PIECES: &[&str] = &[
        "complain",
        "complaints",
        "Complained",
        "sue",
        "pursue",
        "SUE",
        "_sue",
        "sue_",
        "never",
        "again",
        "never  again",
        "recall",
        "recalled",
        "how",
        "somehow",
        "can",
        "i",
        "can  I",
        "can\ti",
        "cani",
        "does",
        "do",
        "you",
        "is",
        "there",
        "are",
        "anyone",
        "know",
        "thank",
        "thanks",
        "you",
        "great",
        "greatest",
        "trade",
        "in",
        "trade-in",
        "tradein",
        "trade  in",
        "test",
        "drive",
        "test-drive",
        "testdrive",
        "test drive",
        "contest",
        "drives",
        "dealer",
        "visit",
        "this",
        "next",
        "week",
        "month",
        "months",
        "soon",
        "asap",
        "within",
        "a",
        "one",
        "two",
        "3",
        "4",
        "1",
        "buy",
        "buyer",
        "price",
        "吗",
        "呢",
        "。",
        "！",
        "!",
        ",",
        "，",
        "?",
        "？",
        "试驾",
        "提车",
        "下个月",
        "三个月",
        "半",
        "个",
        "月",
        "1月",
        "11月",
        "内",
        "年",
        "year",
        "投诉",
        "不满意",
        "满意",
        "👍",
        "❤️",
        "❤",
        "😍",
        "好",
        "车",
        " ",
        "  ",
        "\n",
        "-",
        "_",
        "x",
        "9",
        "price9",
        "sue9",
        "How",
        "what",
        "that's",
        "is",
        "should",
        ". ",
        "，",
        "…",
        "、",
        "interested",
        "thinking",
        "about",
        "looking",
        "good",
        "deal",
        "trading",
        "多少钱",
        "离谱",
        "recalled",
        "days",
        "weekend",
        "明天",
        "/s",
        "/service",
        "a/s",
    ];

    use crate::rng::Rng;

    #[test]
    fn same_answers_as_the_regexes() {
        let oracle = oracle();
        let mut rng = Rng::new(42);
        let mut hits = [0usize; 6];
        for n in 0..30_000 {
            let len = 1 + (rng.next_u64() % 6) as usize;
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(PIECES[(rng.next_u64() % PIECES.len() as u64) as usize]);
                if rng.next_u64() % 3 == 0 {
                    text.push(' ');
                }
            }
            let found = scan(&text);
            for (k, (flag, re)) in oracle.iter().enumerate() {
                let want = re.is_match(&text);
                assert_eq!(found & flag != 0, want, "case {n}: flag {flag} on {text:?}");
                hits[k] += usize::from(want);
            }
        }
        // The generator reaches every cue both ways, so the comparison means something.
        for (k, h) in hits.iter().enumerate() {
            assert!(*h > 100 && *h < 29_900, "flag #{k} matched {h} of 30,000");
        }
    }

    #[test]
    fn contact_literals_give_the_byte_tests() {
        let lits = crate::classify::literals::Literals::new(CONTACT_LITERALS).expect("literals");
        for text in [
            "",
            "+",
            "+1",
            "+x",
            "+１",
            "13",
            "138",
            "13a",
            "1１3",
            "12345",
            "电话13812345678",
            "a@b",
            "@",
            "2019年",
            "+½",
            "１３８",
            "x1+9",
        ] {
            let mut scan = Scan::without_contacts();
            lits.find(text, |h| {
                scan.feed_contact(text, h.pattern as usize, h.start as usize)
            });
            assert_eq!(scan.flags(), contact_flags(text), "{text:?}");
        }
    }

    #[test]
    fn prefilters_never_miss_a_contact() {
        let phone = Regex::new(r"(?:(?:\+|00)86[\s-]?)?(?:^|[^\d])(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4})(?:[^\d]|$)|\+\d{1,3}[\s-]?\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}").expect("regex");
        let table = [
            "电话13812345678",
            "+86 139 1234 5678",
            "138-1234-5678",
            "call +1 415 555 0100",
            "2013年买的车，15万",
            "订单号 20261122",
            "１３８１２３４５６７８",
            "a@b.cn",
        ];
        for text in table {
            if phone.is_match(text) {
                assert!(scan(text) & MAYBE_PHONE != 0, "{text}");
            }
        }
        assert_eq!(scan("2013年买的车，15万") & MAYBE_PHONE, 0);
        assert_ne!(scan("电话13812345678") & MAYBE_PHONE, 0);
        assert_ne!(scan("mail a@b.cn") & MAYBE_EMAIL, 0);
        assert_eq!(scan("no mail here") & MAYBE_EMAIL, 0);
    }
}
