//! A multi-literal matcher for the short phrases of classification (keyword terms, intent and
//! lead cue phrases, sentiment cues): every occurrence of every literal, ASCII letters compared
//! without case, as Aho-Corasick's overlapping search with standard semantics reports them.
//!
//! Why not an Aho-Corasick automaton: the literals are mostly Chinese, whose UTF-8 bytes make a
//! byte automaton's transition table large (a full DFA of 250 literals was 1.3 MiB, more than a
//! core's L2 cache, and the classifier's literals together would make one twice that). Here each
//! character position costs a multiplication and one bit test: whether some literal starts with
//! the pair of characters that starts there, in an 8 KiB bitmap of hashed pairs (and whether the
//! character is a one-character literal, in a bitmap by code point). Only a pair that passes is
//! looked up in a hash table, and the few literals starting with it compared with the text. The
//! literals are short, so that is the whole search.
//!
//! A text that is all ASCII, though (most English mentions), can hold only the ASCII literals,
//! and an automaton of those alone is small: such a text is searched by an Aho-Corasick DFA of
//! the ASCII literals, a table step a byte, where the pair bitmap above passes at a quarter of
//! an English text's positions (English letter pairs start many literals).
//!
//! Hits come in order of start, longest first at one start, then pattern id; [`Literals::find_ac_order`]
//! gives Aho-Corasick's overlapping order (by end, longest first), and the tests compare both with
//! the `aho-corasick` crate on generated texts.

/// One occurrence: the literal's index and its byte span in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub pattern: u32,
    pub start: u32,
    pub end: u32,
}

/// Why a set of literals was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralsError {
    /// An empty literal would match at every position.
    Empty(usize),
    /// The automaton of the ASCII literals could not be built (too many or too long).
    Automaton(String),
}

impl std::fmt::Display for LiteralsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiteralsError::Empty(i) => write!(f, "literal #{i} is empty"),
            LiteralsError::Automaton(e) => write!(f, "the ASCII literals' automaton: {e}"),
        }
    }
}

impl std::error::Error for LiteralsError {}

/// The hashed bitmaps have 2^BITMAP_BITS bits.
const BITMAP_BITS: u32 = 16;
const K: u64 = 0x9E37_79B9_7F4A_7C15;
/// Mixed into the hash of a one-character key, to tell it from a pair's.
const SINGLE_SALT: u64 = 0xD6E8_FEB8_6659_FD93;

/// A compiled set of literals.
#[derive(Clone)]
pub struct Literals {
    /// How many literals.
    count: usize,
    /// The literals' bytes, ASCII lowercased, one after another.
    bytes: Box<[u8]>,
    /// One bit per hashed key: some literal starts with that pair of characters.
    pairs: Box<[u64]>,
    /// One bit per hashed key: some literal is that one character.
    singles: Box<[u64]>,
    /// Open addressing: key → range of `order`.
    slots: Box<[Slot]>,
    /// The literals grouped by key, longest first within a key, then by index.
    order: Box<[Cand]>,
    /// The all-ASCII literals as a byte automaton, for texts that are all ASCII (no other
    /// literal can occur in them), and each one's index: see [`Literals::find`].
    ascii: Option<(aho_corasick::AhoCorasick, Box<[u32]>)>,
}

/// One literal as the search compares it: its index, its bytes in `Literals::bytes`, and its
/// first eight bytes (fewer for a shorter literal) as a word with the mask of those bytes: most
/// literals are compared by one test of the text's (case-folded) word at the position.
#[derive(Clone, Copy)]
struct Cand {
    head: u64,
    mask: u64,
    id: u32,
    from: u32,
    len: u32,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    single: bool,
    from: u32,
    to: u32,
}

impl std::fmt::Debug for Literals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Literals")
            .field("patterns", &self.count)
            .finish_non_exhaustive()
    }
}

/// The length of the UTF-8 character a byte starts (1 for ASCII, and for a continuation byte,
/// which never starts a character).
pub(crate) const UTF8_LEN: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut b = 0xC0;
    while b < 0x100 {
        t[b] = if b < 0xE0 {
            2
        } else if b < 0xF0 {
            3
        } else {
            4
        };
        b += 1;
    }
    t
};

