//! The car-fault vocabulary, grouped by fault kind: words and phrases in Chinese and English
//! for each kind of safety failure and for mass complaints, written from how owners, the
//! press and regulators describe them (no brand or model names: those live in `keywords/`).
//!
//! A text's fault kinds are model features (so "方向盘突然打不动" counts as steering without the
//! exact word in the training data) and feed the crisis flag ([`super::decide::crisis`]): a
//! failure named outright counts anywhere, a part and a symptom outside a positive text, a
//! [`WEAK`] phrase (airbag, fire, 曝光) or a near miss only in a negative one.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// A kind of safety failure or mass complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Brakes soft, failing or gone.
    Brakes,
    /// Fire, smoke, battery thermal runaway.
    Fire,
    /// Steering heavy, locked or lost.
    Steering,
    /// Power loss or stalling while driving.
    PowerLoss,
    /// Airbags that did not deploy (or went off for nothing).
    Airbag,
    /// The car accelerating by itself.
    UnintendedAcceleration,
    /// A parked car rolling away.
    RollAway,
    /// Emergency braking with nothing there.
    PhantomBraking,
    /// Occupants who cannot get out.
    Trapped,
    /// An axle, suspension or wheel that broke off.
    Structural,
    /// A safety recall.
    Recall,
    /// Collective complaints: rights groups, regulators, banners, class actions, media exposure.
    Collective,
    /// A safety risk said in general words, without naming the failure: a near miss, a
    /// hazard, fear for one's life (差点出事, 安全隐患, "almost crashed"). A crisis only in a
    /// negative text: the same words praise a car that saved its driver.
    Danger,
}

impl Fault {
    /// Every kind, in bit order.
    pub const ALL: [Fault; 13] = [
        Fault::Brakes,
        Fault::Fire,
        Fault::Steering,
        Fault::PowerLoss,
        Fault::Airbag,
        Fault::UnintendedAcceleration,
        Fault::RollAway,
        Fault::PhantomBraking,
        Fault::Trapped,
        Fault::Structural,
        Fault::Recall,
        Fault::Collective,
        Fault::Danger,
    ];

    /// The kind's name, as a crisis match's rule (`fault-brakes`, …).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Brakes => "fault-brakes",
            Fault::Fire => "fault-fire",
            Fault::Steering => "fault-steering",
            Fault::PowerLoss => "fault-power-loss",
            Fault::Airbag => "fault-airbag",
            Fault::UnintendedAcceleration => "fault-unintended-acceleration",
            Fault::RollAway => "fault-roll-away",
            Fault::PhantomBraking => "fault-phantom-braking",
            Fault::Trapped => "fault-trapped",
            Fault::Structural => "fault-structural",
            Fault::Recall => "fault-recall",
            Fault::Collective => "fault-collective",
            Fault::Danger => "fault-danger",
        }
    }

    /// This kind's bit in a [`Faults`] mask.
    pub fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// The phrases of each kind. Chinese phrases are substrings; English ones are matched
