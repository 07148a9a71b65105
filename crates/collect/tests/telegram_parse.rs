//! Snapshot and behaviour tests of the t.me/s parser on the fixtures in `tests/fixtures/telegram/`.
//!
//! Each fixture has an insta snapshot `<name>.snap` beside it: the whole parsed page (channel,
//! paging, skipped blocks, posts as wire `RawPost`s); see `common::snapshot` for reviewing a
//! change.

mod common;

use chrono::{DateTime, Utc};
use otklik_collect::telegram::{self, SkipReason, TelegramPage};
use otklik_collect::ParseContext;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/telegram")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn ctx() -> ParseContext {
    let collected_at: DateTime<Utc> = "2024-01-16T13:00:00Z".parse().unwrap();
    ParseContext::new(collected_at)
}

fn parse(name: &str) -> TelegramPage {
    telegram::parse_saved_page(&fixture(name), &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares the page's JSON with the snapshot `<fixture stem>.snap`.
fn assert_snapshot(name: &str, page: &TelegramPage) {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let actual = serde_json::to_string_pretty(page).unwrap();
    common::snapshot::assert_fixture_snapshot(&fixture_dir(), stem, &actual);
}

#[test]
fn channel_page_snapshot() {
    assert_snapshot("channel_page.html", &parse("channel_page.html"));
}

#[test]
fn channel_start_snapshot() {
    assert_snapshot("channel_start.html", &parse("channel_start.html"));
}

#[test]
fn fragment_snapshot() {
    assert_snapshot("fragment_before_1181.json", &parse("fragment_before_1181.json"));
}

#[test]
fn channel_page_reads_every_case() {
    let page = parse("channel_page.html");
    assert_eq!(page.channel.username.as_deref(), Some("penza_gorod"));
    assert_eq!(page.channel.title.as_deref(), Some("Пенза | Городской портал"));
    assert_eq!(page.channel.subscribers, Some(48_300));
    let description = page.channel.description.as_deref().unwrap();
    assert!(description.starts_with(
        "Новости Пензы: ЖКХ, дороги, транспорт.\nПишите нам: @penza_gorod_bot ✍\n\nРеклама & сотрудничество"
    ));
    assert_eq!(page.paging, telegram::Paging { before: Some(1201), after: None });

    // 20 blocks: 19 posts and one service message, which is not a post.
    assert_eq!(page.posts.len(), 19);
    assert_eq!(page.service_messages(), 1);
    assert_eq!(page.skipped.len(), 1);
    assert!(matches!(&page.skipped[0].reason, SkipReason::ServiceMessage { text } if text == "Channel photo updated"));
    let ids: Vec<u64> = page.posts.iter().map(|p| p.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "page order is kept: {ids:?}");
    assert!(!ids.contains(&1210));

    let post = |id: u64| &page.posts.iter().find(|p| p.id == id).unwrap().post;
    let first = post(1201);
    assert_eq!(first.uid.to_string(), "tg:penza_gorod:1201");
    assert_eq!(first.url.as_deref(), Some("https://t.me/penza_gorod/1201"));
    assert_eq!(first.source_id, "tg:penza_gorod");
    assert_eq!(first.published_at.to_rfc3339(), "2024-01-15T05:12:44+00:00");
    assert_eq!(first.counters.views, Some(4_200));
    assert_eq!(first.author.name.as_deref(), Some("Пенза | Городской портал"));
    assert!(first.author.is_source);
    assert!(first.text.starts_with("Отопление: жители Арбекова снова мёрзнут 🥶\n\nВ домах"));
    assert!(first.text.contains("«ЖКХ!» отвечают: \"работаем\"."));
    assert!(first.text.ends_with("#отопление #Арбеково"));

    let album = post(1202);
    let kinds: Vec<&str> = album.attachments.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["photo", "photo", "photo", "video"]);
    assert_eq!(album.counters.views, Some(12_800));

    let forward = post(1206).repost_of.as_ref().unwrap();
    assert_eq!(forward.uid.as_ref().map(ToString::to_string).as_deref(), Some("tg:tsurpenza:845"));
    assert_eq!(forward.name.as_deref(), Some("ЦУР Пензенской области"));
    assert!(forward.text.starts_with("По обращениям жителей\n"));
    assert_eq!(post(1206).text, "", "a forward carries no words of the channel's own");
    let hidden_forward = post(1207).repost_of.as_ref().unwrap();
    assert_eq!((hidden_forward.uid.as_ref(), hidden_forward.name.as_deref()), (None, Some("Ирина К.")));

    let preview = &post(1208).attachments[0];
    assert_eq!(preview.kind, "link");
    assert_eq!(preview.title.as_deref(), Some("В Пензе утвердили график отключения горячей воды на 2024 год"));
    assert!(preview.description.as_deref().unwrap().starts_with("Профилактические работы"));
    assert_eq!(preview.url.as_deref(), Some("https://penzanews.ru/society/174312-2024"));

    let poll = &post(1209).attachments[0];
    assert_eq!(poll.kind, "poll");
    assert_eq!(poll.title.as_deref(), Some("Как у вас с отоплением этой зимой?"));
    assert_eq!(poll.description.as_deref(), Some("Тепло, всё хорошо\nБатареи еле тёплые\nОтопления нет совсем 🥶"));

    let edited = post(1211);
    assert!(edited.edited);
    assert_eq!(edited.author.name.as_deref(), Some("Анна Смирнова"));
    assert!(!post(1201).edited);
    assert!(post(1223).edited, "edited without a signature");

    let reply = page.posts.iter().find(|p| p.id == 1212).unwrap();
    assert_eq!(reply.post.parent_uid.as_ref().map(ToString::to_string).as_deref(), Some("tg:penza_gorod:1201"));
    assert!(reply.reply_to.as_ref().unwrap().text.starts_with("Отопление: жители Арбекова"));
    assert!(reply.post.text.starts_with("Продолжение:"), "the quote is not the reply's text");

    assert_eq!(post(1213).counters.views, Some(1_100_000));
    for (id, kind) in [(1214, "round_video"), (1215, "voice"), (1216, "document"), (1217, "audio"), (1218, "sticker")] {
        assert_eq!(post(id).attachments[0].kind, kind, "post {id}");
    }
    assert_eq!(post(1215).counters.views, Some(987));

    let unsupported = page.posts.iter().find(|p| p.id == 1219).unwrap();
    assert!(unsupported.media_unavailable);
    assert!(unsupported.post.text.starts_with("Опрос ЦУР"), "the text of a post with unviewable media is kept");

    let rich = &post(1220).text;
    assert!(rich.contains("о ямах на ул. Суворова:\nРемонт участка"), "{rich}");
    assert!(rich.contains("Номер обращения: ЦУР-2024-01-3317\n"));
    assert!(rich.contains("@tsurpenza_bot ✅\nСпойлер:"));
    assert!(rich.ends_with("Редакция & ЦУР"));

    let geo = post(1221).geo.as_ref().unwrap();
    assert_eq!((geo.lat, geo.lon), (Some(53.195042), Some(45.018316)));
    assert_eq!(post(1223).text.lines().next(), Some("Читатель спрашивает: почему в квитанции за январь строка <b>«Отопление»</b> выросла на 30%? Тарифы <> нормативы, объясняет УК."));
}

#[test]
fn fragment_has_posts_and_paging_but_no_channel_block() {
    let page = parse("fragment_before_1181.json");
    assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [1177, 1178, 1179, 1180]);
    assert_eq!(page.paging.before, Some(1177));
    // Without the channel block the fragment still names its channel through its posts.
    assert_eq!(page.channel.username.as_deref(), Some("penza_gorod"));
    assert_eq!(page.channel.title.as_deref(), Some("Пенза | Городской портал"));
    assert_eq!(page.channel.subscribers, None);
    let forward = page.posts[1].post.repost_of.as_ref().unwrap();
    assert_eq!(forward.name.as_deref(), Some("Администрация г. Пензы"));
    assert_eq!(forward.uid, None, "a link to a channel, not to a post, gives no uid");
    assert_eq!(page.posts[2].post.author.name.as_deref(), Some("Дежурный редактор"));
    assert!(!page.posts[2].post.edited);
}

