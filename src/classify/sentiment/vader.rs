//! VADER's rules, ported from vaderSentiment 3.3.2 (Hutto & Gilbert, ICWSM 2014; MIT licence,
//! the lexicon and its licence are in `lexicon_en.tsv`): the compound score in -1..1 of an
//! English text, which the learned model takes as a feature.
//!
//! Ported faithfully, quirks included, so that the score is VADER's own: whitespace tokens with
//! ASCII punctuation stripped (unless that leaves two characters or fewer, which keeps
//! emoticons); lexicon valences; boosters and dampeners up to three words back (×0.95, ×0.9);
//! ALL-CAPS emphasis when only some words are in capitals; negation up to three words back
//! (×−0.74), "no" before a word, "never so/this" (×1.25), "without doubt"; "least"; the special
//! idioms ("the bomb", "yeah right", "kiss of death", …); "but" (what precedes ×0.5, what follows
//! ×1.5, with VADER's first-equal-value indexing); `!` (up to 4 × 0.292) and `??`+ amplifiers;
//! normalisation `x / √(x² + 15)`. One difference: VADER first replaces each emoji by its
//! English description (a 3,500-line table); this port leaves emoji to herald's cue table
//! (`cues.rs`), which gives them fixed priors.
//!
//! Pure and allocation-free per text (tokens are kept in a fixed array of at most
//! [`MAX_TOKENS`]; the rest of a longer text is not scored). Every word table (lexicon,
//! boosters, negations) is one open-addressing table, so a token costs one look-up, done once.
//! Must not know about the learned model.

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;

/// Tokens scored per text. A 200-character mention has about 40 and a 280-character tweet at
/// most 140; a longer text is scored on its first `MAX_TOKENS` tokens (punctuation amplifiers
/// still count the whole text).
pub const MAX_TOKENS: usize = 160;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// VADER's SPECIAL_CASES. The one-word entries ("badass") can never equal the two- and
/// three-word sequences VADER compares them with, so they are left out.
const SPECIAL_CASES: &[(&[&str], f64)] = &[
    (&["the", "shit"], 3.0),
    (&["the", "bomb"], 3.0),
    (&["bad", "ass"], 1.5),
    (&["bus", "stop"], 0.0),
    (&["yeah", "right"], -2.0),
    (&["kiss", "of", "death"], -1.5),
    (&["to", "die", "for"], 3.0),
    (&["beating", "heart"], 3.5),
];
/// The booster entries of more than one word, as word sequences.
const BOOSTER_PHRASES: &[(&[&str], f64)] = &[
    (&["just", "enough"], B_DECR),
    (&["kind", "of"], B_DECR),
    (&["sort", "of"], B_DECR),
];

/// FNV-1a over bytes: the key of a word in the tables (the same on every build).
const fn fnv_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

const fn key(s: &str) -> u64 {
    fnv_bytes(FNV0, s.as_bytes())
}

/// The key of a token that no table holds.
const NO_KEY: u64 = 0;

/// The key of `token` lowercased as Python's `str.lower` does (per character, Unicode). Every
/// key VADER can match is ASCII (its two non-ASCII entries, ":Þ" and ":-Þ", have a capital and
/// so never match a lowercased token), and the only non-ASCII character that lowercases to
/// ASCII is the Kelvin sign: any other token gets [`NO_KEY`] without lowercasing it (Chinese
/// text is mostly such tokens, and Unicode case tables are not free).
fn lower_key(token: &str) -> u64 {
    if !token.is_ascii() && !token.chars().all(|c| c.is_ascii() || c == '\u{212A}') {
        return NO_KEY;
    }
    if token.is_ascii() {
        let mut h = FNV0;
        for &b in token.as_bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        return h;
    }
    let mut h = FNV0;
    let mut buf = [0u8; 4];
    for c in token.chars().flat_map(char::to_lowercase) {
        h = fnv_bytes(h, c.encode_utf8(&mut buf).as_bytes());
    }
    h
}

