//! The planning loop: day by day, slot by slot, per channel.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::learn::{ChannelModel, Learned};
use super::mix::Mix;
use super::slots::{DayGrid, Slot};
use super::{Draft, Note, PastPost, Plan, PlanRequest, PlanRules, PlannedPost};

/// Plans every channel of `req` from `req.start` to the end of the eve of `req.end_date`,
/// keeping the posts of `history` (published, sending, approved) where they are.
///
/// Pure and deterministic: the same arguments give the same plan.
pub fn plan(rules: &PlanRules, drafts: &[Draft], history: &[PastPost], req: &PlanRequest) -> Plan {
    plan_learned(rules, drafts, history, req, None)
}

/// [`plan`], with each channel that has a learned model posting at its learned times inside the
/// peak windows ([`super::learn::day`]); every other rule is applied the same way.
pub fn plan_learned(
    rules: &PlanRules,
    drafts: &[Draft],
    history: &[PastPost],
    req: &PlanRequest,
    learned: Option<&Learned>,
) -> Plan {
    let grid = DayGrid::new(rules);
    let by_id: HashMap<&str, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();
    // Index drafts by channel once: with many channels, scanning every draft per channel would
    // cost channels × drafts.
    let mut shared = Vec::new();
    let mut specific: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in drafts.iter().enumerate() {
        match &d.channels {
            None => shared.push(i),
            Some(list) => {
                for c in list {
                    specific.entry(c.as_str()).or_default().push(i);
                }
            }
        }
    }
    let mut out = Plan::default();
    for (ci, channel) in req.channels.iter().enumerate() {
        let mut pool = shared.clone();
        if let Some(own) = specific.get(channel.as_str()) {
            pool.extend_from_slice(own);
            // File order breaks ties, so keep it.
            pool.sort_unstable();
            pool.dedup();
        }
        let mut planner = ChannelPlanner::new(
            Inputs {
                rules,
                drafts,
                grid: &grid,
                req,
                by_id: &by_id,
                learned: learned.and_then(|l| l.model(channel)),
            },
            ci,
            channel,
            &pool,
        );
        let mine: Vec<&PastPost> = {
            let mut v: Vec<&PastPost> = history.iter().filter(|p| &p.channel == channel).collect();
            v.sort_by_key(|p| p.at);
            v
        };
        planner.run(&mine);
        planner.finish(&mut out);
    }
    out.posts.sort_by_key(|p| (p.at, p.channel));
    out
}

/// What every channel's planner reads.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    rules: &'a PlanRules,
    drafts: &'a [Draft],
    grid: &'a DayGrid,
    req: &'a PlanRequest,
    by_id: &'a HashMap<&'a str, usize>,
    learned: Option<&'a ChannelModel>,
}

/// The state of one channel while it is being planned.
struct ChannelPlanner<'a> {
    rules: &'a PlanRules,
    drafts: &'a [Draft],
    grid: &'a DayGrid,
    req: &'a PlanRequest,
    /// The channel's learned times, when learning is on and it has enough results.
    learned: Option<&'a ChannelModel>,
    channel: usize,
    channel_name: &'a str,
    /// Draft indices (into `drafts`) this channel may use, per category.
    by_category: Vec<Vec<(usize, usize)>>,
    /// Global draft index → position in `last_used`.
    local: HashMap<usize, usize>,
    /// For each series, the parts this channel may post, ascending.
    series_parts: HashMap<&'a str, Vec<u32>>,
    by_id: &'a HashMap<&'a str, usize>,
    mix: Mix,
    posts: u64,
    promos: u64,
    last_at: Option<DateTime<Utc>>,
    /// When each draft of the pool was last posted (Unix seconds), by pool position: a vector,
    /// not a map, because this is read for every candidate draft of every slot.
    last_used: Vec<Option<i64>>,
    /// Series name → (last part posted, when).
    series_done: HashMap<String, (u32, DateTime<Utc>)>,
    planned: Vec<PlannedPost>,
    reused: BTreeMap<usize, (NaiveDate, usize)>,
    unfilled: BTreeMap<usize, (NaiveDate, usize)>,
    /// The category that could not be filled at the last failed slot.
    short: Option<usize>,
    below_min: Vec<NaiveDate>,
}

impl<'a> ChannelPlanner<'a> {
    fn new(inputs: Inputs<'a>, channel: usize, channel_name: &'a str, pool: &[usize]) -> Self {
        let Inputs {
            rules,
            drafts,
            grid,
            req,
            by_id,
            learned,
        } = inputs;
        let mut by_category = vec![Vec::new(); rules.categories.len()];
        let mut local = HashMap::new();
        let mut series_parts: HashMap<&str, Vec<u32>> = HashMap::new();
        for &i in pool {
            let d = &drafts[i];
            if let Some(c) = rules.category_index(&d.category) {
                by_category[c].push((i, local.len()));
                local.insert(i, local.len());
                if let Some(s) = &d.series {
                    series_parts
                        .entry(s.name.as_str())
                        .or_default()
                        .push(s.part);
                }
            }
        }
        for parts in series_parts.values_mut() {
            parts.sort_unstable();
        }
        Self {
            rules,
            drafts,
            grid,
            req,
            learned,
            channel,
            channel_name,
            by_category,
            last_used: vec![None; local.len()],
            local,
            series_parts,
            by_id,
            mix: Mix::new(rules.categories.iter().map(|c| c.share).collect()),
            posts: 0,
            promos: 0,
            last_at: None,
            series_done: HashMap::new(),
            planned: Vec::new(),
            reused: BTreeMap::new(),
            unfilled: BTreeMap::new(),
            short: None,
            below_min: Vec::new(),
        }
    }