#[test]
fn channel_start_tolerates_markup_variations() {
    let page = parse("channel_start.html");
    assert_eq!(page.channel.username.as_deref(), Some("Zarechny_Live"));
    assert_eq!(page.channel.subscribers, Some(987));
    assert_eq!(page.paging, telegram::Paging { before: None, after: Some(5) });
    assert_eq!(page.service_messages(), 2);
    let ids: Vec<u64> = page.posts.iter().map(|p| p.id).collect();
    assert_eq!(ids, [2, 4]);
    let first = &page.posts[0].post;
    assert_eq!(first.uid.to_string(), "tg:zarechny_live:2", "uid owner is lower-case");
    assert_eq!(first.url.as_deref(), Some("https://t.me/Zarechny_Live/2"));
    assert_eq!(
        first.text,
        "Первая запись канала.\nПишите о проблемах города: двор, дороги, ЖКХ.\nПочта: live@zarechny.example"
    );
    assert_eq!(first.published_at.to_rfc3339(), "2023-03-01T09:05:00+00:00");
    assert_eq!(first.author.name.as_deref(), Some("Заречный LIVE"), "no owner line: the channel title");
    assert_eq!(first.counters.views, None);
    assert_eq!(page.posts[1].post.published_at.to_rfc3339(), "2023-03-02T15:30:00+00:00", "offsets become UTC");
    assert_eq!(page.posts[1].post.counters.views, Some(1_050));
}