const K_NO: u64 = key("no");
const K_OR: u64 = key("or");
const K_NOR: u64 = key("nor");
const K_KIND: u64 = key("kind");
const K_OF: u64 = key("of");
const K_NEVER: u64 = key("never");
const K_SO: u64 = key("so");
const K_THIS: u64 = key("this");
const K_WITHOUT: u64 = key("without");
const K_DOUBT: u64 = key("doubt");
const K_LEAST: u64 = key("least");
const K_AT: u64 = key("at");
const K_VERY: u64 = key("very");
const K_BUT: u64 = key("but");

/// What the word tables say about one key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The lexicon valence (0 when the key is not in the lexicon).
    valence: f64,
    /// The booster or dampener increment, 0 when the key is not one (none is 0).
    booster: f64,
    /// [`LEXICON`], [`NEGATES`], [`IDIOM`]. A whole word, so that a token has no padding: a
    /// copy of a struct with padding after a one-byte field reads back bytes just written one by
    /// one, which stalls store forwarding.
    flags: u64,
}

/// The key is in the lexicon.
const LEXICON: u64 = 1;
/// The key is in VADER's negation list.
const NEGATES: u64 = 2;
/// The key is the first word of one of VADER's idioms or booster phrases ("the bomb", "kind of").
const IDIOM: u64 = 4;
/// The token is upper case (Python's `str.isupper()`).
const UPPER: u64 = 8;
/// The token holds "n't" (any case), which VADER counts as a negation.
const NT: u64 = 16;
/// The token is ASCII (else [`UPPER`] is found later, only when needed).
const ASCII: u64 = 32;

impl Entry {
    /// All bits zero, so an array of empty tokens is one `memset`.
    const NONE: Entry = Entry {
        valence: 0.0,
        booster: 0.0,
        flags: 0,
    };
}

/// Open addressing by key ([`NO_KEY`] marks an empty slot and is never stored), behind a
/// bitmap of the keys' top bits: most tokens are in no table, and the bitmap (8 KiB) answers
/// them from the L1 cache where the keys (128 KiB) would not.
#[derive(Clone)]
struct Table {
    bloom: Box<[u64]>,
    keys: Box<[u64]>,
    entries: Box<[Entry]>,
}

const BLOOM_BITS: u32 = 16;

#[inline(always)]
fn bloom_bit(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BLOOM_BITS)) as usize
}

impl Table {
    fn new(items: &[(u64, Entry)]) -> Self {
        let size = (items.len() * 2).next_power_of_two().max(16);
        let mut keys = vec![NO_KEY; size];
        let mut entries = vec![Entry::NONE; size];
        let mut bloom = vec![0u64; 1 << (BLOOM_BITS - 6)];
        for &(k, e) in items {
            let b = bloom_bit(k);
            bloom[b / 64] |= 1 << (b % 64);
            let mut i = (k as usize) & (size - 1);
            while keys[i] != NO_KEY {
                i = (i + 1) & (size - 1);
            }
            keys[i] = k;
            entries[i] = e;
        }
        Self {
            bloom: bloom.into_boxed_slice(),
            keys: keys.into_boxed_slice(),
            entries: entries.into_boxed_slice(),
        }
    }

