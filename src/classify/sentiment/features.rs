//! Text to hashed features, in one pass and without allocating.
//!
//! - **Normalisation** on the fly: full-width ASCII to ASCII (so `？` is `?`), lowercase, `’` to `'`.
//! - **Chinese and Japanese** (Han and kana): character 1-, 2- and 3-grams inside a run of such
//!   characters.
//! - **Latin script**: word 1- and 2-grams inside a clause (`n't` is kept with its word).
//! - **Emoji**: one feature per emoji (skin tones, variation selectors and joiners ignored).
//! - **Punctuation**: `!`, `?`, `…` (or `..`) and `~` are features; clause punctuation ends n-grams
//!   and negation scopes.
//! - **Negation**: after a negator (不 没 别 非 无 未 莫 勿, except in words like 非常 or 不但;
//!   not, no, never, n't, …) the next few tokens of the clause are in scope. An n-gram inside the
//!   scope is emitted twice: its plain feature with value [`FLIP`], so what the model learned for
//!   "good" counts against the text in "not good" even for words seldom seen negated, and a
//!   separate negated feature with value 1 that the training learns where the data has it.
//!
//! What it must not do: know about weights. A [`Sink`] receives the features; the classifier's
//! sink sums weights, the training's sink stores them.

/// The value of a plain feature inside a negation scope. Every feature value is 1 or `FLIP`,
/// which the classifier's integer dot product relies on.
pub const FLIP: f32 = -1.0;

/// How many Han characters a Chinese negator's scope covers ("不太满意" reaches 意).
const HAN_SCOPE: u8 = 4;
/// A lexicon word in capitals ("GREAT") counts this much more.
const CAPS_EMPHASIS: f32 = 1.5;
/// How many words an English negator's scope covers ("not very good at all").
const WORD_SCOPE: u8 = 3;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

// Namespaces, so that the character "好" and the word "好" or the bigram of two characters
// never share a hash by construction.
const NS_HAN1: u64 = 0x1111_0000_0000_0001;
const NS_HAN2: u64 = 0x2222_0000_0000_0002;
const NS_HAN3: u64 = 0x3333_0000_0000_0003;
const NS_WORD: u64 = 0x4444_0000_0000_0004;
const NS_WORD2: u64 = 0x5555_0000_0000_0005;
const NS_EMOJI: u64 = 0x6666_0000_0000_0006;
const NS_PUNCT: u64 = 0x7777_0000_0000_0007;
const NS_CUE: u64 = 0x8888_0000_0000_0008;
const NS_LEX: u64 = 0x9999_0000_0000_0009;
const NS_LEX_NEG: u64 = 0xAAAA_0000_0000_000A;
const NS_VADER: u64 = 0xBBBB_0000_0000_000B;
const NS_VADER_BIN: u64 = 0xCCCC_0000_0000_000C;
const NEG_SALT: u64 = 0xA5A5_5A5A_C3C3_3C3C;

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(K)
}

