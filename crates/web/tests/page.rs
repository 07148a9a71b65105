//! The page over in-memory data: what it shows, that it escapes, that it fits a phone, and that
//! silencing needs the configured token.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use otklik_model::{
    Alert, AlertIncident, AlertSeverity, AlertState, DeliveryOutcome, DeliveryRecord, Schema, Silence, Topic,
};
use otklik_web::memory::MemoryData;
use otklik_web::{router, ExamplePost, HourCell, IncidentView, PageConfig, Token};
use std::sync::Arc;
use tower::ServiceExt;

const TOKEN: &str = "the-shift-token-1234567890";

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0).unwrap()
}

fn alert(state: AlertState, raised_at: DateTime<Utc>) -> Alert {
    Alert {
        schema: Schema,
        id: "56705000:heating:20261120T03".into(),
        kind: otklik_model::AlertKind::Spike,
        state,
        severity: AlertSeverity::High,
        method: "baseline".into(),
        expected_note: None,
        municipality: Some("56705000".into()),
        municipality_name: "город Кузнецк".into(),
        topic: Topic::Heating,
        window_start: at(20, 3, 0),
        window_end: at(20, 6, 0),
        observed: 22,
        expected: 0.1,
        upper_bound: Some(3),
        p_value: 1e-12,
        incidents: 9,
        voices: 22,
        top_incidents: vec![AlertIncident {
            uid: "vk:-100007:87391".parse().unwrap(),
            url: "https://vk.com/wall-100007_87391".into(),
            excerpt: "Кузнецк, ул. Белинского 112. Проснулись от холода".into(),
            voices: 4,
        }],
        raised_at,
        overdue: None,
    }
}

fn incident(excerpt: &str) -> IncidentView {
    IncidentView {
        id: "vk:-100007:87391".into(),
        url: "https://vk.com/wall-100007_87391".into(),
        municipality: Some("56705000".into()),
        topic: Some("heating".into()),
        place: "белинс… 112".into(),
        excerpt: excerpt.into(),
        voices: 4,
        posts: 5,
        first_seen: at(20, 3, 24),
        last_seen: at(20, 5, 40),
        examples: vec![ExamplePost {
            url: "https://vk.com/wall-100007_87391?reply=87393".into(),
            published_at: at(20, 3, 40),
            text: "У нас на Свердлова 81 то же самое, отопления нет".into(),
            is_voice: true,
        }],
    }
}

fn cell(hour: DateTime<Utc>, voices: u64) -> HourCell {
    HourCell {
        hour,
        municipality: "56705000".into(),
        municipality_name: "город Кузнецк".into(),
        topic: "heating".into(),
        voices,
    }
}

fn demo_data() -> MemoryData {
    let mut hourly = vec![cell(at(20, 4, 0), 14), cell(at(20, 5, 0), 8)];
    // The same hours 8 weeks back: 8 voices in all, a usual of 1 a day.
    hourly.extend((1..=8).map(|k| cell(at(20, 4, 0) - TimeDelta::weeks(k), 1)));
    MemoryData {
        alerts: vec![alert(AlertState::Updated, at(20, 5, 15))],
        incidents: vec![incident("Кузнецк, ул. Белинского 112. Проснулись от холода, батареи ледяные")],
        hourly,
        deliveries: vec![DeliveryRecord {
            schema: Schema,
            notification_id: "cur-webhook:56705000:1".into(),
            receiver: "cur-webhook".into(),
            group_key: "56705000".into(),
            alert_ids: vec!["56705000:heating:20261120T03".into()],
            attempt: 1,
            at: at(20, 4, 1),
            outcome: DeliveryOutcome::Delivered,
            status_code: 200,
            detail: String::new(),
            next_attempt_at: None,
            message_ids: vec![],
            notification: None,
        }],
        ..MemoryData::default()
    }
}

fn config(token: Option<&str>) -> PageConfig {
    PageConfig { silence_token: token.map(|t| Token::new(t.into())), utc_offset_hours: 3, ..PageConfig::default() }
}

/// A status and a body (or what a test makes of an answer).
type Answer = (StatusCode, String);

