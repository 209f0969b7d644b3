//! The UI's languages and every string it shows, in one table.
//!
//! A page asks for `t(lang, "key")`; a later page adds its keys to [`STRINGS`]. The language is
//! the `herald_lang` cookie if set (the switch in the page header), else the best of
//! `Accept-Language`, else English. A missing key shows the key itself, so a gap is visible
//! rather than silent; a unit test keeps the table free of duplicates and empty cells.

pub use crate::lang::Lang;

/// The cookie that remembers the switch.
pub const LANG_COOKIE: &str = "herald_lang";

impl Lang {
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
    ("nav.reports", "Reports", "数据周报"),
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
    ("media.alt", "Alt text", "图片说明"),
    ("media.pictures", "Pictures", "配图"),
    ("media.picture", "Picture", "配图"),
    ("media.none", "(no picture)", "（不配图）"),
    (
        "media.hint",
        "A picture from the media library (content-plan/media/) goes with the reply. Its alt text is required: say what it shows, for people who cannot see it.",
        "可从素材库（content-plan/media/）选一张图片随回复发送。必须填写图片说明，写明图片内容，方便看不到图片的人。",
    ),
    (
        "media.err.alt_missing",
        "The picture needs an alt text: say what it shows. Nothing was saved; your edit is kept below.",
        "所选图片需要填写图片说明（写明图片内容）。尚未保存，你的修改保留在下方。",
    ),
    (
        "media.err.alt_too_long",
        "The alt text is too long: the limit is {max} characters and it has {len}. Nothing was saved; your edit is kept below.",
        "图片说明过长：上限为 {max} 字，当前为 {len} 字。尚未保存，你的修改保留在下方。",
    ),
    (
        "media.err.no_such_picture",
        "That picture is not in the media library (or is not a JPEG, PNG, WebP or GIF image). Nothing was saved; your edit is kept below.",
        "素材库中没有该图片（或它不是 JPEG、PNG、WebP、GIF 图片）。尚未保存，你的修改保留在下方。",
    ),
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
    (
        "hold.none_crisis",
        "No pause by hand: the crisis hold above keeps its categories back until its alerts are resolved. You can also hold other categories here.",
        "未手动暂停：上方的危机暂停会在预警解决前继续保留其类别。你也可以在此暂停其他类别。",
    ),
    ("hold.crisis_alerts", "Open crisis alerts", "未解决的危机预警"),
    ("cal.days", "7 days", "7 天"),
    ("cal.week_mon", "Week (Mon–Sun)", "整周（周一至周日）"),
    (
        "cal.bad_date",
        "The date must be a day from 1970-01-01 to 9999-12-31, written YYYY-MM-DD.",
        "日期须为 1970-01-01 至 9999-12-31 之间的一天，格式为 YYYY-MM-DD。",
    ),
    (
        "cal.bad_view",
        "The view must be days, week or day.",
        "视图只能是 days、week 或 day。",
    ),
    (
        "cal.empty",
        "Nothing is scheduled in these days. Add posts to the content plan (content-plan/) and run “herald plan”, or let “herald run” plan them.",
        "这几天没有排期。请在内容计划（content-plan/）中添加帖子并运行「herald plan」，或让「herald run」自动排期。",
    ),
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
    (
        "men.empty",
        "No mentions are stored yet. herald stores what its sources find: add a source under [[sources]] in herald.toml, then run “herald run” (or “herald replay” a file of mentions).",
        "还没有存储任何提及。herald 会存储信息源发现的内容：请在 herald.toml 的 [[sources]] 中添加信息源，然后运行「herald run」（或用「herald replay」导入提及文件）。",
    ),
    ("men.clear", "Clear the filters", "清除筛选条件"),
    ("men.show_all", "Show all", "展开全文"),
    ("men.show_less", "Show less", "收起"),
    ("men.chars", "characters", "字"),
    (
        "err.bad_page",
        "The page number must be a whole number from 1 to 100000.",
        "页码须为 1 至 100000 之间的整数。",
    ),
    // Classification values (the stored values are English words; pages show these).
    ("sent.negative", "negative", "负面"),
    ("sent.neutral", "neutral", "中性"),
    ("sent.positive", "positive", "正面"),
    ("intent.complaint", "complaint", "投诉"),
    ("intent.question", "question", "咨询"),
    ("intent.purchase", "purchase", "购买意向"),
    ("intent.praise", "praise", "好评"),
    ("intent.other", "other", "其他"),
    ("grade.hot", "hot", "高意向"),
    ("grade.warm", "warm", "中意向"),
    ("grade.cold", "cold", "低意向"),
    ("grade.unvalued", "unvalued", "未评级"),
    ("lead.phone", "phone", "电话"),
    ("lead.email", "e-mail", "邮箱"),
    ("lead.test_drive", "test drive", "想试驾"),
    ("lead.months", "months to buy", "个月内购车"),
    ("action.draft", "draft", "起草"),
    ("action.edit", "edit", "修改"),
    ("action.approve", "approve", "批准"),
    ("action.reject", "reject", "不回复"),
    ("action.assign", "assign", "指派"),
    ("action.expire", "expire", "过期"),
    ("action.claim", "claim", "交付发送"),
    ("action.sent", "sent", "已发送"),
    ("action.fail", "fail", "失败"),
    ("action.retry", "retry", "重试"),
    ("action.attach", "picture", "配图"),
    ("age.d", "d", "天"),
    ("age.h", "h", "小时"),
    ("age.m", "m", "分钟"),
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
    (
        "inbox.empty",
        "Nothing waits for a reply. herald drafts a reply here when a source finds a mention that needs one (complaints, questions, leads); mentions arrive while “herald run” listens. See all items, answered and rejected ones too:",
        "目前没有待回复的条目。信息源发现需要回复的提及（投诉、咨询、线索）时，herald 会在这里起草回复；「herald run」运行时持续接收提及。查看全部条目（包括已回复和不回复的）：",
    ),
    (
        "inbox.empty_filtered",
        "Try other filters, or clear them:",
        "请换用其他筛选条件，或清除筛选：",
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
    ("inbox.nobody", "(nobody)", "（无人）"),
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
        "The reply text is empty: write a reply, or reject the item.",
        "回复内容为空：请填写回复，或选择不回复。",
    ),
    (
        "inbox.err.too_long",
        "The reply is too long: the limit is {max} characters and it has {len}. Shorten it and try again; your edit is kept below.",
        "回复过长：上限为 {max} 字，当前为 {len} 字。请缩短后重试，你的修改保留在下方。",
    ),
    (
        "inbox.cannot_answer",
        "herald cannot answer here: no configured channel can reply on {platform}. Answer there by hand:",
        "herald 无法在此回复：没有已配置的渠道可以在 {platform} 上回复。请手动前往原文回复：",
    ),
    (
        "inbox.cannot_answer_nolink",
        "herald cannot answer here: no configured channel can reply on {platform}, and the mention has no link. Answer there by hand, then reject this item.",
        "herald 无法在此回复：没有已配置的渠道可以在 {platform} 上回复，且该提及没有链接。请手动回复，然后将此条目标为不回复。",
    ),
    ("inbox.answer_there", "open the mention", "打开原文"),
    (
        "inbox.by_hand",
        "by hand",
        "需手动回复",
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
    (
        "leads.none",
        "No leads yet. Mentions that show purchase interest become leads here.",
        "暂无线索。表现出购买意向的提及会出现在这里。",
    ),
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
        "alerts.none_open_hint",
        "herald raises an alert when negative mentions of a topic spike above their baseline; the chart above shows the last 24 hours. Alerts are sent to the sinks under [alerts] in herald.toml.",
        "当某个话题的负面提及量明显高于基线时，herald 会触发预警；上方图表显示近 24 小时的情况。预警会发送到 herald.toml 中 [alerts] 配置的通知渠道。",
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
    ("banner.crisis_alerts", "open crisis alerts", "未解决的危机预警"),
    ("banner.alerts", "See the alerts", "查看预警"),
    (
        "banner.resume",
        "Resume in the Calendar",
        "在发布日历中恢复",
    ),
    // Reports (src/web/reports.rs); the report's own words are in report::html.
    ("reports.title", "Weekly report", "数据周报"),
    ("reports.prev", "Week before", "上一周"),
    ("reports.next", "Week after", "下一周"),
    ("reports.week_of", "Week of", "周起始日"),
    ("reports.last_full", "Last full week", "上一个完整周"),
    ("reports.pick", "Week of the day", "选择日期所在周"),
    ("reports.go", "Show", "查看"),
    ("reports.download", "Download", "下载"),
    (
        "reports.download_hint",
        "The HTML file is self-contained: it can be e-mailed as it is.",
        "HTML 文件自带样式与图表，可直接作为邮件附件发送。",
    ),
    (
        "reports.future",
        "That week has not begun yet.",
        "该周尚未开始。",
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

/// `text` with each `{name}` replaced by its value from `args` (for strings that carry numbers
/// or names: `t(lang, "inbox.err.too_long")` has `{max}` and `{len}`).
pub fn fill(text: &str, args: &[(&str, &str)]) -> String {
    args.iter().fold(text.to_string(), |out, (name, value)| {
        out.replace(&format!("{{{name}}}"), value)
    })
}

/// The label of a stored value (`group.value`: a sentiment `sent`, an intent `intent`, a lead
/// grade `grade`, …) in `lang`; a value the table lacks is shown as stored.
pub fn label(lang: Lang, group: &str, value: &str) -> String {
    let key = format!("{group}.{value}");
    match STRINGS.iter().find(|(k, _, _)| *k == key) {
        Some((_, en, zh)) => match lang {
            Lang::En => en.to_string(),
            Lang::Zh => zh.to_string(),
        },
        None => value.to_string(),
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

    #[test]
    fn placeholders_are_the_same_in_both_languages() {
        let names = |s: &str| {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            v.sort();
            v
        };
        for (k, en, zh) in STRINGS {
            assert_eq!(names(en), names(zh), "{k}");
        }
        assert_eq!(
            fill(
                t(Lang::En, "inbox.err.too_long"),
                &[("max", "5000"), ("len", "5001")]
            ),
            "The reply is too long: the limit is 5000 characters and it has 5001. Shorten it and try again; your edit is kept below."
        );
    }

    #[test]
    fn stored_values_get_labels_and_unknown_values_stay_as_stored() {
        assert_eq!(label(Lang::Zh, "sent", "negative"), "负面");
        assert_eq!(label(Lang::Zh, "intent", "purchase"), "购买意向");
        assert_eq!(label(Lang::Zh, "grade", "hot"), "高意向");
        assert_eq!(label(Lang::En, "grade", "hot"), "hot");
        assert_eq!(label(Lang::Zh, "intent", "gossip"), "gossip");
        assert_eq!(label(Lang::Zh, "sent", ""), "");
    }
}
