//! The UI's languages and every string it shows, in one table.
//!
//! A page asks for `t(lang, "key")`; a later page adds its keys to [`STRINGS`]. The language is
//! the `herald_lang` cookie if set (the switch in the page header), else the best of
//! `Accept-Language`, else English. A missing key shows the key itself, so a gap is visible
//! rather than silent; a unit test keeps the table free of duplicates and empty cells.

use serde::Serialize;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

/// The cookie that remembers the switch.
pub const LANG_COOKIE: &str = "herald_lang";

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The short code used in the switch URL and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// Parses a switch/cookie value (`en`, `zh`) or a language tag (`zh-CN`, `en-GB`).
    pub fn parse(s: &str) -> Option<Lang> {
        let primary = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header (highest q, first on ties).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut fields = part.split(';');
            let Some(lang) = fields.next().and_then(Lang::parse) else {
                continue;
            };
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The language chosen by a cookie value, else by `Accept-Language`, else English.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        cookie
            .and_then(Lang::parse)
            .or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or(Lang::En)
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

/// `(key, English, Chinese)`. Keep keys grouped by page; add a page's strings next to its group.
pub const STRINGS: &[(&str, &str, &str)] = &[
    // Layout and navigation.
    ("app.name", "herald", "herald"),
    ("nav.inbox", "Inbox", "回复队列"),
    ("nav.calendar", "Calendar", "发布日历"),
    ("nav.alerts", "Alerts", "危机预警"),
    ("nav.mentions", "Mentions", "舆情检索"),
    ("nav.leads", "Leads", "潜客线索"),
    ("nav.logout", "Log out", "退出登录"),
    ("nav.signed_in_as", "Signed in as", "当前用户"),
    ("lang.switch", "中文", "English"),
    ("soon.title", "Not yet available", "暂未开放"),
    (
        "soon.body",
        "This page is not available in this version of herald yet.",
        "此版本的 herald 尚未提供该页面。",
    ),
    // Login.
    ("login.title", "Log in", "登录"),
    ("login.user", "User name", "用户名"),
    ("login.password", "Password", "密码"),
    ("login.submit", "Log in", "登录"),
    (
        "login.failed",
        "Wrong user name or password.",
        "用户名或密码错误。",
    ),
    (
        "login.throttled",
        "Too many failed attempts. Try again in a few minutes.",
        "失败次数过多，请几分钟后再试。",
    ),
    (
        "login.expired",
        "The login form expired. Please try again.",
        "登录表单已过期，请重试。",
    ),
    // Calendar.
    ("cal.title", "Calendar", "发布日历"),
    ("cal.week", "Week", "周视图"),
    ("cal.day", "Day", "日视图"),
    ("cal.prev", "Earlier", "上一页"),
    ("cal.next", "Later", "下一页"),
    ("cal.today", "Today", "今天"),
    ("cal.time", "Time", "时间"),
    ("cal.channel", "Channel", "渠道"),
    ("cal.category", "Category", "类别"),
    ("cal.state", "State", "状态"),
    ("cal.text", "Text", "内容"),
    ("cal.none", "Nothing scheduled.", "暂无排期。"),
    ("cal.held", "held", "已暂停"),
    ("cal.timezone", "Times in", "时区"),
    ("state.planned", "planned", "已排期"),
    ("state.approved", "approved", "已确认"),
    ("state.sending", "sending", "发送中"),
    ("state.unconfirmed", "unconfirmed", "待确认"),
    ("state.published", "published", "已发布"),
    ("state.failed", "failed", "失败"),
    ("state.missed", "missed", "已错过"),
    ("hold.active", "Publishing is on hold", "发布已暂停"),
    ("hold.since", "since", "开始于"),
    (
        "hold.crisis",
        "Crisis hold: resolve the alert to lift it",
        "危机暂停：处理完警报后解除",
    ),
    ("hold.reason", "Reason", "原因"),
    ("hold.categories", "Held categories", "暂停的类别"),
    ("hold.none", "Publishing runs normally.", "发布正常进行。"),
    ("hold.pause", "Pause publishing", "暂停发布"),
    ("hold.resume", "Resume publishing", "恢复发布"),
    (
        "hold.default_reason",
        "paused in the web UI",
        "在网页界面暂停",
    ),
    (
        "hold.bad_category",
        "Choose at least one category of the plan.",
        "请至少选择一个内容类别。",
    ),
    // Mentions.
    ("men.title", "Mentions", "舆情检索"),
    ("men.text", "Text", "内容"),
    ("men.author", "Author", "作者"),
    ("men.topic", "Topic", "话题"),
    ("men.platform", "Platform", "平台"),
    ("men.sentiment", "Sentiment", "情感"),
    ("men.intent", "Intent", "意图"),
    ("men.any", "any", "全部"),
    ("men.search", "Search", "搜索"),
    ("men.when", "When", "时间"),
    ("men.none", "No mentions match.", "没有符合条件的提及。"),
    ("men.found", "mentions", "条提及"),
    ("men.page", "Page", "页"),
    ("men.open", "open", "原文"),
    // Inbox, item page and Leads (src/web/inbox.rs).
    ("inbox.title", "Inbox", "回复队列"),
    ("inbox.item", "Reply", "回复"),
    ("inbox.priority", "Priority", "优先级"),
    ("inbox.state", "State", "状态"),
    ("inbox.lang", "Language", "语言"),
    ("inbox.open", "Open", "待处理"),
    ("inbox.all", "All", "全部"),
    ("inbox.filter", "Filter", "筛选"),
    (
        "inbox.none",
        "Nothing in the queue matches.",
        "队列中没有符合条件的条目。",
    ),
    ("inbox.mention", "Mention", "提及内容"),
    ("inbox.age", "Age", "等待时长"),
    ("inbox.due", "due", "截止"),
    ("inbox.overdue", "overdue", "已超时"),
    ("inbox.assignee", "Assignee", "负责人"),
    ("inbox.approve", "Approve", "批准发送"),
    ("inbox.reject", "Reject", "不回复"),
    ("inbox.save", "Save edit", "保存修改"),
    ("inbox.assign", "Assign", "指派"),
    ("inbox.assign_to", "Assign to", "指派给"),
    ("inbox.reason", "Reason", "原因"),
    ("inbox.reply", "Reply draft", "回复草稿"),
    (
        "inbox.approve_hint",
        "Approve sends the text in the editor: edit it first to approve with an edit.",
        "批准将发送编辑框中的文字；先修改再批准即为修改后发送。",
    ),
    ("inbox.classification", "Classification", "分类"),
    ("inbox.crisis", "Crisis", "危机"),
    ("inbox.yes", "yes", "是"),
    ("inbox.no", "no", "否"),
    ("inbox.template", "Template", "模板"),
    ("inbox.sent_at", "Sent", "已发送"),
    ("inbox.error", "Error", "错误"),
    ("inbox.in_reply_to", "In reply to", "回复的帖子"),
    ("inbox.history", "History", "操作记录"),
    ("inbox.who", "Who", "操作人"),
    ("inbox.action", "Action", "操作"),
    ("inbox.before", "Before", "修改前"),
    ("inbox.after", "After", "修改后"),
    ("inbox.note", "Note", "备注"),
    (
        "inbox.keys",
        "Keys: j / k move, Enter or o open, a approve, r reject.",
        "快捷键：j / k 上下移动，Enter 或 o 打开，a 批准，r 不回复。",
    ),
    (
        "inbox.item_keys",
        "Keys: e edit, a approve, r reject, Esc leaves the editor.",
        "快捷键：e 编辑，a 批准，r 不回复，Esc 退出编辑框。",
    ),
    (
        "inbox.no_such_item",
        "No such item in the queue.",
        "队列中没有该条目。",
    ),
    (
        "inbox.err.empty",
        "The reply text is empty or too long.",
        "回复内容为空或过长。",
    ),
    (
        "inbox.err.illegal",
        "That is no longer possible: someone else may have decided already. Reload the page.",
        "该操作已不可用，可能已有他人处理。请刷新页面。",
    ),
    (
        "inbox.msg.approve",
        "Approved: the reply will be sent.",
        "已批准，回复即将发送。",
    ),
    ("inbox.msg.edit", "Edit saved.", "修改已保存。"),
    (
        "inbox.msg.reject",
        "Rejected: no reply will be sent.",
        "已标记为不回复。",
    ),
    ("inbox.msg.assign", "Assignment saved.", "指派已保存。"),
    ("prio.crisis", "crisis", "危机"),
    ("prio.complaint", "complaint", "投诉"),
    ("prio.question", "question", "咨询"),
    ("prio.lead", "lead", "线索"),
    ("prio.praise", "praise", "好评"),
    ("prio.other", "other", "其他"),
    ("rstate.pending", "pending", "待审核"),
    ("rstate.approved", "approved", "已批准"),
    ("rstate.sending", "sending", "发送中"),
    ("rstate.sent", "sent", "已发送"),
    ("rstate.failed", "failed", "发送失败"),
    ("rstate.rejected", "rejected", "不回复"),
    ("rstate.expired", "expired", "已过期"),
    ("leads.csv", "Download CSV", "下载 CSV"),
    ("leads.none", "No leads yet.", "暂无线索。"),
    ("leads.grade", "Grade", "等级"),
    ("leads.contact", "Contact", "联系方式"),
    ("leads.test_drive", "Test drive", "试驾"),
    ("leads.months", "Months to buy", "预计购车（月）"),
    // Alerts (src/web/alerts.rs) and the hold banner of every page (layout.html).
    ("alerts.title", "Alerts", "危机预警"),
    ("alerts.alert", "Alert", "预警"),
    ("alerts.open", "Open alerts", "未解决的预警"),
    ("alerts.resolved", "Resolved alerts", "已解决的预警"),
    (
        "alerts.none_open",
        "No open alerts.",
        "当前没有未解决的预警。",
    ),
    (
        "alerts.none_resolved",
        "No resolved alerts.",
        "暂无已解决的预警。",
    ),
    ("alerts.level", "Level", "级别"),
    ("alerts.state", "State", "状态"),
    ("alerts.opened_at", "Opened", "触发时间"),
    ("alerts.window", "Window from", "统计窗口起点"),
    ("alerts.counts", "Negative / total", "负面 / 总量"),
    ("alerts.baseline", "Baseline", "基线"),
    ("alerts.resolved_at", "Resolved", "解决时间"),
    ("alerts.acked_by", "Acknowledged by", "确认人"),
    ("alerts.resolved_by", "Resolved by", "解决人"),
    ("alerts.ack", "Acknowledge", "确认跟进"),
    ("alerts.resolve", "Resolve", "标记解决"),
    (
        "alerts.resolve_hint",
        "Resolving the last open crisis alert lifts the crisis hold on publishing.",
        "最后一个未解决的危机预警被标记解决后，危机暂停自动解除。",
    ),
    ("alerts.more", "More", "更多"),
    (
        "alerts.chart_24h",
        "Mentions per hour, last 24 hours",
        "近 24 小时每小时提及量",
    ),
    (
        "alerts.chart_alert",
        "Mentions of this topic around the alert",
        "预警前后该话题的提及量",
    ),
    ("alerts.minutes_per_bar", "minutes per bar", "分钟/柱"),
    ("alerts.negative", "negative", "负面"),
    ("alerts.total", "total", "总量"),
    (
        "alerts.opened_marker",
        "alert opened or escalated",
        "预警触发或升级",
    ),
    ("alerts.changes", "Level changes", "级别变化"),
    ("alerts.recorded", "Recorded", "记录时间"),
    ("alerts.samples", "Sample mentions", "样本提及"),
    ("alerts.no_samples", "No sample mentions.", "没有样本提及。"),
    (
        "alerts.missing_samples",
        "Not in the store",
        "未在存储中找到",
    ),
    ("alerts.deliveries", "Notifications", "通知发送"),
    (
        "alerts.no_deliveries",
        "No notification sinks were configured for this alert.",
        "该预警没有配置通知渠道。",
    ),
    ("alerts.sink", "Sink", "通知渠道"),
    ("alerts.reason", "Why", "原因"),
    ("alerts.attempts", "Attempts", "尝试次数"),
    ("alerts.sent_at", "Sent", "发送时间"),
    ("alerts.next_at", "Next try", "下次尝试"),
    ("alerts.no_such", "No such alert.", "没有该预警。"),
    (
        "alerts.msg.ack",
        "Acknowledged: you are on it.",
        "已确认，由你跟进。",
    ),
    ("alerts.msg.resolve", "Resolved.", "已标记解决。"),
    (
        "alerts.msg.lifted",
        "Resolved: the crisis hold is lifted and publishing resumes.",
        "已标记解决，危机暂停已解除，发布恢复。",
    ),
    ("level.warning", "warning", "警告"),
    ("level.crisis", "crisis", "危机"),
    ("astate.open", "open", "未处理"),
    ("astate.acknowledged", "acknowledged", "已确认"),
    ("astate.resolved", "resolved", "已解决"),
    ("dstate.pending", "pending", "待发送"),
    ("dstate.sent", "sent", "已发送"),
    ("dstate.failed", "failed", "发送失败"),
    ("dreason.opened", "opened", "触发"),
    ("dreason.escalated", "escalated", "升级"),
    (
        "banner.crisis",
        "Crisis hold: publishing is paused",
        "危机暂停：发布已暂停",
    ),
    (
        "banner.pause",
        "Publishing is paused by hand",
        "发布已被手动暂停",
    ),
    ("banner.held", "held categories", "暂停的类别"),
    ("banner.alerts", "See the alerts", "查看预警"),
    (
        "banner.resume",
        "Resume in the Calendar",
        "在发布日历中恢复",
    ),
    // Errors.
    (
        "err.internal",
        "Something went wrong. The server log has the details.",
        "出错了，详情请查看服务器日志。",
    ),
    (
        "err.csrf",
        "This form expired or did not come from herald. Reload the page and try again.",
        "表单已过期或来源无效，请刷新页面后重试。",
    ),
    ("err.not_found", "No such page.", "页面不存在。"),
];

/// The text of `key` in `lang` (the key itself if the table lacks it).
pub fn t(lang: Lang, key: &str) -> &str {
    match STRINGS.iter().find(|(k, _, _)| *k == key) {
        Some((_, en, zh)) => match lang {
            Lang::En => en,
            Lang::Zh => zh,
        },
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        let cases: &[(&str, Option<Lang>)] = &[
            ("zh-CN,zh;q=0.9,en;q=0.8", Some(Lang::Zh)),
            ("en-US,en;q=0.9", Some(Lang::En)),
            ("fr-FR, en;q=0.5, zh;q=0.7", Some(Lang::Zh)),
            ("zh-TW;q=0.2, en-GB;q=0.3", Some(Lang::En)),
            ("de, fr", None),
            ("zh;q=0", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::from_accept_language(header), *want, "{header}");
        }
    }

    #[test]
    fn the_cookie_beats_the_header() {
        assert_eq!(Lang::choose(Some("zh"), Some("en")), Lang::Zh);
        assert_eq!(Lang::choose(Some("xx"), Some("zh-CN")), Lang::Zh);
        assert_eq!(Lang::choose(None, None), Lang::En);
    }

    #[test]
    fn table_has_unique_keys_and_both_languages() {
        let mut keys: Vec<&str> = STRINGS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate keys in STRINGS");
        for (k, en, zh) in STRINGS {
            assert!(!en.is_empty() && !zh.is_empty(), "{k} lacks a language");
        }
        assert_eq!(t(Lang::Zh, "nav.calendar"), "发布日历");
        assert_eq!(t(Lang::En, "nav.calendar"), "Calendar");
        assert_eq!(t(Lang::En, "no.such.key"), "no.such.key");
    }
}