/// Maps a feature hash to one of `2^bits` buckets.
#[inline]
pub fn bucket(hash: u64, bits: u32) -> usize {
    let h = (hash ^ (hash >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (h >> (64 - bits)) as usize
}

/// Receives the features of one text.
pub trait Sink {
    /// One feature occurrence: its hash and its value (1, or [`FLIP`] in a negation scope).
    fn feature(&mut self, hash: u64, value: f32);
}

impl<T: Sink + ?Sized> Sink for &mut T {
    #[inline(always)]
    fn feature(&mut self, hash: u64, value: f32) {
        (**self).feature(hash, value);
    }
}

/// What the extractor reports besides the features.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Number of features emitted (for length normalisation).
    pub count: u32,
    /// The text asks something (`?` or `？`, or 吗/呢 ending a clause).
    pub question: bool,
    /// Sum of valence / 4 of the lexicon words outside negation scopes.
    pub lexicon: f32,
    /// The same inside negation scopes.
    pub lexicon_negated: f32,
}

/// The hashes of the two dense lexicon features, whose values are [`Summary::lexicon`] and
/// [`Summary::lexicon_negated`]. They are not length-normalised: like VADER's sum of valences,
/// two strong words are stronger than one however long the text.
pub const LEXICON_HASHES: [u64; 2] = [NS_LEX, NS_LEX_NEG];

/// The hash of the dense feature whose value is VADER's compound score (see `vader.rs`).
pub const VADER_HASH: u64 = NS_VADER;

/// The hash of the indicator feature of VADER's compound score rounded to a fifth (-5..=5):
/// lets the model learn a non-linear use of the score (a compound near 0 means "neutral" more
/// than "slightly positive").
#[inline]
pub fn vader_bin_hash(compound: f32) -> u64 {
    mix(NS_VADER_BIN, ((compound * 5.0).round() as i64 + 5) as u64)
}

/// The hash of the feature for the cue at `index` of the cue table.
#[inline]
pub fn cue_hash(index: usize) -> u64 {
    mix(NS_CUE, index as u64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Han,
    Word,
    Emoji,
    /// Ignored: variation selectors, joiners, skin tones, marks.
    Skip,
    /// Ends a clause: n-grams and negation scopes stop here.
    Clause,
    /// Separates tokens within a clause: spaces, quotes, `#`, `@`.
    Space,
}

#[inline]
fn normalise(c: char) -> char {
    match c {
        // Han, kana and CJK punctuation first: most characters of a Chinese text, and the
        // Unicode case tables below are not free.
        '\u{3000}' => ' ',
        '\u{2E80}'..='\u{9FFF}' => c,
        'A'..='Z' => c.to_ascii_lowercase(),
        '\u{FF01}'..='\u{FF5E}' => {
            let a = char::from_u32(c as u32 - 0xFEE0).unwrap_or(c);
            a.to_ascii_lowercase()
        }
        '\u{2019}' | '\u{2018}' | '\u{00B4}' => '\'',
        c if c.is_ascii() => c,
        c if c.is_uppercase() => c.to_lowercase().next().unwrap_or(c),
        c => c,
    }
}

/// `char::is_uppercase`, without the Unicode table look-up for ASCII and for Han, kana and CJK
/// punctuation (most characters of a Chinese text), which have no case.
#[inline]
fn is_upper(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_uppercase()
    } else if ('\u{2E80}'..='\u{9FFF}').contains(&c) {
        false
    } else {
        c.is_uppercase()
    }
}

#[inline(always)]
fn classify_char(c: char) -> Class {
    let u = c as u32;
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() || c == '\'' {
            Class::Word
        } else if matches!(
            c,
            '.' | ',' | '!' | '?' | ';' | ':' | '(' | ')' | '[' | ']' | '\n' | '\r' | '~'
        ) {
            Class::Clause
        } else {
            Class::Space
        };
    }
    match u {
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF => Class::Han,
        0x3040..=0x30FF | 0x3005 => Class::Han,
        0xFE00..=0xFE0F | 0x200B..=0x200D | 0x1F3FB..=0x1F3FF | 0x0300..=0x036F => Class::Skip,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B50 | 0x2B55 => Class::Emoji,
        // CJK and general punctuation: 。、「」【】《》…, ‘ ’ “ ” — and the like.
        0x3001..=0x3003 | 0x3008..=0x3011 | 0x2026 | 0x2014 | 0xFF5E => Class::Clause,
        _ if c.is_alphanumeric() => Class::Word,
        _ => Class::Space,
    }
}

/// The Han characters the extractor looks at twice: the negators, and 吗 and 呢 (a question
/// when they end a clause).
const SPECIAL_HAN: [char; 10] = ['不', '没', '无', '非', '别', '未', '莫', '勿', '吗', '呢'];

/// [`SPECIAL_HAN`] as a bitmap over U+4E00..U+9FFF.
const SPECIAL_HAN_BITS: [u64; 0x5200 / 64] = {
    let mut bits = [0u64; 0x5200 / 64];
    let mut i = 0;
    while i < SPECIAL_HAN.len() {
        let k = SPECIAL_HAN[i] as usize - 0x4E00;
        bits[k / 64] |= 1 << (k % 64);
        i += 1;
    }
    bits
};

/// Whether `c` is in [`SPECIAL_HAN`]: one bit test for a character of U+4E00..U+9FFF.
#[inline(always)]
fn is_special_han(c: char) -> bool {
    let k = (c as usize).wrapping_sub(0x4E00);
    k < 0x5200 && SPECIAL_HAN_BITS[k / 64] & (1 << (k % 64)) != 0
}

