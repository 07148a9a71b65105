//! The page as HTML: every value from the data is escaped ([`Esc`]), every link checked to be
//! http(s); a little inline CSS (narrow screens first) and script (refresh, the silence form).

use crate::data::{DataError, IncidentView};
use crate::labels::{self, Clock};
use crate::silence::{Silencing, DURATIONS};
use crate::view::{AlertCard, Deliveries, Snapshot, Table, TableRow, USUAL_WEEKS};
use otklik_model::{Alert, Silence};
use std::fmt::{self, Write};

/// Text made safe for HTML content and quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// How the page is rendered besides its data.
pub struct PageOptions<'a> {
    pub clock: Clock,
    pub silencing: &'a Silencing,
    /// The page shows a moment chosen with `--at`, not the present.
    pub fixed_clock: bool,
    /// A message to show on top (a silence just stored, a refused form).
    pub flash: Option<(bool, String)>,
}

/// Incidents shown under an alert before «ещё N».
const SHOWN_INCIDENTS: usize = 3;

/// How often the page reloads itself (unless the silence form is being filled in).
const REFRESH_SECONDS: u32 = 60;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The whole page.
pub fn page(snapshot: &Snapshot, options: &PageOptions<'_>) -> String {
    let mut out = String::with_capacity(32 << 10);
    head(&mut out, "Отклик — дежурная смена");
    header(&mut out, snapshot, options);
    out.push_str("<main>\n");
    alerts_section(&mut out, snapshot, options);
    day_section(&mut out, &snapshot.table, options.clock);
    silences_section(&mut out, &snapshot.silences, options);
    deliveries_section(&mut out, &snapshot.deliveries, options.clock);
    out.push_str("</main>\n<footer><a href=\"/api/alerts\">/api/alerts</a> · ");
    out.push_str("<a href=\"/healthz\">/healthz</a></footer>\n");
    let _ = write!(out, "<script>const REFRESH_SECONDS = {};\n{SCRIPT}</script>\n</body>\n</html>\n", REFRESH_SECONDS);
    out
}

/// A short page of its own: the answer to a silence form that was refused.
pub fn message_page(title: &str, message: &str) -> String {
    let mut out = String::new();
    head(&mut out, title);
    let _ = write!(out, "<main><h1>{}</h1><p class=\"warn\">{}</p>", Esc(title), Esc(message));
    out.push_str("<p><a href=\"/\">← на страницу дежурного</a></p></main>\n</body>\n</html>\n");
    out
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        Esc(title)
    );
}

fn header(out: &mut String, snapshot: &Snapshot, options: &PageOptions<'_>) {
    let clock = options.clock;
    out.push_str("<header>\n<h1>Отклик · дежурная смена</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"meta\">Данные на <time datetime=\"{}\">{}</time> ({}) · обновляется раз в минуту</p>",
        snapshot.now.to_rfc3339(),
        clock.long(snapshot.now),
        clock.zone()
    );
    if options.fixed_clock {
        out.push_str("<p class=\"warn\">Страница показывает выбранный момент прошлого (<code>--at</code>), ");
        out.push_str("а не текущее состояние.</p>\n");
    }
    if let Some((ok, message)) = &options.flash {
        let _ = writeln!(out, "<p class=\"{}\" id=\"flash\">{}</p>", if *ok { "ok" } else { "warn" }, Esc(message));
    }
    out.push_str(
        "<nav><a href=\"#alerts\">Тревоги</a><a href=\"#day\">Сутки</a><a href=\"#silences\">Заглушения</a>\
         <a href=\"#deliveries\">Доставка</a></nav>\n</header>\n",
    );
}

fn unavailable(out: &mut String, what: &str, error: &DataError) {
    let class = if matches!(error, DataError::Unavailable(_)) { "note" } else { "warn" };
    let _ = writeln!(out, "<p class=\"{class}\">{what}: {}</p>", Esc(&error.to_string()));
}

fn alerts_section(out: &mut String, snapshot: &Snapshot, options: &PageOptions<'_>) {
    out.push_str("<section id=\"alerts\">\n");
    let cards = match &snapshot.alerts {
        Ok(cards) => cards,
        Err(e) => {
            out.push_str("<h2>Тревоги</h2>\n");
            unavailable(out, "Не удалось прочитать тревоги", e);
            out.push_str("</section>\n");
            return;
        }
    };
    let (open, closed): (Vec<&AlertCard>, Vec<&AlertCard>) = cards.iter().partition(|c| c.open);
    let _ = writeln!(out, "<h2>Открытые тревоги <span class=\"count\">{}</span></h2>", open.len());
    if open.is_empty() {
        out.push_str("<p class=\"ok\">Открытых тревог нет.</p>\n");
    }
    for card in &open {
        alert_card(out, card, options);
    }
    let _ = writeln!(out, "<h2>Закрытые за 7 суток <span class=\"count\">{}</span></h2>", closed.len());
    for card in &closed {
        alert_card(out, card, options);
    }
    out.push_str("</section>\n");
}