async fn get(data: Arc<MemoryData>, config: PageConfig, uri: &str) -> Answer {
    let response = router(data, config).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Posts a silence form; the answer's `Location` (or nothing), a newline, and its body.
async fn post_silence(data: Arc<MemoryData>, config: PageConfig, body: &str, bearer: Option<&str>) -> Answer {
    let mut request = Request::post("/silences").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router(data, config).oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = response.status();
    let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, format!("{location}\n{}", String::from_utf8_lossy(&body)))
}

/// The same data moved so that the burst's 06:00 UTC is `by` later (for pages of the present).
fn shifted(mut data: MemoryData, by: TimeDelta) -> MemoryData {
    for a in &mut data.alerts {
        (a.window_start, a.window_end, a.raised_at) = (a.window_start + by, a.window_end + by, a.raised_at + by);
    }
    for i in &mut data.incidents {
        (i.first_seen, i.last_seen) = (i.first_seen + by, i.last_seen + by);
        i.examples.iter_mut().for_each(|p| p.published_at += by);
    }
    data.hourly.iter_mut().for_each(|c| c.hour += by);
    data.deliveries.iter_mut().for_each(|d| d.at += by);
    data
}

/// The demo data as if the burst were now.
fn live_data() -> Arc<MemoryData> {
    Arc::new(shifted(demo_data(), Utc::now() - at(20, 6, 0)))
}

/// The page as of 2026-11-20 06:00 UTC (09:00 in Penza).
fn at_burst(token: Option<&str>) -> PageConfig {
    PageConfig { at: Some(at(20, 6, 0)), ..config(token) }
}

#[tokio::test]
async fn the_page_shows_the_open_alert_its_incidents_and_the_day_against_the_usual() {
    let (status, page) = get(Arc::new(demo_data()), at_burst(None), "/").await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "Открытые тревоги <span class=\"count\">1</span>",
        "Отопление</strong> — <span class=\"place\">город Кузнецк</span>",
        "22 при ожидаемых 0,1",
        "20.11 06:00–09:00",
        "Проснулись от холода, батареи ледяные",
        "4 голоса",
        "У нас на Свердлова 81 то же самое",
        "cur-webhook — доставлено 20.11 07:01",
        "Данные на <time datetime=\"2026-11-20T06:00:00+00:00\">20.11.2026 09:00</time> (UTC+3)",
    ] {
        assert!(page.contains(shown), "{shown:?} missing from:\n{page}");
    }
    // 22 voices in the last 24 h against a usual of 1 (8 voices over 8 weeks), and the
    // detector's own expectation for the alert's window — the page says which is which.
    let row = "<td class=\"num\">22</td><td class=\"num\">1 <span class=\"flag\">⚑ 22 при ожидаемых 0,1";
    assert!(page.contains(row), "{page}");
    assert!(page.contains("среднее за те же 24 часа 8 предыдущих недель"), "{page}");
    assert!(page.contains("ожидание детектора для окна тревоги"), "{page}");
    // Delivery status: per receiver, and each notification at its latest attempt.
    let receiver = "<tr><td>cur-webhook</td><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">0</td>";
    assert!(page.contains(receiver), "{page}");
    let notification = "<td><code>56705000</code></td><td>доставлено</td><td class=\"num\">1</td><td>HTTP 200</td>";
    assert!(page.contains(notification), "{page}");
}

#[tokio::test]
async fn an_overdue_alert_shows_the_organisation_its_count_and_oldest_complaints() {
    let oldest_at = at(19, 2, 0);
    let overdue = Alert {
        id: "overdue:uk-zhilkomfort:20261120T0300".into(),
        kind: otklik_model::AlertKind::Overdue,
        method: "overdue".into(),
        state: AlertState::Opened,
        topic: Topic::ManagementCompany,
        window_start: oldest_at,
        top_incidents: vec![AlertIncident {
            uid: "vk:-100095:17".parse().unwrap(),
            url: "https://vk.com/wall-100095_17".into(),
            excerpt: String::new(),
            voices: 1,
        }],
        overdue: Some(otklik_model::AlertOverdue {
            organisation: "uk-zhilkomfort".into(),
            organisation_name: "ООО «УК Жилкомфорт»".into(),
            org_type: "uk".into(),
            deadline_secs: 86_400,
            complaints: 2,
            oldest_uid: "vk:-100095:17".into(),
            oldest_url: "https://vk.com/wall-100095_17".into(),
            oldest_at,
        }),
        ..alert(AlertState::Opened, at(20, 5, 15))
    };
    let data = MemoryData { alerts: vec![overdue], ..demo_data() };
    let (status, page) = get(Arc::new(data), at_burst(None), "/").await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "Нет ответа жителям: ООО «УК Жилкомфорт»</strong>",
        "<dt>Срок ответа</dt><dd>24 ч</dd>",
        "<dt>Без ответа дольше срока</dt><dd>2 жалобы</dd>",
        "Жалобы без ответа, самые давние",
        "vk:-100095:17 <a href=\"https://vk.com/wall-100095_17\"",
    ] {
        assert!(page.contains(shown), "{shown:?} missing from:\n{page}");
    }
}