/// lowercased, as whole words where they are short (see [`Vocabulary::scan`]).
const VOCABULARY: &[(Fault, &[&str])] = &[
    (
        Fault::Brakes,
        &[
            "刹车失灵",
            "刹车失效",
            "刹车发软",
            "刹车变软",
            "刹车很软",
            "刹车软",
            "刹车踩不动",
            "刹车踩不下去",
            "刹车踩到底",
            "刹车没反应",
            "刹车没用",
            "刹不住",
            "刹不停",
            "制动失效",
            "制动失灵",
            "制动发软",
            "制动力下降",
            "刹车突然没",
            "刹车距离变长",
            "brake failure",
            "brakes failed",
            "brakes fail",
            "brake failed",
            "brakes gave out",
            "brakes went soft",
            "soft brake",
            "spongy brake",
            "brake pedal went",
            "pedal went to the floor",
            "pedal sank",
            "no brakes",
            "lost braking",
            "lost the brakes",
            "brakes stopped working",
            "brakes didn't work",
            "brakes did not work",
            "couldn't stop",
            "could not stop",
        ],
    ),
    (
        Fault::Fire,
        &[
            "自燃",
            "起火",
            "着火",
            "冒烟",
            "冒黑烟",
            "冒白烟",
            "烧毁",
            "烧成",
            "烧没了",
            "烧了",
            "火灾",
            "火情",
            "燃烧",
            "热失控",
            "电池起火",
            "爆燃",
            "caught fire",
            "on fire",
            "burst into flames",
            "flames",
            "thermal runaway",
            "burned out",
            "burnt out",
            "smoke",
            "smoking",
            "fire",
        ],
    ),
    (
        Fault::Steering,
        &[
            "方向盘打不动",
            "方向盘锁死",
            "方向盘变重",
            "方向盘突然",
            "方向盘卡死",
            "方向盘失灵",
            "方向盘失控",
            "方向盘转不动",
            "方向盘沉",
            "转向失灵",
            "转向失效",
            "转向助力失效",
            "助力失效",
            "转向助力没",
            "助力突然没",
            "方向失控",
            "转向卡死",
            "lost steering",
            "loss of steering",
            "steering failure",
            "steering failed",
            "steering locked",
            "steering lock",
            "steering went heavy",
            "steering wheel locked",
            "power steering failed",
            "power steering went",
            "loss of power steering",
            "lost power steering",
            "steering went out",
        ],
    ),
    (
        Fault::PowerLoss,
        &[
            "熄火",
            "失去动力",
            "动力中断",
            "突然没动力",
            "没了动力",
            "动力丢失",
            "突然断电",
            "高压断电",
            "掉电",
            "趴窝",
            "抛锚",
            "stalled",
            "stalling",
            "stalls",
            "lost power",
            "loss of power",
            "power loss",
            "lost all power",
            "shut down while driving",
            "died on the highway",
            "died on the freeway",
            "died in traffic",
            "limp mode",
        ],
    ),
    (
        Fault::Airbag,
        &[
            "气囊没弹",
            "气囊未弹",
            "气囊没有弹",
            "气囊不弹",
            "气囊没打开",
            "气囊未打开",
            "安全气囊",
            "气囊误弹",
            "airbag",
            "airbags",
            "air bag",
        ],
    ),
    (
        Fault::UnintendedAcceleration,
        &[
            "暴冲",
            "突然加速",
            "自己加速",
            "失控加速",
            "油门卡死",
            "电门卡死",
            "自动加速",
            "猛地往前冲",
            "往前冲",
            "unintended acceleration",
            "sudden acceleration",
            "accelerated on its own",
            "accelerated by itself",
            "surged forward",
            "took off on its own",
        ],
    ),
    (
        Fault::RollAway,
        &[
            "溜车",
            "自己溜",
            "自行滑",
            "驻车失效",
            "P挡失效",
            "P档失效",
            "倒溜",
            "rolled away",
            "roll-away",
            "rollaway",
            "rolled down",
            "rolled into",
            "parking brake failed",
            "won't stay in park",
            "slipped out of park",
        ],
    ),
    (
        Fault::PhantomBraking,
        &[
            "幽灵刹车",
            "误刹",
            "无故刹车",
            "莫名刹车",
            "突然刹车",
            "突然急刹",
            "自己急刹",
            "莫名急刹",
            "误触发",
            "AEB",
            "自动紧急制动",
            "phantom braking",
            "phantom brake",
            "braked for nothing",
            "slammed on the brakes by itself",
            "brakes on its own",
            "emergency braking for no",
        ],
    ),
    (
        Fault::Trapped,
        &[
            "被困",
            "困在车",
            "困在里面",
            "门打不开",
            "车门打不开",
            "打不开车门",
            "锁在车里",
            "锁在车内",
            "出不来",
            "trapped",
            "locked inside",
            "doors wouldn't open",
            "door wouldn't open",
            "couldn't open the door",
            "could not open the door",
            "doors would not open",
        ],
    ),
    (
        Fault::Structural,
        &[
            "断轴",
            "悬架断裂",
            "悬挂断裂",
            "轮子掉",
            "车轮脱落",
            "摆臂断",
            "broken axle",
            "axle broke",
            "axle snapped",
            "suspension collapsed",
            "wheel came off",
        ],
    ),
    (Fault::Recall, &["召回", "recall", "recalls", "recalled"]),
    (
        Fault::Collective,
        &[
            "维权",
            "集体投诉",
            "集体维权",
            "举牌",
            "举着牌子",
            "车质网",
            "监管总局",
            "不是个例",
            "联名",
            "拉横幅",
            "横幅",
            "12315",
            "315晚会",
            "3·15",
            "投诉到315",
            "消协",
            "消费者协会",
            "市场监管",
            "黑猫投诉",
            "集体诉讼",
            "起诉",
            "曝光",
            "上百位车主",
            "多位车主",
            "多名车主",
            "大量车主",
            "众多车主",
            "上千车主",
            "央视",
            "class action",
            "class-action",
            "lawsuit",
            "nhtsa",
            "complaints filed",
            "filed complaints",
            "owners report",
            "owners are reporting",
            "reports of",
            "investigation",
            "受害者",
            "受害车主",
            "已报警",
            "已经报警",
            "报了警",
            "报警立案",
            "立案",
            "维权群",
            "几十位车主",
            "几十个车主",
            "上百个车主",
            "dozens of owners",
            "hundreds of owners",
            "other owners",
            "victims",
            "police report",
            "attorney general",
        ],
    ),
    (
        Fault::Danger,
        &[
            "差点出事",
            "差点出车祸",
            "差点撞",
            "差点追尾",
            "差点冲出",
            "差一点就",
            "险些",
            "安全隐患",
            "太危险",
            "很危险",
            "非常危险",
            "极其危险",
            "危及生命",
            "生命安全",
            "出人命",
            "要人命",
            "拿命",
            "吓死",
            "一身冷汗",
            "后怕",
            "失控",
            "冲出护栏",
            "almost crashed",
            "nearly crashed",
            "almost hit",
            "nearly hit",
            "almost died",
            "could have died",
            "could have killed",
            "could've killed",
            "safety hazard",
            "safety risk",
            "dangerous",
            "death trap",
            "scared to death",
            "terrifying",
            "lucky to be alive",
        ],
    ),
];