    #[inline]
    fn get(&self, key: u64) -> Entry {
        let b = bloom_bit(key);
        if key == NO_KEY || self.bloom[b / 64] & (1 << (b % 64)) == 0 {
            return Entry::NONE;
        }
        let mask = self.keys.len() - 1;
        let mut i = (key as usize) & mask;
        loop {
            match self.keys[i] {
                NO_KEY => return Entry::NONE,
                k if k == key => return self.entries[i],
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// One token of the text. Its flags are one word, built in a register: separate `bool` fields
/// written one by one and read back as a word stalled store forwarding.
#[derive(Debug, Clone, Copy)]
struct Token {
    /// [`lower_key`] of the text.
    low: u64,
    /// What the tables say about `low`; its flags also carry [`UPPER`], [`NT`] and [`ASCII`].
    entry: Entry,
}

impl Token {
    const EMPTY: Token = Token {
        low: NO_KEY,
        entry: Entry::NONE,
    };

    #[inline]
    fn in_lexicon(&self) -> bool {
        self.entry.flags & LEXICON != 0
    }

    #[inline]
    fn is_booster(&self) -> bool {
        self.entry.booster != 0.0
    }

    #[inline]
    fn upper(&self) -> bool {
        self.entry.flags & UPPER != 0
    }

    #[inline]
    fn idiom(&self) -> bool {
        self.entry.flags & IDIOM != 0
    }
}

/// The compiled rule tables.
#[derive(Clone)]
pub struct Vader {
    /// Lexicon valence by the key of the entry as written (VADER looks up the lowercased
    /// token, so an entry with a capital, such as ":D", never matches: kept so), boosters and
    /// negations.
    table: Table,
    lexicon_len: usize,
    /// SPECIAL_CASES and BOOSTER_PHRASES as keys.
    special: Vec<(Vec<u64>, f64)>,
    booster_phrases: Vec<(Vec<u64>, f64)>,
}

impl std::fmt::Debug for Vader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vader")
            .field("lexicon", &self.lexicon_len)
            .finish_non_exhaustive()
    }
}

/// Python's `str.isupper()`: at least one cased character, and no lowercase one.
fn is_upper(s: &str) -> bool {
    let mut upper = false;
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_lowercase() {
                return false;
            }
            upper |= c.is_ascii_uppercase();
            continue;
        }
        // Han, kana and CJK punctuation have no case: skip the table look-ups.
        if ('\u{2E80}'..='\u{9FFF}').contains(&c) {
            continue;
        }
        if c.is_lowercase() {
            return false;
        }
        upper |= c.is_uppercase();
    }
    upper
}

/// VADER's `_strip_punc_if_word`: strip `string.punctuation` from both ends unless two
/// characters or fewer would be left.
fn strip_punct(token: &str) -> &str {
    let b = token.as_bytes();
    let (mut from, mut to) = (0, b.len());
    while from < to && b[from].is_ascii_punctuation() {
        from += 1;
    }
    while to > from && b[to - 1].is_ascii_punctuation() {
        to -= 1;
    }
    if from == 0 && to == b.len() {
        // Nothing to strip: kept or stripped, the token is the same.
        return token;
    }
    // ASCII punctuation bytes are whole characters, so `from..to` are character boundaries.
    let stripped = &token[from..to];
    if stripped.chars().nth(2).is_none() {
        token
    } else {
        stripped
    }
}

fn normalize(score: f64) -> f64 {
    (score / (score * score + 15.0).sqrt()).clamp(-1.0, 1.0)
}