/// The eight bytes from `i` on, little-endian, zero past the end.
#[inline(always)]
fn load8(b: &[u8], i: usize) -> u64 {
    match b.get(i..i + 8) {
        Some(w) => u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
        None => {
            let mut buf = [0u8; 8];
            let rest = &b[i.min(b.len())..];
            buf[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(buf)
        }
    }
}

/// ASCII capitals to lower case in all eight bytes at once (no byte of a multi-byte UTF-8
/// character is in `A..=Z`).
#[inline(always)]
fn fold8(w: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let seven = w & LOW7;
    let ge_a = seven + 0x3F3F_3F3F_3F3F_3F3F; // bit 7 set when the byte is >= 'A'
    let gt_z = seven + 0x2525_2525_2525_2525; // bit 7 set when the byte is > 'Z'
    let upper = ge_a & !gt_z & !w & HIGH;
    w | (upper >> 2)
}

/// The low `n` bytes of `w`.
#[inline(always)]
fn low_bytes(w: u64, n: usize) -> u64 {
    if n >= 8 {
        w
    } else {
        w & ((1u64 << (8 * n)) - 1)
    }
}

#[inline(always)]
fn hash(key: u64) -> u64 {
    let h = key.wrapping_mul(K);
    h ^ (h >> 29)
}

#[inline(always)]
fn bit_of(h: u64) -> usize {
    (h >> (64 - BITMAP_BITS)) as usize
}

#[inline(always)]
fn test(map: &[u64], bit: usize) -> bool {
    map[bit / 64] & (1 << (bit % 64)) != 0
}

/// The key of a literal (its bytes ASCII lowercased): its first two characters' bytes, or its
/// only character's, and whether it is one character.
fn key_of(p: &[u8]) -> (u64, bool) {
    let w = load8(p, 0);
    let c = usize::from(UTF8_LEN[usize::from(p[0])]);
    if c >= p.len() {
        return (low_bytes(w, c), true);
    }
    let d = usize::from(UTF8_LEN[usize::from(p[c])]);
    (low_bytes(w, c + d), false)
}

#[inline(always)]
fn slot_hash(key: u64, single: bool) -> u64 {
    if single {
        hash(key ^ SINGLE_SALT)
    } else {
        hash(key)
    }
}

impl Literals {
    /// Compiles the literals; their index in `patterns` is the id hits carry.
    pub fn new<I, P>(patterns: I) -> Result<Self, LiteralsError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let mut keyed: Vec<((u64, bool), usize, u32)> = Vec::new();
        let mut stored = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            let p = p.as_ref();
            if p.is_empty() {
                return Err(LiteralsError::Empty(i));
            }
            let lower = p.as_bytes().to_ascii_lowercase();
            keyed.push((key_of(&lower), p.len(), i as u32));
            stored.push(lower);
        }
        // Grouped by key; longest first; then by index.
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut offsets = Vec::with_capacity(stored.len());
        let mut bytes = Vec::new();
        for p in &stored {
            offsets.push(bytes.len() as u32);
            bytes.extend_from_slice(p);
        }
        let order: Vec<Cand> = keyed
            .iter()
            .map(|k| {
                let mask = low_bytes(u64::MAX, k.1);
                Cand {
                    head: load8(&stored[k.2 as usize], 0) & mask,
                    mask,
                    id: k.2,
                    from: offsets[k.2 as usize],
                    len: k.1 as u32,
                }
            })
            .collect();
        let mut keys: Vec<(u64, bool)> = keyed.iter().map(|k| k.0).collect();
        keys.dedup();
        let size = (keys.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![Slot::default(); size];
        let mut used = vec![false; size];
        let mut pairs = vec![0u64; 1 << (BITMAP_BITS - 6)];
        let mut singles = vec![0u64; 1 << (BITMAP_BITS - 6)];
        let mut at = 0;
        for (key, single) in keys {
            let from = at;
            while at < keyed.len() && keyed[at].0 == (key, single) {
                at += 1;
            }
            let h = slot_hash(key, single);
            let bit = bit_of(h);
            let map = if single { &mut singles } else { &mut pairs };
            map[bit / 64] |= 1 << (bit % 64);
            let mut s = (h as usize) & (size - 1);
            while used[s] {
                s = (s + 1) & (size - 1);
            }
            used[s] = true;
            slots[s] = Slot {
                key,
                single,
                from: from as u32,
                to: at as u32,
            };
        }
        let ascii_ids: Vec<u32> = (0..stored.len() as u32)
            .filter(|&i| stored[i as usize].is_ascii())
            .collect();
        let ascii = if ascii_ids.is_empty() {
            None
        } else {
            let automaton = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::Standard)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(ascii_ids.iter().map(|&i| &stored[i as usize]))
                .map_err(|e| LiteralsError::Automaton(e.to_string()))?;
            Some((automaton, ascii_ids.into_boxed_slice()))
        };
        // A slot whose `from == to` is empty (no key has an empty range), and the probe stops
        // there.
        Ok(Self {
            ascii,
            count: stored.len(),
            bytes: bytes.into_boxed_slice(),
            pairs: pairs.into_boxed_slice(),
            singles: singles.into_boxed_slice(),
            slots: slots.into_boxed_slice(),
            order: order.into_boxed_slice(),
        })
    }

    /// Number of literals.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The literals with this key (longest first), behind the bitmap test.
    #[inline(never)]
    fn lookup(&self, key: u64, single: bool, h: u64) -> &[Cand] {
        let mask = self.slots.len() - 1;
        let mut s = (h as usize) & mask;
        loop {
            let slot = self.slots[s];
            if slot.from == slot.to {
                return &[];
            }
            if slot.key == key && slot.single == single {
                return &self.order[slot.from as usize..slot.to as usize];
            }
            s = (s + 1) & mask;
        }
    }

    /// Reports the candidates that occur at `start`, where the text's eight bytes, case-folded,
    /// are `w`.
    #[inline(always)]
    fn try_at(&self, text: &[u8], start: usize, w: u64, cands: &[Cand], f: &mut impl FnMut(Hit)) {
        for c in cands {
            let end = start + c.len as usize;
            if end <= text.len()
                && w & c.mask == c.head
                && (c.len <= 8
                    || text[start + 8..end].eq_ignore_ascii_case(
                        &self.bytes[(c.from + 8) as usize..(c.from + c.len) as usize],
                    ))
            {
                f(Hit {
                    pattern: c.id,
                    start: start as u32,
                    end: end as u32,
                });
            }
        }
    }

    /// Calls `f` with every occurrence of every literal in `text`: by start, longest first at
    /// one start, then by literal index.
    ///
    /// A text that is all ASCII (most English mentions) can hold only the ASCII literals, and
    /// they are found by a byte automaton over those alone (small, unlike one over the Chinese
    /// literals too), a step a byte; its hits are put in this order.
    #[inline]
    pub fn find(&self, text: &str, mut f: impl FnMut(Hit)) {
        if text.is_ascii() {
            if let Some((automaton, ids)) = &self.ascii {
                return find_ascii(automaton, ids, text, f);
            }
        }
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        while i < n {
            // The eight bytes from here hold this character and the next (at most four each).
            let w = fold8(load8(bytes, i));
            let c = usize::from(UTF8_LEN[usize::from(bytes[i])]);
            if i + c < n {
                let d = usize::from(UTF8_LEN[usize::from(bytes[i + c])]);
                let key = low_bytes(w, c + d);
                let h = hash(key);
                if test(&self.pairs, bit_of(h)) {
                    let cands = self.lookup(key, false, h);
                    self.try_at(bytes, i, w, cands, &mut f);
                }
            }
            let key = low_bytes(w, c);
            let h = hash(key ^ SINGLE_SALT);
            if test(&self.singles, bit_of(h)) {
                let cands = self.lookup(key, true, h);
                self.try_at(bytes, i, w, cands, &mut f);
            }
            i += c;
        }
    }

    /// The occurrences in Aho-Corasick's overlapping order: by end, longest first at one end
    /// (a literal before the literals that are its suffixes), then by literal index.
    pub fn find_ac_order(&self, text: &str, out: &mut Vec<Hit>) {
        out.clear();
        self.find(text, |h| out.push(h));
        sort_ac_order(out);
    }
}