/// Phrases of the vocabulary that also have harmless senses, or that a spec sheet or praise
/// uses: "标配6个安全气囊", "AEB", "this car is fire", "燃烧效率", "一脚油门往前冲", "导航出
/// 不来", "烧了机油", "couldn't stop smiling". They are features like the rest, but make a
/// crisis only in a negative text.
pub const WEAK: &[&str] = &[
    "烧成",
    "烧了",
    "燃烧",
    "smoke",
    "smoking",
    "fire",
    "flames",
    "burned out",
    "burnt out",
    "熄火",
    "掉电",
    "趴窝",
    "抛锚",
    "stalls",
    "limp mode",
    "安全气囊",
    "airbag",
    "airbags",
    "air bag",
    "往前冲",
    "自动加速",
    "倒溜",
    "rolled down",
    "rolled into",
    "误触发",
    "AEB",
    "自动紧急制动",
    "突然刹车",
    "被困",
    "出不来",
    "trapped",
    "no brakes",
    "couldn't stop",
    "could not stop",
    "曝光",
    "起诉",
    "央视",
    "investigation",
    "reports of",
    "owners report",
    "owners are reporting",
    "other owners",
    "victims",
    "lawsuit",
];

/// Kinds named by a part and a symptom anywhere in the same text, so that a failure said in
/// other words still counts ("刹车踩下去软绵绵的", "油门踩到底没反应", "the pedal felt soft").
const PAIRS: &[(Fault, &[&str], &[&str])] = &[
    (
        Fault::Brakes,
        &["刹车", "制动", "踏板", "brake", "brakes", "brake pedal"],
        &[
            "软",
            "失灵",
            "失效",
            "没反应",
            "刹不住",
            "踩到底",
            "变长",
            "soft",
            "spongy",
            "failed",
            "gave out",
            "to the floor",
            "didn't work",
        ],
    ),
    (
        Fault::Steering,
        &["方向盘", "转向", "助力", "steering"],
        &[
            "打不动",
            "变重",
            "很沉",
            "锁死",
            "卡死",
            "失灵",
            "失效",
            "突然没",
            "heavy",
            "locked",
            "failed",
            "went out",
            "stiff",
            "seized",
        ],
    ),
    (
        Fault::PowerLoss,
        &[
            "动力",
            "油门",
            "电门",
            "车速",
            "加速踏板",
            "power",
            "throttle",
            "accelerator",
        ],
        &[
            "受限",
            "没反应",
            "中断",
            "一路往下掉",
            "掉到",
            "没了",
            "丢失",
            "失去",
            "熄火",
            "故障灯",
            "no response",
            "cut out",
            "died",
            "limp",
            "shut off",
            "unresponsive",
        ],
    ),
    (
        Fault::PhantomBraking,
        &[
            "巡航",
            "自动驾驶",
            "辅助驾驶",
            "智驾",
            "aeb",
            "cruise",
            "autopilot",
            "lane assist",
        ],
        &[
            "急刹",
            "重刹",
            "刹一脚",
            "刹停",
            "误识别",
            "莫名",
            "无故",
            "phantom",
            "slammed",
            "braked hard",
            "for no reason",
        ],
    ),
    (
        Fault::Airbag,
        &["气囊", "airbag", "air bag"],
        &[
            "没弹",
            "未弹",
            "不弹",
            "没打开",
            "没有弹",
            "一个都没",
            "didn't deploy",
            "did not deploy",
            "failed",
            "never deployed",
        ],
    ),
    (
        Fault::Fire,
        &[
            "电池",
            "充电",
            "车头",
            "机舱",
            "battery",
            "charging",
            "engine bay",
        ],
        &["火", "烟", "烧", "焦味", "fire", "smoke", "flames", "burn"],
    ),
    (
        Fault::Collective,
        &["车主", "owners", "drivers"],
        &[
            "集体",
            "联合",
            "统计",
            "不是个例",
            "举着牌",
            "举牌",
            "拉横幅",
            "监管",
            "车质网",
            "投诉平台",
            "petition",
            "joined",
            "class action",
            "organizing",
            "reporting the same",
        ],
    ),
];