impl Vader {
    /// Builds the tables from `word<TAB>valence` lines (`#` starts a comment line).
    pub fn new(lexicon_tsv: &str) -> Self {
        let mut items: Vec<(u64, Entry)> = Vec::new();
        let mut index: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        let mut upsert = |k: u64, f: &dyn Fn(&mut Entry)| {
            if k == NO_KEY {
                return;
            }
            let i = *index.entry(k).or_insert_with(|| {
                items.push((k, Entry::NONE));
                items.len() - 1
            });
            f(&mut items[i].1);
        };
        let mut lexicon = std::collections::HashMap::new();
        for line in lexicon_tsv.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            if let (Some(w), Some(v)) = (cols.next(), cols.next()) {
                if let Ok(v) = v.trim().parse::<f64>() {
                    if !v.is_nan() {
                        // A later line for the same word wins, as in a dict.
                        lexicon.insert(key(w), v);
                    }
                }
            }
        }
        let lexicon_len = lexicon.len();
        let mut lexicon: Vec<(u64, f64)> = lexicon.into_iter().collect();
        lexicon.sort_by_key(|(k, _)| *k);
        for (k, v) in lexicon {
            upsert(k, &|e| {
                e.valence = v;
                e.flags |= LEXICON;
            });
        }
        for &(w, v) in BOOSTERS {
            upsert(key(w), &|e| e.booster = v);
        }
        for &w in NEGATE {
            upsert(key(w), &|e| e.flags |= NEGATES);
        }
        for (phrase, _) in SPECIAL_CASES.iter().chain(BOOSTER_PHRASES) {
            upsert(key(phrase[0]), &|e| e.flags |= IDIOM);
        }
        let keys = |ws: &[&str]| ws.iter().map(|w| key(w)).collect::<Vec<u64>>();
        Self {
            table: Table::new(&items),
            lexicon_len,
            special: SPECIAL_CASES.iter().map(|(p, v)| (keys(p), *v)).collect(),
            booster_phrases: BOOSTER_PHRASES.iter().map(|(p, v)| (keys(p), *v)).collect(),
        }
    }

    /// One token (punctuation stripped): its key and entry, whether it holds "n't", and for an
    /// ASCII token whether it is upper case, all in one walk over its bytes.
    #[inline]
    fn token(&self, t: &str) -> Token {
        let nt = |t: &str| {
            t.as_bytes()
                .windows(3)
                .any(|w| w.eq_ignore_ascii_case(b"n't"))
        };
        if !t.is_ascii() {
            let low = lower_key(t);
            let mut entry = self.table.get(low);
            // A long Chinese token seldom holds an apostrophe: look for one first (memchr reads
            // 32 bytes at a time) before comparing every window.
            if memchr::memchr(b'\'', t.as_bytes()).is_some() && nt(t) {
                entry.flags |= NT;
            }
            return Token { low, entry };
        }
        let (mut h, mut lower, mut upper, mut last3) = (FNV0, false, false, 0u32);
        let mut has_nt = false;
        for &b in t.as_bytes() {
            let l = b.to_ascii_lowercase();
            h = (h ^ u64::from(l)).wrapping_mul(0x0100_0000_01b3);
            lower |= b.is_ascii_lowercase();
            upper |= b.is_ascii_uppercase();
            last3 = ((last3 << 8) | u32::from(l)) & 0x00FF_FFFF;
            has_nt |= last3 == u32::from_be_bytes([0, b'n', b'\'', b't']);
        }
        let mut entry = self.table.get(h);
        entry.flags |= ASCII | (u64::from(upper && !lower) * UPPER) | (u64::from(has_nt) * NT);
        Token { low: h, entry }
    }

    /// VADER's `negated([word])` for one word.
    fn negated(&self, t: &Token) -> bool {
        t.entry.flags & (NT | NEGATES) != 0
    }

    fn scalar_inc_dec(&self, t: &Token, valence: f64, cap_diff: bool) -> f64 {
        if !t.is_booster() {
            return 0.0;
        }
        let b = t.entry.booster;
        let mut scalar = if valence < 0.0 { -b } else { b };
        if t.upper() && cap_diff {
            scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        scalar
    }

    /// The compound score of `text` in -1..1, as `SentimentIntensityAnalyzer.polarity_scores`
    /// gives it (rounded to 4 decimals, as VADER rounds).
    pub fn compound(&self, text: &str) -> f32 {
        self.score(text).unwrap_or(0.0)
    }

    /// The compound score, or `None` when no token of the text is in the lexicon (VADER then
    /// says 0, which for a Chinese text means nothing at all).
    pub fn score(&self, text: &str) -> Option<f32> {
        // Every lexicon key is ASCII, and the Kelvin sign is the one other character that
        // lowercases to ASCII: a text with neither a printable ASCII character nor that sign has
        // no token in the lexicon (most Chinese mentions).
        if !text.bytes().any(|b| b.is_ascii_graphic()) && !text.contains('\u{212A}') {
            return None;
        }
        // One pass over the tokens finds their keys and table entries, and the case and "n't"
        // of the ASCII ones (most of the rest of a Chinese brand's mentions have no lexicon word:
        // the case of a non-ASCII token, which takes a walk through its characters, is found
        // only when some token is in the lexicon).
        let mut tokens = [Token::EMPTY; MAX_TOKENS];
        let mut spans = [(0u32, 0u32); MAX_TOKENS];
        let mut n = 0;
        let mut any = false;
        let base = text.as_ptr() as usize;
        for t in words(text).take(MAX_TOKENS) {
            let tok = self.token(t);
            any |= tok.in_lexicon();
            tokens[n] = tok;
            spans[n] = ((t.as_ptr() as usize - base) as u32, t.len() as u32);
            n += 1;
        }
        if !any {
            return None;
        }
        let mut caps = 0;
        for (tok, &(start, len)) in tokens[..n].iter_mut().zip(&spans) {
            if tok.entry.flags & ASCII == 0 {
                let t = &text[start as usize..(start + len) as usize];
                tok.entry.flags |= u64::from(is_upper(t)) * UPPER;
            }
            caps += usize::from(tok.upper());
        }
        let tokens = &tokens[..n];
        let cap_diff = caps > 0 && caps < n;
        let mut sentiments = [0f64; MAX_TOKENS];
        let sentiments = &mut sentiments[..n];
        for (i, s) in sentiments.iter_mut().enumerate() {
            *s = self.valence(tokens, i, cap_diff);
        }
        but_check(tokens, sentiments);
        let mut sum: f64 = sentiments.iter().sum();
        let bangs = text.bytes().filter(|&b| b == b'!').count().min(4);
        let questions = text.bytes().filter(|&b| b == b'?').count();
        let qm = match questions {
            0 | 1 => 0.0,
            2 | 3 => questions as f64 * 0.18,
            _ => 0.96,
        };
        let amplifier = bangs as f64 * 0.292 + qm;
        if sum > 0.0 {
            sum += amplifier;
        } else if sum < 0.0 {
            sum -= amplifier;
        }
        Some(((normalize(sum) * 1e4).round() / 1e4) as f32)
    }

    /// VADER's `sentiment_valence` of token `i` (0 for boosters and for "kind" before "of").
    fn valence(&self, tokens: &[Token], i: usize, cap_diff: bool) -> f64 {
        let n = tokens.len();
        let item = &tokens[i];
        if item.is_booster() || (i + 1 < n && item.low == K_KIND && tokens[i + 1].low == K_OF) {
            return 0.0;
        }
        if !item.in_lexicon() {
            return 0.0;
        }
        let base = item.entry.valence;
        let low = |j: usize| tokens[j].low;
        let mut valence = base;
        if item.low == K_NO && i + 1 < n && tokens[i + 1].in_lexicon() {
            valence = 0.0;
        }
        if (i > 0 && low(i - 1) == K_NO)
            || (i > 1 && low(i - 2) == K_NO)
            || (i > 2 && low(i - 3) == K_NO && (low(i - 1) == K_OR || low(i - 1) == K_NOR))
        {
            valence = base * N_SCALAR;
        }
        if item.upper() && cap_diff {
            valence += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        for start in 0..3 {
            if i > start && !tokens[i - (start + 1)].in_lexicon() {
                let mut s = self.scalar_inc_dec(&tokens[i - (start + 1)], valence, cap_diff);
                if start == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = self.negation_check(valence, tokens, start, i);
                if start == 2 {
                    valence = self.special_idioms(valence, tokens, i);
                }
            }
        }
        self.least_check(valence, tokens, i)
    }

    fn negation_check(&self, valence: f64, tokens: &[Token], start: usize, i: usize) -> f64 {
        let low = |j: usize| tokens[j].low;
        match start {
            0 if self.negated(&tokens[i - 1]) => valence * N_SCALAR,
            1 => {
                if low(i - 2) == K_NEVER && (low(i - 1) == K_SO || low(i - 1) == K_THIS) {
                    valence * 1.25
                } else if low(i - 2) == K_WITHOUT && low(i - 1) == K_DOUBT {
                    valence
                } else if self.negated(&tokens[i - 2]) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            2 => {
                if (low(i - 3) == K_NEVER && (low(i - 2) == K_SO || low(i - 2) == K_THIS))
                    || (low(i - 1) == K_SO || low(i - 1) == K_THIS)
                {
                    valence * 1.25
                } else if low(i - 3) == K_WITHOUT
                    && (low(i - 2) == K_DOUBT || low(i - 1) == K_DOUBT)
                {
                    valence
                } else if self.negated(&tokens[i - 3]) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            _ => valence,
        }
    }

    fn least_check(&self, valence: f64, tokens: &[Token], i: usize) -> f64 {
        let prev_is_least =
            |i: usize| i > 0 && !tokens[i - 1].in_lexicon() && tokens[i - 1].low == K_LEAST;
        if i > 1 && prev_is_least(i) {
            if tokens[i - 2].low != K_AT && tokens[i - 2].low != K_VERY {
                return valence * N_SCALAR;
            }
            valence
        } else if prev_is_least(i) {
            valence * N_SCALAR
        } else {
            valence
        }
    }
}

/// The whitespace-separated tokens of `text`, with VADER's punctuation stripping.
fn words(text: &str) -> impl Iterator<Item = &str> {
    Tokens { text, at: 0 }.map(strip_punct)
}

/// `str::split_whitespace`, faster on Chinese text: only four lead bytes can start a
/// non-ASCII whitespace character (U+0085, U+00A0; U+1680; U+2000..U+205F; U+3000).
struct Tokens<'t> {
    text: &'t str,
    at: usize,
}

/// Per byte: the length of the character it starts (1 for ASCII and for continuation bytes,
/// which a character boundary never holds), [`SPACE`] for ASCII whitespace, [`MAYBE_SPACE`] for
/// the lead bytes of the non-ASCII whitespace characters.
const BYTE_INFO: [u8; 256] = {
    let mut t = crate::classify::literals::UTF8_LEN;
    t[0xC2] |= MAYBE_SPACE;
    t[0xE1] |= MAYBE_SPACE;
    t[0xE2] |= MAYBE_SPACE;
    t[0xE3] |= MAYBE_SPACE;
    let spaces = [b'\t', b'\n', 0x0B, 0x0C, b'\r', b' '];
    let mut i = 0;
    while i < spaces.len() {
        t[spaces[i] as usize] |= SPACE;
        i += 1;
    }
    t
};
const SPACE: u8 = 0x10;
const MAYBE_SPACE: u8 = 0x20;

impl<'t> Tokens<'t> {
    /// The byte length of the whitespace character at byte `i`, 0 when it is not one. `i` may be
    /// inside a character: a continuation byte is never whitespace.
    #[inline(always)]
    fn space_at(&self, i: usize) -> usize {
        let info = BYTE_INFO[self.text.as_bytes()[i] as usize];
        if info & (SPACE | MAYBE_SPACE) == 0 {
            return 0;
        }
        if info & SPACE != 0 {
            return 1;
        }
        match self.text.get(i..).and_then(|r| r.chars().next()) {
            Some(c) if c.is_whitespace() => c.len_utf8(),
            _ => 0,
        }
    }
}

impl<'t> Iterator for Tokens<'t> {
    type Item = &'t str;

    /// Walks bytes, not characters: a byte that can start no whitespace character (most bytes,
    /// and every continuation byte) costs one table look-up, and no step waits for the length
    /// of the character before it.
    fn next(&mut self) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        let n = bytes.len();
        let mut i = self.at;
        while i < n {
            let len = self.space_at(i);
            if len == 0 {
                break;
            }
            i += len;
        }
        if i >= n {
            self.at = n;
            return None;
        }
        let start = i;
        i += 1;
        while i < n {
            if BYTE_INFO[bytes[i] as usize] & (SPACE | MAYBE_SPACE) != 0 && self.space_at(i) > 0 {
                break;
            }
            i += 1;
        }
        self.at = i;
        Some(&self.text[start..i])
    }
}

/// Whether the tokens at `at` are the words of `phrase` (as keys).
fn seq_is(tokens: &[Token], at: &[usize], phrase: &[u64]) -> bool {
    at.len() == phrase.len() && at.iter().zip(phrase).all(|(&j, w)| tokens[j].low == *w)
}

impl Vader {
    /// VADER's `_special_idioms_check` (called with `i >= 3`).
    fn special_idioms(&self, mut valence: f64, tokens: &[Token], i: usize) -> f64 {
        // Every sequence compared starts at one of tokens i-3..=i: without the first word of an
        // idiom there, nothing can match.
        if !tokens[i - 3..=i].iter().any(Token::idiom) {
            return valence;
        }
        let n = tokens.len();
        let onezero = [i - 1, i];
        let twoonezero = [i - 2, i - 1, i];
        let twoone = [i - 2, i - 1];
        let threetwoone = [i - 3, i - 2, i - 1];
        let threetwo = [i - 3, i - 2];
        let sequences: [&[usize]; 5] = [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo];
        'found: for seq in sequences {
            for (phrase, v) in &self.special {
                if seq_is(tokens, seq, phrase) {
                    valence = *v;
                    break 'found;
                }
            }
        }
        if n - 1 > i {
            for (phrase, v) in &self.special {
                if seq_is(tokens, &[i, i + 1], phrase) {
                    valence = *v;
                }
            }
        }
        if n - 1 > i + 1 {
            for (phrase, v) in &self.special {
                if seq_is(tokens, &[i, i + 1, i + 2], phrase) {
                    valence = *v;
                }
            }
        }
        for seq in [&threetwoone[..], &threetwo[..], &twoone[..]] {
            for (phrase, v) in &self.booster_phrases {
                if seq_is(tokens, seq, phrase) {
                    valence += v;
                }
            }
        }
        valence
    }
}