fn where_of(alert: &Alert) -> String {
    match (&alert.municipality, alert.municipality_name.is_empty()) {
        (None, _) => "вся область".to_owned(),
        (Some(code), true) => code.clone(),
        (Some(_), false) => alert.municipality_name.clone(),
    }
}

fn alert_card(out: &mut String, card: &AlertCard, options: &PageOptions<'_>) {
    let (a, clock) = (&card.alert, options.clock);
    let severity = a.severity.as_str();
    let state = if card.open && card.later_event.is_some() { "открыта" } else { labels::state(a.state) };
    let _ = writeln!(
        out,
        "<article class=\"alert sev-{severity}{}\" data-alert=\"{}\">\n<details id=\"alert-{}\"{}>",
        if card.open { " open" } else { "" },
        Esc(&a.id),
        Esc(&a.id),
        if card.expanded { " open" } else { "" }
    );
    let _ = writeln!(
        out,
        "<summary><span class=\"badge sev-{severity}\">{}</span> <span class=\"state\">{state}</span> \
         <strong class=\"topic\">{}</strong> — <span class=\"place\">{}</span></summary>",
        labels::severity(a.severity),
        Esc(&title(a)),
        Esc(&where_of(a))
    );
    match &a.overdue {
        Some(overdue) => overdue_facts(out, a, overdue, clock),
        None => alert_facts(out, a, clock),
    }
    alert_notes(out, card, clock);
    incidents(out, card, clock);
    if matches!(options.silencing, Silencing::Enabled(_)) && card.open {
        let _ = writeln!(
            out,
            "<button type=\"button\" class=\"silence-btn\" data-series=\"{}\">Заглушить…</button>",
            Esc(&a.key())
        );
    }
    out.push_str("</details>\n</article>\n");
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A spike's topic, or the organisation an overdue alert is about.
fn title(a: &Alert) -> String {
    match &a.overdue {
        Some(o) => format!("Нет ответа жителям: {}", o.organisation_name),
        None => capitalised(&labels::topic(a.topic.id())),
    }
}

/// How many complaints are past which deadline, and since when the oldest waits.
fn overdue_facts(out: &mut String, a: &Alert, o: &otklik_model::AlertOverdue, clock: Clock) {
    let hours = o.deadline_secs / 3600;
    let count = format!("{} {}", o.complaints, labels::plural(o.complaints, ["жалоба", "жалобы", "жалоб"]));
    let raised = format!("{} · {}", clock.short(a.raised_at), labels::method(&a.method));
    out.push_str("<dl class=\"facts\">");
    for (term, value) in [
        ("Срок ответа", format!("{hours} ч")),
        ("Без ответа дольше срока", count),
        ("Самая давняя", clock.short(o.oldest_at)),
        ("Событие", raised),
    ] {
        let _ = write!(out, "<div><dt>{term}</dt><dd>{}</dd></div>", Esc(&value));
    }
    out.push_str("</dl>\n");
}

fn alert_facts(out: &mut String, a: &Alert, clock: Clock) {
    let window = format!("{}–{}", clock.short(a.window_start), clock.time_after(a.window_start, a.window_end));
    let voices = format!("{} при ожидаемых {}", a.observed, labels::number(a.expected));
    let raised = format!("{} · {}", clock.short(a.raised_at), labels::method(&a.method));
    out.push_str("<dl class=\"facts\">");
    for (term, value) in
        [("Окно", window), ("Голоса", voices), ("Инциденты", a.incidents.to_string()), ("Событие", raised)]
    {
        let _ = write!(out, "<div><dt>{term}</dt><dd>{}</dd></div>", Esc(&value));
    }
    out.push_str("</dl>\n");
}

fn alert_notes(out: &mut String, card: &AlertCard, clock: Clock) {
    let a = &card.alert;
    if let Some(note) = &a.expected_note {
        let _ = writeln!(out, "<p class=\"note\">Ожидаемо по календарю: {} — не рассылается.</p>", Esc(note));
    }
    if let Some(later) = card.later_event {
        let _ = writeln!(
            out,
            "<p class=\"note\">Последнее событие — «{}» {}, позже момента страницы.</p>",
            labels::state(a.state),
            clock.short(later)
        );
    }
    if let Some(s) = &card.silence {
        let _ = writeln!(
            out,
            "<p class=\"silenced\">Заглушена до {}: {} ({})</p>",
            clock.short(s.ends_at),
            Esc(&s.reason),
            Esc(&s.created_by)
        );
    }
    if !card.deliveries.is_empty() {
        let told: Vec<String> = card
            .deliveries
            .iter()
            .map(|(to, outcome, at)| format!("{} — {} {}", Esc(to), labels::outcome(*outcome), clock.short(*at)))
            .collect();
        let _ = writeln!(out, "<p class=\"deliv\">Уведомления: {}</p>", told.join("; "));
    }
}

fn incidents(out: &mut String, card: &AlertCard, clock: Clock) {
    let overdue = card.alert.overdue.is_some();
    let heading =
        if overdue { "Жалобы без ответа, самые давние" } else { "Инциденты" };
    let _ = write!(out, "<h3>{heading}</h3>\n<ol class=\"incidents\">\n");
    if card.incidents.is_empty() {
        // The store no longer holds the posts: the alert's own top incidents still tell where to look.
        for top in &card.alert.top_incidents {
            let head = if overdue { "без ответа".to_owned() } else { voices(top.voices) };
            let _ = write!(out, "<li><div class=\"inc-head\"><span class=\"voices\">{head}</span></div>");
            // An overdue alert's complaints carry no excerpt: their uid says where they are.
            let uid = top.uid.to_string();
            let excerpt = if top.excerpt.is_empty() { &uid } else { &top.excerpt };
            let _ = write!(out, "<p class=\"excerpt\">{} ", Esc(excerpt));
            link(out, &top.url, "открыть");
            out.push_str("</p></li>\n");
        }
    }
    for incident in card.incidents.iter().take(SHOWN_INCIDENTS) {
        incident_item(out, incident, clock);
    }
    out.push_str("</ol>\n");
    let more = card.incidents.len().saturating_sub(SHOWN_INCIDENTS);
    if more > 0 {
        let _ = writeln!(
            out,
            "<details class=\"more\"><summary>Ещё {more} {}</summary><ol class=\"incidents\" start=\"{}\">",
            labels::plural(more as u64, ["инцидент", "инцидента", "инцидентов"]),
            SHOWN_INCIDENTS + 1
        );
        for incident in &card.incidents[SHOWN_INCIDENTS..] {
            incident_item(out, incident, clock);
        }
        out.push_str("</ol></details>\n");
    }
}

fn voices(n: u64) -> String {
    format!("{n} {}", labels::plural(n, ["голос", "голоса", "голосов"]))
}

fn incident_item(out: &mut String, i: &IncidentView, clock: Clock) {
    let posts = format!("{} {}", i.posts, labels::plural(i.posts, ["сообщение", "сообщения", "сообщений"]));
    let when = format!("{}–{}", clock.short(i.first_seen), clock.time_after(i.first_seen, i.last_seen));
    let _ = write!(
        out,
        "<li class=\"incident\"><div class=\"inc-head\"><span class=\"voices\">{}</span> · {posts} · {when}",
        voices(i.voices)
    );
    if !i.place.is_empty() {
        let _ = write!(out, " · <span class=\"where\">{}</span>", Esc(&i.place));
    }
    let _ = write!(out, "</div><p class=\"excerpt\">{} ", Esc(&i.excerpt));
    link(out, &i.url, "открыть");
    out.push_str("</p>");
    if !i.examples.is_empty() {
        let _ = write!(out, "<details class=\"examples\"><summary>Сообщения ({})</summary><ul>", i.examples.len());
        for post in &i.examples {
            let _ = write!(out, "<li><time>{}</time> ", clock.short(post.published_at));
            link(out, &post.url, if post.is_voice { "голос" } else { "не голос" });
            let _ = write!(out, " {}</li>", Esc(&post.text));
        }
        out.push_str("</ul></details>");
    }
    out.push_str("</li>\n");
}

/// A link that opens elsewhere, without telling the other site where it came from; a URL that
/// is not http(s) is shown as text.
fn link(out: &mut String, url: &str, label: &str) {
    if url.starts_with("https://") || url.starts_with("http://") {
        let (url, label) = (Esc(url), Esc(label));
        let _ = write!(out, "<a href=\"{url}\" rel=\"noopener noreferrer\" target=\"_blank\">{label}</a>");
    } else if !url.is_empty() {
        let _ = write!(out, "<span class=\"url\">{}</span>", Esc(url));
    }
}

fn day_section(out: &mut String, table: &Result<Table, DataError>, clock: Clock) {
    out.push_str("<section id=\"day\">\n<h2>Последние 24 часа</h2>\n");
    let table = match table {
        Ok(table) => table,
        Err(e) => {
            unavailable(out, "Не удалось прочитать голоса по часам", e);
            out.push_str("</section>\n");
            return;
        }
    };
    let _ = writeln!(
        out,
        "<p class=\"note\">Голоса жителей (жалобы и вопросы) с {} по {}. <b>Обычно</b> — среднее за те же 24 часа {}. \
         Где открыта тревога, рядом ⚑ — ожидание детектора для окна тревоги.</p>",
        clock.short(table.from),
        clock.time_after(table.from, table.to),
        usual_basis(table.weeks)
    );
    if table.rows.is_empty() {
        out.push_str("<p class=\"ok\">За сутки голосов нет.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table class=\"day\">\n<thead><tr><th>Муниципалитет</th><th>Тема</th>\
         <th class=\"num\">За 24 ч</th><th class=\"num\">Обычно</th></tr></thead>\n<tbody>\n",
    );
    for row in &table.rows {
        day_row(out, row, clock);
    }
    out.push_str("</tbody></table></div>\n");
    if table.hidden > 0 {
        let _ = writeln!(out, "<p class=\"note\">И ещё {} строк с меньшим ростом.</p>", table.hidden);
    }
    out.push_str("</section>\n");
}

fn usual_basis(weeks: i64) -> String {
    match weeks {
        0 => "прошлых недель (истории в хранилище ещё нет)".to_owned(),
        w if w == USUAL_WEEKS => format!("{USUAL_WEEKS} предыдущих недель"),
        w => format!("предыдущих недель (в хранилище история только за {w} из {USUAL_WEEKS})"),
    }
}

fn day_row(out: &mut String, row: &TableRow, clock: Clock) {
    let hot = row.alert.is_some() || row.observed as f64 >= 2.0 * row.usual.unwrap_or(0.0) + 3.0;
    let name = if row.municipality_name.is_empty() {
        if row.municipality.is_empty() {
            "не определён"
        } else {
            &row.municipality
        }
    } else {
        &row.municipality_name
    };
    let _ = write!(
        out,
        "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}",
        if hot { " class=\"hot\"" } else { "" },
        Esc(name),
        Esc(&labels::topic(&row.topic)),
        row.observed,
        row.usual.map_or("—".to_owned(), labels::number)
    );
    if let Some((from, to, observed, expected)) = row.alert {
        let _ = write!(
            out,
            " <span class=\"flag\">⚑ {} при ожидаемых {} за {}–{}</span>",
            observed,
            labels::number(expected),
            clock.short(from),
            clock.time_after(from, to)
        );
    }
    out.push_str("</td></tr>\n");
}

fn silences_section(out: &mut String, silences: &Result<Vec<Silence>, DataError>, options: &PageOptions<'_>) {
    out.push_str("<section id=\"silences\">\n<h2>Заглушения</h2>\n");
    match silences {
        Err(e) => unavailable(out, "Заглушения недоступны", e),
        Ok(list) if list.is_empty() => out.push_str("<p class=\"note\">Заглушений нет.</p>\n"),
        Ok(list) => silence_list(out, list, options.clock),
    }
    match options.silencing {
        Silencing::NoToken => out.push_str(
            "<p class=\"warn\">Заглушение со страницы отключено: не настроен токен \
             (<code>[serve] silence_token_env</code> или <code>silence_token_file</code>).</p>\n",
        ),
        Silencing::PastPage => out.push_str("<p class=\"note\">На странице прошлого момента заглушать нельзя.</p>\n"),
        Silencing::Enabled(_) => silence_form(out),
    }
    out.push_str("</section>\n");
}

fn silence_list(out: &mut String, list: &[Silence], clock: Clock) {
    out.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th>Серия</th><th>С</th><th>До</th><th>Причина</th><th>Кто</th>\
         </tr></thead>\n<tbody>\n",
    );
    for s in list {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            Esc(&s.series),
            clock.short(s.starts_at),
            clock.short(s.ends_at),
            Esc(&s.reason),
            Esc(&s.created_by)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn silence_form(out: &mut String) {
    out.push_str(
        "<form method=\"post\" action=\"/silences\" id=\"silence-form\" class=\"silence-form\" autocomplete=\"off\">\n\
         <label>Серия <input name=\"series\" required maxlength=\"64\" placeholder=\"56705000:heating\"></label>\n\
         <label>На срок <select name=\"duration\">",
    );
    for (key, _, label) in DURATIONS {
        let selected = if *key == "6h" { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{key}\"{selected}>{label}</option>");
    }
    out.push_str(
        "</select></label>\n\
         <label>Причина <input name=\"reason\" required maxlength=\"500\" \
         placeholder=\"авария известна, бригада на месте\"></label>\n\
         <label>Кто <input name=\"author\" maxlength=\"100\"></label>\n\
         <label>Токен <input type=\"password\" name=\"token\" required></label>\n\
         <button type=\"submit\">Заглушить</button>\n</form>\n\
         <p class=\"note\">Заглушённая тревога записывается, но не рассылается. Серия — «ОКТМО:тема» или \
         «region:тема»; «*» — любой муниципалитет или любая тема.</p>\n",
    );
}

fn deliveries_section(out: &mut String, deliveries: &Result<Deliveries, DataError>, clock: Clock) {
    out.push_str("<section id=\"deliveries\">\n<h2>Доставка уведомлений</h2>\n");
    match deliveries {
        Err(e) => unavailable(out, "Журнал доставки недоступен", e),
        Ok(d) if d.notifications.is_empty() => out.push_str("<p class=\"note\">За 7 суток уведомлений не было.</p>\n"),
        Ok(d) => {
            receivers(out, d, clock);
            notifications(out, d, clock);
        }
    }
    out.push_str("</section>\n");
}

fn receivers(out: &mut String, d: &Deliveries, clock: Clock) {
    out.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th>Получатель</th><th class=\"num\">Доставлено</th>\
         <th class=\"num\">Ждут</th><th class=\"num\">Не доставлено</th><th class=\"num\">Не отправлялись</th>\
         <th>Последняя доставка</th></tr></thead>\n<tbody>\n",
    );
    for r in &d.receivers {
        let _ = writeln!(
            out,
            "<tr{}><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            if r.disabled || r.failed > 0 { " class=\"hot\"" } else { "" },
            Esc(&r.name),
            if r.disabled { " (отключён)" } else { "" },
            r.delivered,
            r.pending,
            r.failed,
            r.suppressed,
            r.last_delivered.map_or("—".to_owned(), |t| clock.short(t))
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn notifications(out: &mut String, d: &Deliveries, clock: Clock) {
    out.push_str(
        "<div class=\"scroll\"><table class=\"notifications\">\n<thead><tr><th>Когда</th><th>Получатель</th>\
         <th>Группа</th><th>Итог</th><th class=\"num\">Попыток</th><th>Подробности</th></tr></thead>\n<tbody>\n",
    );
    for n in &d.notifications {
        let mut detail = n.detail.clone();
        if n.status_code != 0 {
            detail = format!("HTTP {} {detail}", n.status_code);
        }
        if let Some(next) = n.next_attempt_at {
            detail = format!("{detail} · следующая попытка {}", clock.short(next));
        }
        let _ = writeln!(
            out,
            "<tr class=\"out-{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            n.outcome.as_str(),
            clock.short(n.at),
            Esc(&n.receiver),
            Esc(&n.group_key),
            labels::outcome(n.outcome),
            n.attempts,
            Esc(detail.trim())
        );
    }
    out.push_str("</tbody></table></div>\n");
    if d.hidden > 0 {
        let _ = writeln!(out, "<p class=\"note\">И ещё {} уведомлений раньше.</p>", d.hidden);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_html_reserves() {
        let text = "<script>alert('x')</script> & \"q\"";
        assert_eq!(Esc(text).to_string(), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
        assert_eq!(Esc("Кузнецк").to_string(), "Кузнецк");
    }

    #[test]
    fn only_http_links_are_links() {
        let mut out = String::new();
        link(&mut out, "javascript:alert(1)", "открыть");
        assert!(!out.contains("href"), "{out}");
        out.clear();
        link(&mut out, "https://vk.com/wall-1_2?a=1&b=\"", "открыть");
        assert!(out.contains("href=\"https://vk.com/wall-1_2?a=1&amp;b=&quot;\""), "{out}");
    }
}