/// A set of [`Fault`] bits.
pub type Faults = u16;

/// What one pattern of the vocabulary's automaton is.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// A phrase of [`VOCABULARY`]: its kind, whether it is an English word that needs word
    /// boundaries, and whether it is [`WEAK`].
    Phrase(Fault, bool, bool),
    /// A part of pair `i` of [`PAIRS`].
    Part(usize),
    /// A symptom of pair `i` of [`PAIRS`].
    Symptom(usize),
}

/// The compiled vocabulary: the phrases and the pairs' parts and symptoms in one automaton (a
/// DFA: one table step a byte, one pass a text).
#[derive(Debug, Clone)]
pub struct Vocabulary {
    automaton: AhoCorasick,
    entries: Vec<Entry>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        Self::new()
    }
}

/// Words that negate what follows them (Chinese, then English with its space).
const NEGATORS: &[&str] = &[
    "没",
    "无",
    "未",
    "不",
    "零",
    "no ",
    "not ",
    "never ",
    "zero ",
    "without ",
    "didn't ",
    "didn’t ",
    "wasn't ",
    "wasn’t ",
    "isn't ",
    "isn’t ",
    "hasn't ",
    "hasn’t ",
    "nor ",
];

/// Words that may stand between a negator and what it negates (没有任何异响, 一点都不软,
/// 从没出现过, "not a single", "never any").
const NEGATION_FILLERS: &[&str] = &[
    "有",
    "任何",
    "一点",
    "一丝",
    "都",
    "也",
    "过",
    "出现",
    "发生",
    "从",
    "a single ",
    "any ",
    "even ",
    "a ",
    "one ",
];