#[tokio::test]
async fn a_resolved_alert_is_listed_as_closed_and_a_later_resolution_as_open_then() {
    let mut data = demo_data();
    data.alerts = vec![alert(AlertState::Resolved, at(21, 6, 0))];
    let data = Arc::new(data);
    let (_, then) = get(data.clone(), at_burst(None), "/").await;
    assert!(then.contains("Открытые тревоги <span class=\"count\">1</span>"), "{then}");
    assert!(then.contains("Последнее событие — «закрыта» 21.11 09:00, позже момента страницы."), "{then}");
    let later = PageConfig { at: Some(at(22, 0, 0)), ..config(None) };
    let (_, after) = get(data, later, "/").await;
    assert!(after.contains("Открытых тревог нет."), "{after}");
    assert!(after.contains("Закрытые за 7 суток <span class=\"count\">1</span>"), "{after}");
}

#[tokio::test]
async fn everything_from_the_data_is_escaped() {
    let mut data = demo_data();
    let evil = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    data.incidents = vec![incident(evil)];
    data.alerts[0].municipality_name = format!("\"><b>{evil}");
    data.alerts[0].id = format!("id\"{evil}");
    data.hourly[0].municipality_name = evil.into();
    data.silences.lock().unwrap().push(Silence {
        schema: Schema,
        id: "s1".into(),
        series: "56705000:heating".into(),
        starts_at: at(20, 5, 0),
        ends_at: at(20, 11, 0),
        reason: evil.into(),
        created_by: evil.into(),
    });
    let (status, page) = get(Arc::new(data), at_burst(None), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script:\n{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("\"><b>"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{page}");
    assert!(page.contains("Заглушена до 20.11 14:00"), "the silence covers the alert:\n{page}");
}

#[tokio::test]
async fn the_page_fits_a_phone() {
    let (_, page) = get(live_data(), config(Some(TOKEN)), "/").await;
    assert!(page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert!(page.contains("<html lang=\"ru\">"));
    assert!(page.contains("@media (max-width: 480px)"), "a narrow-screen layout");
    assert!(page.contains(".scroll { overflow-x: auto;"), "wide tables scroll inside their box");
    assert!(page.contains("<div class=\"scroll\"><table class=\"day\">"));
    assert!(page.contains("min-height: 44px"), "touch-sized controls");
}

#[tokio::test]
async fn without_a_token_silencing_is_off_and_the_page_says_so() {
    let data = Arc::new(demo_data());
    let (_, page) = get(data.clone(), config(None), "/").await;
    assert!(page.contains("Заглушение со страницы отключено: не настроен токен"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    let form = format!("series=56705000%3Aheating&duration=6h&reason=known&token={TOKEN}");
    let (status, body) = post_silence(data.clone(), config(None), &form, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Заглушение отключено"), "{body}");
    assert!(data.stored_silences().is_empty());
}

#[tokio::test]
async fn a_silence_without_or_with_a_wrong_token_is_refused() {
    let data = Arc::new(demo_data());
    let form = "series=56705000%3Aheating&duration=6h&reason=known";
    let wrong = [format!("{form}&token="), format!("{form}&token={TOKEN}x"), format!("{form}&token=0")];
    let bodies = std::iter::once(form.to_owned()).chain(wrong);
    for body in bodies {
        let (status, answer) = post_silence(data.clone(), config(Some(TOKEN)), &body, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}: {answer}");
        assert!(answer.contains("Неверный токен"), "{answer}");
        assert!(!answer.contains(TOKEN), "the answer never repeats a token");
    }
    let (status, _) = post_silence(data.clone(), config(Some(TOKEN)), form, Some("wrong")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(data.stored_silences().is_empty());
}

#[tokio::test]
async fn a_silence_with_the_right_token_is_stored_and_shown() {
    let data = live_data();
    let (_, page) = get(data.clone(), config(Some(TOKEN)), "/").await;
    assert!(page.contains("<form method=\"post\" action=\"/silences\""), "{page}");
    assert!(page.contains("data-series=\"56705000:heating\""), "the open alert offers its series:\n{page}");
    let reason = "%D0%B1%D1%80%D0%B8%D0%B3%D0%B0%D0%B4%D0%B0"; // «бригада»
    let form = format!("series=56705000%3Aheating&duration=6h&reason={reason}&author=Ivanova&token={TOKEN}");
    let (status, answer) = post_silence(data.clone(), config(Some(TOKEN)), &form, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{answer}");
    assert!(answer.starts_with("/?done=silenced#silences\n"), "{answer}");
    let stored = data.stored_silences();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].series.as_str(), stored[0].reason.as_str()), ("56705000:heating", "бригада"));
    assert_eq!(stored[0].created_by, "Ivanova");
    assert_eq!(stored[0].ends_at - stored[0].starts_at, TimeDelta::hours(6));

    let (_, page) = get(data.clone(), config(Some(TOKEN)), "/?done=silenced").await;
    assert!(page.contains("Заглушение сохранено."), "{page}");
    assert!(page.contains("<td><code>56705000:heating</code></td>"), "{page}");

    let scripted = "series=region%3Agas&duration=1h&reason=plan";
    let (status, _) = post_silence(data.clone(), config(Some(TOKEN)), scripted, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a script may send the token as a bearer");
    let everything = format!("series=*%3A*&duration=1h&reason=x&token={TOKEN}");
    let (status, answer) = post_silence(data.clone(), config(Some(TOKEN)), &everything, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(data.stored_silences().len(), 2);
}

#[tokio::test]
async fn a_page_of_the_past_does_not_silence() {
    let data = Arc::new(demo_data());
    let (_, page) = get(data.clone(), at_burst(Some(TOKEN)), "/").await;
    assert!(page.contains("выбранный момент прошлого"), "{page}");
    let form = format!("series=56705000%3Aheating&duration=6h&reason=known&token={TOKEN}");
    let (status, _) = post_silence(data.clone(), at_burst(Some(TOKEN)), &form, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(data.stored_silences().is_empty());
}

#[tokio::test]
async fn on_loopback_only_requests_for_a_local_host_are_answered() {
    let config = PageConfig { local_hosts_only: true, ..config(None) };
    let data = Arc::new(demo_data());
    for (host, status) in [
        (Some("127.0.0.1:8080"), StatusCode::OK),
        (Some("localhost"), StatusCode::OK),
        (Some("[::1]:8080"), StatusCode::OK),
        (Some("evil.example:8080"), StatusCode::MISDIRECTED_REQUEST),
        (Some("127.0.0.1.evil.example"), StatusCode::MISDIRECTED_REQUEST),
        (None, StatusCode::MISDIRECTED_REQUEST),
    ] {
        let mut request = Request::get("/healthz");
        if let Some(host) = host {
            request = request.header(header::HOST, host);
        }
        let request = request.body(Body::empty()).unwrap();
        let response = router(data.clone(), config.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{host:?}");
    }
}

#[tokio::test]
async fn the_json_view_health_and_a_failing_store() {
    let data = Arc::new(demo_data());
    let (status, json) = get(data.clone(), at_burst(None), "/api/alerts?open=true").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["alerts"][0]["id"], "56705000:heating:20261120T03");
    assert_eq!(json["alerts"][0]["open"], true);
    assert_eq!(json["alerts"][0]["observed"], 22);
    assert_eq!(get(data.clone(), config(None), "/healthz").await, (StatusCode::OK, "ok\n".to_owned()));
    assert_eq!(get(data, config(None), "/nope").await.0, StatusCode::NOT_FOUND);

    let down = Arc::new(MemoryData { failing: Some("ClickHouse is down".into()), ..demo_data() });
    let (status, page) = get(down.clone(), config(None), "/").await;
    assert_eq!(status, StatusCode::OK, "the page still loads");
    assert!(page.contains("Не удалось прочитать тревоги: ClickHouse is down"), "{page}");
    assert_eq!(get(down, config(None), "/api/alerts").await.0, StatusCode::SERVICE_UNAVAILABLE);
}