/// Chinese negators, and the words starting with one that do not negate.
#[inline]
fn han_negator(c: char, next: Option<char>) -> bool {
    match c {
        '不' => !matches!(
            next,
            Some('但' | '仅' | '管' | '论' | '过' | '久' | '断' | '愧' | '得' | '禁' | '停')
        ),
        '没' => true,
        '无' => !matches!(next, Some('论' | '线' | '限' | '锡' | '人' | '比')),
        '非' => !matches!(next, Some('常' | '洲' | '凡')),
        '别' => !matches!(next, Some('人' | '的' | '克' | '墅' | '致' | '说')),
        '未' => !matches!(next, Some('来')),
        '莫' | '勿' => true,
        _ => false,
    }
}

/// English negators, compared by hash so a word is never materialised.
const NEGATOR_WORDS: [&str; 28] = [
    "not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "hardly",
    "cannot", "dont", "cant", "wont", "isnt", "didnt", "doesnt", "wasnt", "arent", "werent",
    "couldnt", "shouldnt", "wouldnt", "aint", "havent", "hasnt", "hadnt", "nope",
];
/// "but", "however": what follows them counts more than what precedes (as in VADER).
const CONTRAST_WORDS: [&str; 2] = ["but", "however"];

/// What the extractor knows about a word, found with one look-up by its feature hash: its
/// valence (NaN when it has none), whether it negates, whether it is a contrast word.
#[derive(Clone, Copy)]
struct WordInfo {
    valence: f32,
    negator: bool,
    contrast: bool,
}

impl WordInfo {
    const NONE: WordInfo = WordInfo {
        valence: f32::NAN,
        negator: false,
        contrast: false,
    };
}

/// The lexicon, the negators and the contrast words in one open-addressing table keyed by the
/// word's feature hash (0 marks an empty slot), behind a bitmap of the hashes' top bits: most
/// words are in none of them, and the bitmap (8 KiB) answers from the L1 cache.
#[derive(Clone)]
struct Words {
    bloom: Box<[u64]>,
    keys: Box<[u64]>,
    info: Box<[WordInfo]>,
}

const BLOOM_BITS: u32 = 16;