/// Whether what starts at byte `start` of `text` is negated: a negator (没, 无, 不, no, not,
/// …) ends the text before it, once up to four fillers (有, 任何, 一点, 都, "a single", …)
/// are taken off its end ("刹车一点都不软", "没有任何异响", "no smoke", "never a single
/// stall"). A negator further back does not count ("没想到刹车失灵" names a failure), and
/// English is compared without case.
pub fn negated_before(text: &str, start: usize) -> bool {
    let Some(before) = text.get(..start) else {
        return false;
    };
    let ends = |t: &str, w: &str| {
        t.len() >= w.len()
            && t.is_char_boundary(t.len() - w.len())
            && t[t.len() - w.len()..].eq_ignore_ascii_case(w)
    };
    let mut cut = before;
    for _ in 0..=4 {
        if NEGATORS.iter().any(|n| ends(cut, n)) {
            return true;
        }
        match NEGATION_FILLERS.iter().find(|f| ends(cut, f)) {
            Some(f) => cut = &cut[..cut.len() - f.len()],
            None => return false,
        }
    }
    false
}

/// Whether a byte can be part of an English word.
fn wordy(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The vocabulary's patterns (phrases, then each pair's parts and symptoms) with what each is.
fn patterns() -> impl Iterator<Item = (&'static str, Entry)> {
    let phrases = VOCABULARY.iter().flat_map(|(kind, phrases)| {
        phrases
            .iter()
            .map(move |p| (*p, Entry::Phrase(*kind, p.is_ascii(), WEAK.contains(p))))
    });
    let pairs = PAIRS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, parts, symptoms))| {
            let parts = parts.iter().map(move |p| (*p, Entry::Part(i)));
            parts.chain(symptoms.iter().map(move |p| (*p, Entry::Symptom(i))))
        });
    phrases.chain(pairs)
}

/// Collects a text's fault kinds from the vocabulary's matches when another pass finds them:
/// the classifier's one pass over a text finds [`Vocabulary::literals`] with everything else
/// and feeds their hits here ([`FaultScan::feed`]), with the same rules as [`Vocabulary::scan`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultScan {
    found: Faults,
    weak: Faults,
    parts: u32,
    symptoms: u32,
}

impl FaultScan {
    /// Takes the match of literal `i` of [`Vocabulary::literals`] at `start..end` of `text`.
    pub fn feed(
        &mut self,
        vocabulary: &Vocabulary,
        text: &str,
        i: usize,
        start: usize,
        end: usize,
    ) {
        let Some(&entry) = vocabulary.entries.get(i) else {
            return;
        };
        if vocabulary.counts(text, entry, start, end) {
            self.take(entry);
        }
    }

    /// Takes a match that counts.
    fn take(&mut self, entry: Entry) {
        match entry {
            Entry::Phrase(kind, _, false) => self.found |= kind.bit(),
            Entry::Phrase(kind, _, true) => self.weak |= kind.bit(),
            Entry::Part(i) => self.parts |= 1 << i,
            Entry::Symptom(i) => self.symptoms |= 1 << i,
        }
    }

    /// The kinds named outright or by a part and a symptom: all but the [`WEAK`] phrases'.
    pub fn named(&self) -> Faults {
        self.strong() | self.paired()
    }

    /// The fault kinds found, by any phrase or pair (the model's features).
    pub fn faults(&self) -> Faults {
        self.found | self.weak | pair_kinds(self.parts & self.symptoms)
    }