#[test]
fn saved_response_detects_page_and_fragment() {
    for name in ["channel_page.html", "channel_start.html", "fragment_before_1181.json"] {
        let bytes = fixture(name);
        let posts = telegram::parse_saved_response(&bytes, &ctx()).unwrap();
        assert_eq!(posts, parse(name).into_raw_posts(), "{name}");
        let through_collect =
            otklik_collect::parse_saved_response(otklik_model::Platform::Telegram, &bytes, &ctx()).unwrap();
        assert_eq!(posts, through_collect);
    }
    let mut with_bom = "\u{FEFF}\n ".as_bytes().to_vec();
    with_bom.extend(fixture("fragment_before_1181.json"));
    assert_eq!(telegram::parse_saved_response(&with_bom, &ctx()).unwrap().len(), 4);
}

#[test]
fn source_id_from_context_wins() {
    let mut ctx = ctx();
    ctx.source_id = Some("tg-penza-gorod".to_owned());
    let posts = telegram::parse_saved_response(&fixture("channel_page.html"), &ctx).unwrap();
    assert!(posts.iter().all(|p| p.source_id == "tg-penza-gorod" && p.collected_at == ctx.collected_at));
}

#[test]
fn page_without_preview_is_an_error() {
    let error = telegram::parse_saved_response(&fixture("no_public_preview.html"), &ctx()).unwrap_err();
    assert!(error.reason.contains("no t.me/s channel preview"), "{error}");
    for bytes in [&b""[..], b"   ", b"<html><body>Bad gateway</body></html>"] {
        assert!(telegram::parse_saved_response(bytes, &ctx()).is_err(), "{:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn empty_fragment_is_an_empty_page() {
    let page = telegram::parse_saved_page(b"\"\"", &ctx()).unwrap();
    assert!(page.posts.is_empty() && page.skipped.is_empty());
    assert_eq!(page.paging, telegram::Paging::default());
}

#[test]
fn invalid_fragment_is_a_clear_error() {
    for bytes in [&b"\"<div class=\\\"tgme_widget_message"[..], b"\"<div>\" trailing", b"\"\xff\xfe\"", b"\"\\uZZZZ\""]
    {
        let error = match telegram::parse_saved_response(bytes, &ctx()) {
            Ok(posts) => panic!("{:?} parsed into {posts:?}", String::from_utf8_lossy(bytes)),
            Err(error) => error,
        };
        assert!(error.reason.contains("XHR fragment is not a JSON string"), "{error}");
    }
}