/// VADER's `_but_check`, quirk included: each value is located by the first index holding an
/// equal value, so an earlier equal value may be scaled in its place.
fn but_check(tokens: &[Token], sentiments: &mut [f64]) {
    let Some(bi) = tokens.iter().position(|t| t.low == K_BUT) else {
        return;
    };
    for k in 0..sentiments.len() {
        let v = sentiments[k];
        let si = sentiments.iter().position(|&x| x == v).unwrap_or(k);
        if si < bi {
            sentiments[si] = v * 0.5;
        } else if si > bi {
            sentiments[si] = v * 1.5;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compound scores printed by vaderSentiment 3.3.2 (`polarity_scores(text)["compound"]`) for
    /// the example sentences of its own source and for sentences written for this test, one per
    /// rule. Regenerate with benches/compare_sentiment.py's `--vader-golden`.
    const GOLDEN: &str = include_str!("../../../tests/fixtures/sentiment_vader_golden.tsv");

    #[test]
    fn same_compound_as_vader_sentiment() {
        let v = Vader::new(super::super::LEXICON_EN);
        let mut n = 0;
        for line in GOLDEN
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (want, text) = line.split_once('\t').expect("compound<TAB>text");
            let want: f32 = want.parse().expect("a number");
            let got = v.compound(text);
            assert!(
                (got - want).abs() < 2e-4,
                "{text:?}: got {got}, VADER {want}"
            );
            n += 1;
        }
        assert!(n >= 40, "{n} golden lines");
    }

    #[test]
    fn tokens_split_as_split_whitespace() {
        for text in [
            "",
            "  ",
            "a b  c",
            "\u{3000}好\u{3000}车 \u{00A0}x\u{0085}y\u{1680}z\u{2003}w\u{2028}\u{202F}\u{205F}v",
            "\t\n\x0B\x0C\r end",
            "\u{1C}\u{1D}不是空白\u{200B}也不是",
            "€ ‘quote’ 🇨🇳 👨‍👩‍👧",
        ] {
            let got: Vec<&str> = Tokens { text, at: 0 }.collect();
            let want: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn rules_move_the_score_the_right_way() {
        let v = Vader::new(super::super::LEXICON_EN);
        let c = |t: &str| v.compound(t);
        assert!(c("good") > 0.0 && c("not good") < 0.0);
        assert!(c("very good") > c("good"));
        assert!(c("good!!!") > c("good"));
        // "kind of" dampens only three words back or more, as in VADER.
        assert!(c("the book was only kind of good") < c("the book was good"));
        assert!(c("the food is GOOD, the rest ok") > c("the food is good, the rest ok"));
        assert!(c("it was bad but the staff were great") > 0.0);
        assert_eq!(c(""), 0.0);
        assert_eq!(c("这个车很好"), 0.0);
        assert_eq!(v.score("这个车很好"), None);
        assert_eq!(c("这个车很好 good"), c("good"));
        // The Kelvin sign lowercases to "k", and "kk" is in the lexicon.
        assert_eq!(v.score("\u{212A}\u{212A}"), v.score("kk"));
        assert!(v.score("kk").is_some());
    }
}