    /// The fault kinds named outright: by a phrase that is not [`WEAK`].
    pub fn strong(&self) -> Faults {
        self.found
    }

    /// The fault kinds named by a part and a symptom ("刹车踩下去软绵绵的").
    pub fn paired(&self) -> Faults {
        pair_kinds(self.parts & self.symptoms)
    }
}

impl Vocabulary {
    /// Compiles the vocabulary.
    pub fn new() -> Self {
        let (patterns, entries): (Vec<&str>, Vec<Entry>) = patterns().unzip();
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the fault vocabulary compiles");
        Self { automaton, entries }
    }

    /// The fault kinds named in `text`: a phrase of a kind, or a part and a symptom of the same
    /// pair. English phrases must stand as whole words ("fire" is not "firefox", "recall" not
    /// "recalling"), so that ordinary words inside others do not count; a negated phrase or
    /// symptom ([`negated_before`]) does not count.
    pub fn scan(&self, text: &str) -> Faults {
        self.scan_kinds(text).faults()
    }

    /// What [`Vocabulary::scan`] finds, with how each kind was named ([`FaultScan::strong`],
    /// [`FaultScan::paired`]).
    pub fn scan_kinds(&self, text: &str) -> FaultScan {
        let mut scan = FaultScan::default();
        self.each(text, |entry, _, _| scan.take(entry));
        scan
    }

    /// The first phrase found of a kind in `mask`, with its kind (for a crisis match's term);
    /// where only a part-and-symptom pair named the kind, the part.
    pub fn first<'t>(&self, text: &'t str, mask: Faults) -> Option<(Fault, &'t str)> {
        let mut first = None;
        let mut first_part: [Option<(usize, usize)>; PAIRS.len()] = [None; PAIRS.len()];
        let (mut parts, mut symptoms) = (0u32, 0u32);
        self.each(text, |entry, start, end| match entry {
            Entry::Phrase(kind, _, _) => {
                if first.is_none() && mask & kind.bit() != 0 {
                    first = Some((kind, &text[start..end]));
                }
            }
            Entry::Part(i) => {
                parts |= 1 << i;
                first_part[i].get_or_insert((start, end));
            }
            Entry::Symptom(i) => symptoms |= 1 << i,
        });
        if first.is_some() {
            return first;
        }
        let both = parts & symptoms;
        (0..PAIRS.len())
            .filter(|i| both & (1 << i) != 0 && mask & PAIRS[*i].0.bit() != 0)
            .filter_map(|i| first_part[i].map(|(s, e)| (i, s, e)))
            .min_by_key(|(_, s, e)| (*e, std::cmp::Reverse(*s)))
            .map(|(i, s, e)| (PAIRS[i].0, &text[s..e]))
    }

    /// The vocabulary's literals, in the order [`FaultScan::feed`] numbers them, for a pass
    /// that finds them with other literals (ASCII letters without case, overlapping).
    pub fn literals() -> impl Iterator<Item = &'static str> {
        patterns().map(|(p, _)| p)
    }

    /// Whether a match of `entry` at `start..end` counts: English phrases only as whole
    /// words, phrases and symptoms only where not negated.
    fn counts(&self, text: &str, entry: Entry, start: usize, end: usize) -> bool {
        let bytes = text.as_bytes();
        if let Entry::Phrase(_, true, _) = entry {
            let before = start.checked_sub(1).and_then(|i| bytes.get(i)).copied();
            let after = bytes.get(end).copied();
            if before.is_some_and(wordy) || after.is_some_and(wordy) {
                return false;
            }
        }
        matches!(entry, Entry::Part(_)) || !negated_before(text, start)
    }

    /// Every match that counts ([`Vocabulary::counts`]), in the automaton's order.
    fn each(&self, text: &str, mut f: impl FnMut(Entry, usize, usize)) {
        for m in self.automaton.find_overlapping_iter(text) {
            let entry = self.entries[m.pattern().as_usize()];
            if self.counts(text, entry, m.start(), m.end()) {
                f(entry, m.start(), m.end());
            }
        }
    }
}