impl Words {
    fn new(lexicon: &Lexicon) -> Self {
        let mut entries: Vec<(u64, WordInfo)> = Vec::new();
        let mut index: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        let mut upsert = |h: u64, f: &dyn Fn(&mut WordInfo)| {
            let i = *index.entry(h).or_insert_with(|| {
                entries.push((h, WordInfo::NONE));
                entries.len() - 1
            });
            f(&mut entries[i].1);
        };
        for (k, v) in lexicon.keys.iter().zip(&lexicon.values) {
            if *k != 0 {
                let v = *v;
                upsert(*k, &|i| i.valence = v);
            }
        }
        for w in NEGATOR_WORDS {
            upsert(word_hash(w), &|i| i.negator = true);
        }
        for w in CONTRAST_WORDS {
            upsert(word_hash(w), &|i| i.contrast = true);
        }
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut keys = vec![0u64; size];
        let mut info = vec![WordInfo::NONE; size];
        let mut bloom = vec![0u64; 1 << (BLOOM_BITS - 6)];
        for (k, v) in entries {
            let b = (k >> (64 - BLOOM_BITS)) as usize;
            bloom[b / 64] |= 1 << (b % 64);
            let mut i = (k as usize) & (size - 1);
            while keys[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            keys[i] = k;
            info[i] = v;
        }
        Self {
            bloom: bloom.into_boxed_slice(),
            keys: keys.into_boxed_slice(),
            info: info.into_boxed_slice(),
        }
    }

    #[inline]
    fn get(&self, h: u64) -> WordInfo {
        let b = (h >> (64 - BLOOM_BITS)) as usize;
        if self.bloom[b / 64] & (1 << (b % 64)) == 0 {
            return WordInfo::NONE;
        }
        let mask = self.keys.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            match self.keys[i] {
                0 => return WordInfo::NONE,
                k if k == h => return self.info[i],
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// Word valences (-4..4, as rated by people), keyed by the word's feature hash: an open
/// addressing table, so a lookup is one or two probes and never hashes the word again.
#[derive(Clone, Default)]
pub struct Lexicon {
    keys: Vec<u64>,
    values: Vec<f32>,
}

impl Lexicon {
    /// Parses `word<TAB>valence` lines; `#` starts a comment line. Entries that are not one
    /// word as the extractor sees it (phrases, emoticons) are skipped.
    pub fn parse(src: &str) -> Self {
        let entries: Vec<(u64, f32)> = src
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (word, value) = l.split_once('\t')?;
                let value: f32 = value.split('\t').next()?.trim().parse().ok()?;
                let word: String = word.chars().map(normalise).collect();
                let whole =
                    !word.is_empty() && word.chars().all(|c| classify_char(c) == Class::Word);
                whole.then(|| (word_hash(&word), value))
            })
            .collect();
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut keys = vec![0u64; size];
        let mut values = vec![0f32; size];
        for (k, v) in entries {
            let mut i = (k as usize) & (size - 1);
            while keys[i] != 0 && keys[i] != k {
                i = (i + 1) & (size - 1);
            }
            keys[i] = k;
            values[i] = v;
        }
        Self { keys, values }
    }

    /// The valence of the word with feature hash `h`.
    #[inline]
    pub fn get(&self, h: u64) -> Option<f32> {
        if self.keys.is_empty() {
            return None;
        }
        let mask = self.keys.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            match self.keys[i] {
                0 => return None,
                k if k == h => return Some(self.values[i]),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.keys.iter().filter(|k| **k != 0).count()
    }

    /// Whether it has no word.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn word_hash(word: &str) -> u64 {
    word.chars().fold(NS_WORD, |h, c| mix(h, c as u64))
}

/// Turns text into features. Cheap to build; holds the negator hashes and the word lexicon.
#[derive(Clone)]
pub struct Extractor {
    words: Words,
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor").finish_non_exhaustive()
    }
}

/// The per-text state of the single pass.
struct State<S: Sink> {
    sink: S,
    count: u32,
    // The current run of Han characters: the last two, and how long the run is.
    han_prev: [u64; 2],
    han_run: u32,
    // The current word: its hash, its length, and its last three characters (for "n't").
    word: u64,
    word_len: u32,
    word_tail: [char; 3],
    // Whether every letter of the current word is a capital (emphasis), and how many letters.
    word_caps: bool,
    word_letters: u32,
    // Multiplier of lexicon valences from here on (1.5 after "but").
    contrast: f32,
    // The previous word in the clause, for bigrams, and whether it was negated.
    prev_word: Option<(u64, bool)>,
    // Negation: tokens of scope left, and how many consecutive tokens are in scope so far.
    scope_left: u8,
    in_scope: u32,
    dots: u32,
    question: bool,
    lexicon: f32,
    lexicon_negated: f32,
}

impl<S: Sink> State<S> {
    #[inline(always)]
    fn emit(&mut self, hash: u64, negated: bool) {
        self.count += 1;
        if negated {
            self.sink.feature(hash, FLIP);
            self.sink.feature(hash ^ NEG_SALT, 1.0);
            self.count += 1;
        } else {
            self.sink.feature(hash, 1.0);
        }
    }

    /// Advances the negation scope by one token; returns how many consecutive tokens ending
    /// with this one are in scope.
    #[inline(always)]
    fn step_scope(&mut self) -> u32 {
        if self.scope_left > 0 {
            self.scope_left -= 1;
            self.in_scope += 1;
        } else {
            self.in_scope = 0;
        }
        self.in_scope
    }

    fn end_clause(&mut self) {
        self.scope_left = 0;
        self.in_scope = 0;
        self.prev_word = None;
    }

    /// One Han character; `next` gives the character after it (normalised), which only a
    /// negator or a final 吗/呢 needs.
    #[inline(always)]
    fn han(&mut self, c: char, next: impl Fn() -> Option<char>) {
        let code = c as u64;
        let scoped = self.step_scope();
        self.emit(mix(NS_HAN1, code), scoped >= 1);
        if self.han_run >= 1 {
            self.emit(mix(mix(NS_HAN2, self.han_prev[1]), code), scoped >= 2);
        }
        if self.han_run >= 2 {
            let h = mix(mix(mix(NS_HAN3, self.han_prev[0]), self.han_prev[1]), code);
            self.emit(h, scoped >= 3);
        }
        self.han_prev = [self.han_prev[1], code];
        self.han_run += 1;
        if is_special_han(c) {
            self.special_han(c, next);
        }
    }

    /// A negator or a final 吗/呢.
    #[inline(never)]
    fn special_han(&mut self, c: char, next: impl Fn() -> Option<char>) {
        if han_negator(c, next()) {
            self.scope_left = HAN_SCOPE;
            self.in_scope = 0;
        }
        if matches!(c, '吗' | '呢') && !next().is_some_and(|n| classify_char(n) == Class::Han) {
            self.question = true;
        }
    }

    #[inline(always)]
    fn word_char(&mut self, c: char, upper: bool, alphabetic: bool) {
        if self.word_len == 0 {
            self.word = NS_WORD;
            self.word_caps = true;
            self.word_letters = 0;
        }
        if alphabetic {
            self.word_letters += 1;
            self.word_caps &= upper;
        }
        self.word = mix(self.word, c as u64);
        self.word_len += 1;
        self.word_tail = [self.word_tail[1], self.word_tail[2], c];
    }

    #[inline(always)]
    fn end_word(&mut self, words: &Words) {
        if self.word_len == 0 {
            return;
        }
        self.finish_word(words);
    }

    fn finish_word(&mut self, words: &Words) {
        let h = self.word;
        let scoped = self.step_scope() >= 1;
        self.emit(h, scoped);
        let info = words.get(h);
        if !info.valence.is_nan() {
            let caps = if self.word_caps && self.word_letters >= 2 {
                CAPS_EMPHASIS
            } else {
                1.0
            };
            let v = info.valence / 4.0 * caps * self.contrast;
            if scoped {
                self.lexicon_negated += v;
            } else {
                self.lexicon += v;
            }
        }
        if info.contrast {
            self.lexicon *= 0.5;
            self.lexicon_negated *= 0.5;
            self.contrast = 1.5;
        }
        if let Some((prev, prev_scoped)) = self.prev_word {
            self.emit(mix(mix(NS_WORD2, prev), h), scoped && prev_scoped);
        }
        self.prev_word = Some((h, scoped));
        if info.negator || self.word_tail == ['n', '\'', 't'] {
            self.scope_left = WORD_SCOPE;
            self.in_scope = 0;
        }
        self.word_len = 0;
        self.word_tail = ['\0'; 3];
    }

    /// One character of any class but `Skip`, normalised (`c`), with whether the original was
    /// a capital; `next` gives the next character, normalised.
    #[inline(always)]
    fn step(
        &mut self,
        words: &Words,
        c: char,
        class: Class,
        upper: bool,
        next: impl Fn() -> Option<char>,
    ) {
        if class != Class::Word {
            self.end_word(words);
        }
        if class != Class::Han {
            self.han_run = 0;
        }
        if c != '.' {
            self.dots = 0;
        }
        match class {
            Class::Han => self.han(c, next),
            Class::Word => self.word_char(c, upper, c.is_alphabetic()),
            Class::Emoji => self.emit(mix(NS_EMOJI, c as u64), false),
            Class::Skip | Class::Space => {}
            Class::Clause => {
                match c {
                    '!' | '~' | '…' => self.emit(mix(NS_PUNCT, c as u64), false),
                    '?' => {
                        self.question = true;
                        self.emit(mix(NS_PUNCT, '?' as u64), false);
                    }
                    '.' => {
                        self.dots += 1;
                        if self.dots == 2 {
                            self.emit(mix(NS_PUNCT, '…' as u64), false);
                        }
                    }
                    _ => {}
                }
                self.end_clause();
            }
        }
    }
}

/// The class of each ASCII character.
const ASCII_CLASS: [Class; 128] = {
    let mut t = [Class::Space; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() || c == b'\'' {
            Class::Word
        } else if matches!(
            c,
            b'.' | b','
                | b'!'
                | b'?'
                | b';'
                | b':'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'\n'
                | b'\r'
                | b'~'
        ) {
            Class::Clause
        } else {
            Class::Space
        };
        b += 1;
    }
    t
};

/// The character starting at byte `at` of `text`, normalised.
#[inline]
fn next_at(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|r| r.chars().next()).map(normalise)
}

impl Extractor {
    /// Builds the extractor without a lexicon.
    pub fn new() -> Self {
        Self::with_lexicon(Lexicon::default())
    }