/// [`Literals::find`] on an all-ASCII text, by the automaton of the ASCII literals.
fn find_ascii(
    automaton: &aho_corasick::AhoCorasick,
    ids: &[u32],
    text: &str,
    mut f: impl FnMut(Hit),
) {
    // A few dozen hits at most, put in the keyed search's order: by start, longest first, index.
    let mut hits: Vec<Hit> = automaton
        .find_overlapping_iter(text)
        .map(|m| Hit {
            pattern: ids[m.pattern().as_usize()],
            start: m.start() as u32,
            end: m.end() as u32,
        })
        .collect();
    hits.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.pattern.cmp(&b.pattern))
    });
    for h in hits {
        f(h);
    }
}

/// Sorts hits into Aho-Corasick's overlapping order (see [`Literals::find_ac_order`]).
pub fn sort_ac_order(hits: &mut [Hit]) {
    if hits.len() > 1 {
        hits.sort_unstable_by(|a, b| {
            a.end
                .cmp(&b.end)
                .then(a.start.cmp(&b.start))
                .then(a.pattern.cmp(&b.pattern))
        });
    }
}

/// Picks from hits in [`Literals::find`] order the ones a leftmost-longest search reports: from
/// the start of the text, the longest occurrence that starts leftmost, then the same from its
/// end on. `f` gets the chosen hits in order.
#[derive(Debug, Default, Clone, Copy)]
pub struct LeftmostLongest {
    next: u32,
    last_start: Option<u32>,
}