    fn run(&mut self, history: &[&PastPost]) {
        let tz = self.req.timezone;
        let start = self.req.start;
        let local_midnight = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|n| tz.from_local_datetime(&n).earliest())
                .map(|t| t.with_timezone(&Utc))
        };
        let end = local_midnight(self.req.end_date).unwrap_or(start);
        let (past, fixed): (Vec<&PastPost>, Vec<&PastPost>) =
            history.iter().partition(|p| p.at < start);
        for p in past {
            self.apply_past(p);
        }
        let mut fixed = fixed.into_iter().peekable();

        let mut date = start.with_timezone(&tz).date_naive();
        while date < self.req.end_date {
            let next_day = date.succ_opt().unwrap_or(date);
            let day_end = local_midnight(next_day).unwrap_or(end);
            let mut fixed_today = Vec::new();
            while let Some(p) = fixed.next_if(|p| p.at < day_end) {
                fixed_today.push(p);
            }
            if self.rules.blackout.contains(&date) {
                for p in fixed_today {
                    self.apply_past(p);
                }
            } else {
                self.plan_day(date, &fixed_today, start, end);
            }
            if next_day == date {
                break;
            }
            date = next_day;
        }
        // Promised posts after the planned range still count, so a later re-plan agrees.
        for p in fixed {
            self.apply_past(p);
        }
    }

    fn plan_day(
        &mut self,
        date: NaiveDate,
        fixed: &[&PastPost],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) {
        enum Event<'p> {
            Fixed(&'p PastPost),
            Slot {
                at: DateTime<Utc>,
                peak: usize,
                primary: bool,
            },
        }
        let tz = self.req.timezone;
        let mut events: Vec<Event> = fixed.iter().map(|p| Event::Fixed(p)).collect();
        let mut whole_day = true;
        let fixed_day = self
            .grid
            .day(date.num_days_from_ce().unsigned_abs() as usize);
        let learned_day: Vec<Slot>;
        let day = match self.learned {
            Some(model) => {
                learned_day = super::learn::day(
                    fixed_day,
                    self.rules,
                    model,
                    super::learn::seed(self.channel_name, date),
                );
                &learned_day[..]
            }
            None => fixed_day,
        };
        for s in day {
            let Some(at) = tz
                .from_local_datetime(&date.and_time(s.time))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
            else {
                continue; // the time does not exist that day (a DST gap)
            };
            if at < start || at >= end {
                whole_day = false;
                continue;
            }
            events.push(Event::Slot {
                at,
                peak: s.peak,
                primary: s.primary,
            });
        }
        let at_of = |e: &Event| match e {
            Event::Fixed(p) => (p.at, 0),
            Event::Slot { at, .. } => (*at, 1),
        };
        events.sort_by_key(at_of);

        let fixed_times: Vec<DateTime<Utc>> = fixed.iter().map(|p| p.at).collect();
        self.short = None;
        let quota = (self.rules.per_day as usize)
            .min(self.rules.max_per_day as usize)
            .saturating_sub(fixed.len());
        let mut taken = 0;
        let mut credits = 0;
        for event in events {
            let (at, peak, primary) = match event {
                Event::Fixed(p) => {
                    self.apply_past(p);
                    continue;
                }
                Event::Slot { at, peak, primary } => (at, peak, primary),
            };
            if taken >= quota || !(primary || credits > 0) {
                continue;
            }
            let gap = self.rules.min_gap;
            let too_close = self.last_at.is_some_and(|l| at - l < gap)
                || fixed_times.iter().any(|f| *f >= at && *f - at < gap);
            if too_close {
                if primary {
                    credits += 1;
                }
                continue;
            }
            match self.choose(at, date) {
                Some((category, draft, reused)) => {
                    self.record(at, category, draft);
                    self.planned.push(PlannedPost {
                        channel: self.channel,
                        at,
                        category,
                        draft,
                        peak,
                        reused,
                    });
                    if reused {
                        self.reused.entry(category).or_insert((date, 0)).1 += 1;
                    }
                    taken += 1;
                    if !primary {
                        credits -= 1;
                    }
                }
                None => {
                    if primary {
                        credits += 1;
                    }
                }
            }
        }
        // Slots made up from spares later in the day do not count as empty.
        if taken < quota {
            if let Some(c) = self.short.take() {
                self.unfilled.entry(c).or_insert((date, 0)).1 += quota - taken;
            }
        }
        if whole_day && fixed.len() + taken < self.rules.min_per_day as usize {
            self.below_min.push(date);
        }
    }

    /// The category and draft for a post at `at`, or `None` if the slot must stay empty.
    fn choose(&mut self, at: DateTime<Utc>, date: NaiveDate) -> Option<(usize, usize, bool)> {
        let candidates = self.mix.candidates();
        for (i, &c) in candidates.iter().enumerate() {
            if i > 0 && !self.mix.is_safe(c) {
                continue;
            }
            if let Some((draft, reused)) = self.best_draft(c, at, date) {
                return Some((c, draft, reused));
            }
        }
        self.short = candidates.first().copied();
        None
    }

    /// The best usable draft of category `c` at `at`: fresh drafts first (those that expire
    /// soonest, then time-bound before evergreen, then file order), else the evergreen draft
    /// rested longest past its cooldown.
    fn best_draft(&self, c: usize, at: DateTime<Utc>, date: NaiveDate) -> Option<(usize, bool)> {
        let promo_ok =
            100 * (self.promos + 1) <= u64::from(self.rules.promo_max_pct) * (self.posts + 1);
        let mut best: Option<((u8, i64, u8), usize, bool)> = None;
        let now = at.timestamp();
        for &(i, li) in &self.by_category[c] {
            let d = &self.drafts[i];
            if d.not_before.is_some_and(|nb| date < nb) || d.not_after.is_some_and(|na| date > na) {
                continue;
            }
            if d.promo && !promo_ok {
                continue;
            }
            if let Some(s) = &d.series {
                if !self.series_ready(&s.name, s.part, at) {
                    continue;
                }
            }
            let key = match self.last_used[li] {
                None => {
                    let expiry = d
                        .not_after
                        .map_or(i64::MAX, |na| i64::from(na.num_days_from_ce()));
                    (0u8, expiry, u8::from(d.evergreen))
                }
                Some(last) => {
                    let cooldown = d.cooldown_days.unwrap_or(self.rules.cooldown_days);
                    if !d.evergreen || now - last < i64::from(cooldown) * 86_400 {
                        continue;
                    }
                    (1u8, last, 0)
                }
            };
            if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
                best = Some((key, i, key.0 == 1));
            }
        }
        best.map(|(_, i, reused)| (i, reused))
    }

    /// Whether `part` is the next part of `series` this channel may post, and far enough from
    /// the previous one.
    fn series_ready(&self, series: &str, part: u32, at: DateTime<Utc>) -> bool {
        let parts = self
            .series_parts
            .get(series)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match self.series_done.get(series) {
            None => parts.first() == Some(&part),
            Some((last, when)) => {
                let next = parts.iter().find(|p| **p > *last);
                next == Some(&part) && at - *when >= self.rules.series_min_gap
            }
        }
    }

    fn record(&mut self, at: DateTime<Utc>, category: usize, draft: usize) {
        let d = &self.drafts[draft];
        self.mix.add(category);
        self.posts += 1;
        self.promos += u64::from(d.promo);
        self.last_at = Some(self.last_at.map_or(at, |l| l.max(at)));
        if let Some(&li) = self.local.get(&draft) {
            self.last_used[li] = Some(at.timestamp());
        }
        if let Some(s) = &d.series {
            self.series_done.insert(s.name.clone(), (s.part, at));
        }
    }

    fn apply_past(&mut self, p: &PastPost) {
        if let Some(c) = self.rules.category_index(&p.category) {
            self.mix.add(c);
        }
        self.posts += 1;
        self.promos += u64::from(p.promo);
        self.last_at = Some(self.last_at.map_or(p.at, |l| l.max(p.at)));
        if let Some(li) = self
            .by_id
            .get(p.draft.as_str())
            .and_then(|i| self.local.get(i))
        {
            let t = p.at.timestamp();
            self.last_used[*li] = Some(self.last_used[*li].map_or(t, |l| l.max(t)));
        }
        if let Some(s) = &p.series {
            let e = self
                .series_done
                .entry(s.name.clone())
                .or_insert((s.part, p.at));
            if s.part >= e.0 {
                *e = (s.part, p.at);
            }
        }
    }

    fn finish(self, out: &mut Plan) {
        let name = self.channel_name.to_string();
        let cat = |c: usize| self.rules.categories[c].name.clone();
        for (c, (from, posts)) in &self.reused {
            out.notes.push(Note::Reused {
                channel: name.clone(),
                category: cat(*c),
                from: *from,
                posts: *posts,
            });
        }
        for (c, (from, slots)) in &self.unfilled {
            out.notes.push(Note::Unfilled {
                channel: name.clone(),
                category: cat(*c),
                from: *from,
                slots: *slots,
            });
        }
        if !self.below_min.is_empty() {
            out.notes.push(Note::BelowMinimum {
                channel: name,
                days: self.below_min,
                min_per_day: self.rules.min_per_day,
            });
        }
        out.posts.extend(self.planned);
    }
}