    /// Builds the extractor with a word lexicon: each word found emits one shared feature
    /// (another inside a negation scope) with the word's valence / 4 as its value.
    pub fn with_lexicon(lexicon: Lexicon) -> Self {
        Self {
            words: Words::new(&lexicon),
        }
    }

    /// Emits the features of `text` into `sink`.
    ///
    /// One pass over the bytes: ASCII characters are classified by a table, the common Han
    /// characters (U+4E00..U+9FFF) by one range test, the rest by `normalise` and
    /// `classify_char`. The character after a Han character is decoded only when a negator or
    /// a final 吗/呢 needs it.
    pub fn extract<S: Sink>(&self, text: &str, sink: &mut S) -> Summary {
        self.extract_into(text, sink).0
    }

    /// [`Extractor::extract`] with the sink moved in and given back: a small sink (a sum) then
    /// lives in registers during the pass instead of behind a reference.
    #[inline]
    pub fn extract_into<S: Sink>(&self, text: &str, sink: S) -> (Summary, S) {
        let mut st = State {
            sink,
            count: 0,
            han_prev: [0; 2],
            han_run: 0,
            word: 0,
            word_len: 0,
            word_tail: ['\0'; 3],
            prev_word: None,
            scope_left: 0,
            in_scope: 0,
            dots: 0,
            question: false,
            lexicon: 0.0,
            lexicon_negated: 0.0,
            word_caps: false,
            word_letters: 0,
            contrast: 1.0,
        };
        let words = &self.words;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                i += 1;
                let class = ASCII_CLASS[b as usize];
                if class == Class::Word {
                    // The commonest case, inlined: a letter or digit inside a word.
                    if st.han_run != 0 {
                        st.han_run = 0;
                    }
                    st.dots = 0;
                    let c = b.to_ascii_lowercase();
                    st.word_char(c as char, b.is_ascii_uppercase(), c.is_ascii_alphabetic());
                } else {
                    st.step(words, b as char, class, false, || None);
                }
                continue;
            }
            let c = text[i..].chars().next().unwrap_or('\0');
            i += c.len_utf8();
            if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
                st.end_word(words);
                st.dots = 0;
                st.han(c, || next_at(text, i));
                continue;
            }
            let n = normalise(c);
            let class = classify_char(n);
            if class == Class::Skip {
                continue;
            }
            st.step(words, n, class, is_upper(c), || next_at(text, i));
        }
        st.end_word(words);
        let summary = Summary {
            count: st.count,
            question: st.question,
            lexicon: st.lexicon,
            lexicon_negated: st.lexicon_negated,
        };
        (summary, st.sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(u64, f32)>);
    impl Sink for Collect {
        fn feature(&mut self, hash: u64, value: f32) {
            self.0.push((hash, value));
        }
    }

    fn features(text: &str) -> (Vec<(u64, f32)>, Summary) {
        let mut c = Collect::default();
        let s = Extractor::new().extract(text, &mut c);
        (c.0, s)
    }

    fn han1(c: char) -> u64 {
        mix(NS_HAN1, c as u64)
    }

    fn word(w: &str) -> u64 {
        w.chars().fold(NS_WORD, |h, c| mix(h, c as u64))
    }

    #[test]
    fn counts_ngrams() {
        let table: &[(&str, usize)] = &[
            ("", 0),
            ("好", 1),
            ("很好", 3),
            ("很好吃", 6),
            ("很好。吃", 4),
            ("good car", 3),
            ("good. car", 2),
            ("这车good", 4),
            ("👍👍", 2),
            ("wow!", 2),
        ];
        for (text, n) in table {
            let (f, s) = features(text);
            assert_eq!(f.len(), *n, "{text}: {f:?}");
            assert_eq!(s.count as usize, *n, "{text}");
        }
    }

    #[test]
    fn negation_flips_the_scope() {
        let table: &[(&str, u64, f32)] = &[
            ("好", han1('好'), 1.0),
            ("不好", han1('好'), FLIP),
            ("非常好", han1('好'), 1.0),
            ("不但好", han1('好'), 1.0),
            ("没有问题", han1('题'), FLIP),
            ("不，好", han1('好'), 1.0),
            ("good", word("good"), 1.0),
            ("not good", word("good"), FLIP),
            ("isn't good", word("good"), FLIP),
            ("don’t like it", word("like"), FLIP),
            ("not. good", word("good"), 1.0),
            ("not one bit good", word("good"), FLIP),
            ("not at all that good", word("good"), 1.0),
            ("不nice", word("nice"), FLIP),
        ];
        for (text, hash, value) in table {
            let (f, _) = features(text);
            let got = f.iter().find(|(h, _)| h == hash).map(|(_, v)| *v);
            assert_eq!(got, Some(*value), "{text}: {f:?}");
        }
    }

    #[test]
    fn normalises() {
        assert_eq!(features("ＧＯＯＤ？").0, features("good?").0);
        assert_eq!(features("Good").0, features("good").0);
        assert!(features("有四驱版本吗").1.question);
        assert!(features("what time?").1.question);
        assert!(!features("吗啡").1.question);
    }
}