/// The kinds of the pairs whose bits are set in `both`.
fn pair_kinds(both: u32) -> Faults {
    let mut found = 0;
    for (i, (kind, _, _)) in PAIRS.iter().enumerate() {
        if both & (1 << i) != 0 {
            found |= kind.bit();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_pass_finds_what_the_vocabulary_finds() {
        let v = Vocabulary::new();
        let literals = crate::classify::literals::Literals::new(Vocabulary::literals())
            .expect("the vocabulary's literals compile");
        for text in [
            "刹车一点都不软，踏板很线性",
            "高速上方向盘突然打不动，转向助力失效",
            "电池包冒烟起火，车主逃出",
            "The BRAKES FAILED twice; brake pedal went to the floor",
            "firefox and fireworks, no fire",
            "没想到高速上刹车失灵了，车主群里几十人准备去维权",
            "Recall notice: airbag may not deploy",
            "",
        ] {
            let mut scan = FaultScan::default();
            literals.find(text, |h| {
                scan.feed(
                    &v,
                    text,
                    h.pattern as usize,
                    h.start as usize,
                    h.end as usize,
                )
            });
            assert_eq!(scan.faults(), v.scan(text), "{text}");
        }
    }

    #[test]
    fn negated_faults_are_not_faults() {
        let v = Vocabulary::new();
        assert_eq!(v.scan("刹车一点都不软，踏板很线性"), 0);
        assert_eq!(v.scan("开了三年没有任何自燃的迹象"), 0);
        assert_eq!(v.scan("No smoke, no fire, just a dead 12V battery"), 0);
        // A negator further back, or none: still a failure.
        assert_ne!(v.scan("没想到高速上刹车失灵了"), 0);
        assert_ne!(v.scan("电池包冒烟起火，车主逃出"), 0);
        assert_ne!(v.scan("The brakes failed twice on the highway"), 0);
        assert!(negated_before("没有任何异响", "没有任何".len()));
        assert!(negated_before("Not a single stall", "Not a single ".len()));
        assert!(!negated_before("不知道为什么异响", "不知道为什么".len()));
        assert!(!negated_before("异响", 0));
        assert!(!negated_before("异响", 1), "not a char boundary");
    }

    #[test]
    fn kinds_found_without_brand_words() {
        let v = Vocabulary::new();
        let cases: &[(&str, &[Fault])] = &[
            ("高速上方向盘突然打不动了", &[Fault::Steering]),
            ("停车场充电时起火，整车烧毁", &[Fault::Fire]),
            ("刹车踩到底也刹不住", &[Fault::Brakes]),
            (
                "My car stalled on the freeway, lost power steering too",
                &[Fault::PowerLoss, Fault::Steering],
            ),
            ("Firefox crashed again", &[]),
            ("recalling the trip", &[]),
            ("车主群里几十人准备去维权", &[Fault::Collective]),
            ("The brakes failed at 60 mph", &[Fault::Brakes]),
            ("今天天气不错", &[]),
            ("一脚刹车踩下去软绵绵的", &[Fault::Brakes]),
            ("the brake pedal felt soft and spongy", &[Fault::Brakes]),
            ("油门踩到底没反应", &[Fault::PowerLoss]),
            ("车子在路口自己往左偏，差点撞上护栏", &[Fault::Danger]),
            (
                "We almost crashed when the lane assist jerked the wheel",
                &[Fault::Danger],
            ),
            ("已经报警立案，受害者有七十多人", &[Fault::Collective]),
            ("有没有车主群？想交流一下改装", &[]),
        ];
        for (text, want) in cases {
            let mask = want.iter().fold(0, |m, f| m | f.bit());
            assert_eq!(v.scan(text), mask, "{text}");
        }
    }
}