impl LeftmostLongest {
    /// Feeds one hit; returns whether a leftmost-longest search reports it.
    #[inline]
    pub fn take(&mut self, h: &Hit) -> bool {
        if h.start < self.next || self.last_start == Some(h.start) {
            return false;
        }
        self.last_start = Some(h.start);
        self.next = h.end;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use aho_corasick::{AhoCorasick, MatchKind};

    const PATTERNS: &[&str] = &[
        "日产",
        "东风日产",
        "东风",
        "日",
        "产品",
        "Nissan",
        "nis",
        "SAN",
        "a",
        "ab",
        "abc",
        "b",
        "bc",
        "?",
        "？",
        "吗",
        "👍",
        "❤",
        "❤️",
        "test drive",
        "test",
        "drive",
        "x-trail",
        "日产",
        "K",
        "ſ",
        "k",
        ":)",
        ":-)",
        ":d",
        "é",
        "É",
        "ée",
        "\n",
        "  ",
    ];
    const PIECES: &[&str] = &[
        "日", "产", "东", "风", "品", "N", "i", "s", "S", "A", "a", "n", "b", "B", "c", "C", "?",
        "？", "吗", "👍", "❤", "\u{FE0F}", "test", " ", "  ", "drive", "X", "-", "trail", "K", "ſ",
        "k", ":", ")", "-", "d", "D", "é", "É", "e", "E", "\n", "x",
    ];

    fn random_text(rng: &mut Rng) -> String {
        let mut t = String::new();
        for _ in 0..rng.below(12) {
            t.push_str(PIECES[rng.below(PIECES.len())]);
        }
        t
    }

    #[test]
    fn same_hits_as_aho_corasick() {
        let lits = Literals::new(PATTERNS).expect("literals");
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(PATTERNS)
            .expect("automaton");
        let lm = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(PATTERNS)
            .expect("automaton");
        let mut rng = Rng::new(7);
        let mut out = Vec::new();
        let mut total = 0;
        // All-ASCII texts take the automaton's path: both paths must be tried.
        let mut ascii_with_hits = 0;
        for _ in 0..50_000 {
            let text = random_text(&mut rng);
            let want: Vec<Hit> = ac
                .find_overlapping_iter(&text)
                .map(|m| Hit {
                    pattern: m.pattern().as_u32(),
                    start: m.start() as u32,
                    end: m.end() as u32,
                })
                .collect();
            lits.find_ac_order(&text, &mut out);
            assert_eq!(out, want, "{text:?}");
            total += want.len();
            if text.is_ascii() && !want.is_empty() {
                ascii_with_hits += 1;
            }
            let want: Vec<Hit> = lm
                .find_iter(&text)
                .map(|m| Hit {
                    pattern: m.pattern().as_u32(),
                    start: m.start() as u32,
                    end: m.end() as u32,
                })
                .collect();
            let mut picker = LeftmostLongest::default();
            let mut got = Vec::new();
            lits.find(&text, |h| {
                if picker.take(&h) {
                    got.push(h);
                }
            });
            assert_eq!(got, want, "leftmost-longest: {text:?}");
        }
        assert!(total > 50_000, "{total} hits");
        assert!(
            ascii_with_hits > 5_000,
            "{ascii_with_hits} ASCII texts with hits"
        );
    }

    #[test]
    fn refuses_an_empty_literal() {
        assert_eq!(
            Literals::new(["a", ""]).map(|_| ()),
            Err(LiteralsError::Empty(1))
        );
        let none = Literals::new(Vec::<String>::new()).expect("no literal");
        let mut n = 0;
        none.find("anything", |_| n += 1);
        assert_eq!(n, 0);
    }
}
