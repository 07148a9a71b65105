//! Every wire type survives a JSON round trip, carries `"schema": 1`, and an unknown schema
//! version is rejected with a clear error.

use chrono::{TimeZone, Utc};
use otklik_model::*;

fn sample_post() -> RawPost {
    let uid: PostUid = "vk:-12345:678".parse().unwrap();
    RawPost {
        schema: Schema,
        uid: uid.clone(),
        platform: Platform::Vk,
        source_id: "vk-penza".into(),
        item_kind: ItemKind::Post,
        parent_uid: None,
        url: Some("https://vk.com/wall-12345_678".into()),
        author: Author { id: Some("-12345".into()), name: Some("Пенза".into()), is_source: true },
        published_at: Utc.with_ymd_and_hms(2026, 11, 1, 6, 30, 0).unwrap(),
        edited_at: None,
        edited: false,
        collected_at: Utc.with_ymd_and_hms(2026, 11, 1, 7, 0, 5).unwrap(),
        text: "Нет отопления в доме на ул. Мира, 5".into(),
        repost_of: Some(RepostOrigin {
            uid: Some("tg:chan:1".parse().unwrap()),
            name: None,
            text: "исходный текст".into(),
        }),
        attachments: vec![Attachment { kind: "photo".into(), title: None, description: None, url: None }],
        counters: Counters { views: Some(1200), likes: Some(4), reposts: None, comments: Some(2) },
        pinned: false,
        ads: false,
        geo: Some(Geo { lat: Some(53.2), lon: Some(45.0), place: None }),
    }
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = encode(value);
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["schema"], 1, "{json}");
    let back: T = decode("value", &bytes).unwrap();
    assert_eq!(&back, value);
}

#[test]
fn every_wire_type_round_trips() {
    let post = sample_post();
    round_trip(&post);
    round_trip(&ClassifiedPost {
        post: post.clone(),
        classification: Classification {
            classifier_version: "test".into(),
            language: "ru".into(),
            kind: PostKind::Complaint,
            topics: vec![TopicHit { topic: Topic::Heating, score: 2.5, rule: "heating.no_heat".into() }],
            municipality: Some(MunicipalityMatch {
                oktmo: "56701000".into(),
                name: "г. Пенза".into(),
                evidence: MunicipalityEvidence::Text,
            }),
            out_of_region: false,
        },
        copy_of: None,
        incident_id: None,
        is_voice: None,
    });
    round_trip(&Source {
        schema: Schema,
        id: "tg-penza".into(),
        platform: Platform::Telegram,
        handle: "penza_news".into(),
        name: "Пенза".into(),
        municipality: Some("56701000".into()),
        official: true,
        comments: CommentsPolicy::OfficialPosts,
        enabled: true,
    });
    round_trip(&Cursor {
        recent: vec![SeenPost {
            uid: "tg:chan:41".parse().unwrap(),
            published_at: Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(),
            fingerprint: 7,
        }],
        newest_id: Some(42),
        polled_at: Some(Utc::now().with_timezone(&Utc).date_naive().and_hms_opt(1, 2, 3).unwrap().and_utc()),
        ..Cursor::new("tg-penza")
    });
    round_trip(&Alert {
        schema: Schema,
        id: "56701000:heating:20261101T06".into(),
        kind: AlertKind::Spike,
        state: AlertState::Opened,
        severity: AlertSeverity::High,
        method: "baseline".into(),
        expected_note: Some("heating season starts".into()),
        municipality: Some("56701000".into()),
        municipality_name: "г. Пенза".into(),
        topic: Topic::Heating,
        window_start: Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(),
        window_end: Utc.with_ymd_and_hms(2026, 11, 1, 7, 0, 0).unwrap(),
        observed: 40,
        expected: 3.5,
        upper_bound: Some(12),
        p_value: 1e-9,
        incidents: 3,
        voices: 40,
        top_incidents: vec![AlertIncident {
            uid: post.uid.clone(),
            url: "https://vk.com/wall-1_2".into(),
            excerpt: "Нет отопления".into(),
            voices: 30,
        }],
        raised_at: Utc.with_ymd_and_hms(2026, 11, 1, 7, 0, 1).unwrap(),
        overdue: None,
    });
    round_trip(&overdue_alert());
    round_trip(&DlqRecord::new(
        "classify",
        "bad json",
        "otklik.posts.raw.v1",
        b"{oops",
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    ));
}

#[test]
fn timestamps_are_utc_rfc3339_with_seconds() {
    let json: serde_json::Value = serde_json::from_slice(&encode(&sample_post())).unwrap();
    assert_eq!(json["published_at"], "2026-11-01T06:30:00Z");
    assert_eq!(json["uid"], "vk:-12345:678");
    assert_eq!(json["platform"], "vk");
}

#[test]
fn offsets_are_converted_to_utc() {
    let mut json: serde_json::Value = serde_json::from_slice(&encode(&sample_post())).unwrap();
    json["published_at"] = "2026-11-01T09:30:00+03:00".into();
    let post: RawPost = serde_json::from_value(json).unwrap();
    assert_eq!(post.published_at, Utc.with_ymd_and_hms(2026, 11, 1, 6, 30, 0).unwrap());
}

#[test]
fn unknown_schema_version_is_rejected_clearly() {
    let mut json: serde_json::Value = serde_json::from_slice(&encode(&sample_post())).unwrap();
    json["schema"] = 2.into();
    let err = decode::<RawPost>("RawPost", json.to_string().as_bytes()).unwrap_err().to_string();
    assert!(err.contains("unsupported schema version 2"), "{err}");
    assert!(err.contains("RawPost"), "{err}");
    json.as_object_mut().unwrap().remove("schema");
    let err = decode::<RawPost>("RawPost", json.to_string().as_bytes()).unwrap_err().to_string();
    assert!(err.contains("missing field `schema`"), "{err}");
}

#[test]
fn the_fingerprint_changes_with_content_and_counters_only() {
    let post = sample_post();
    assert_eq!(post.fingerprint(), sample_post().fingerprint());
    let mut later = post.clone();
    later.collected_at = Utc::now();
    assert_eq!(later.fingerprint(), post.fingerprint(), "collection time is not content");
    let mut edited = post.clone();
    edited.text.push('!');
    assert_ne!(edited.fingerprint(), post.fingerprint());
    let mut viewed = post.clone();
    viewed.counters.views = Some(1201);
    assert_ne!(viewed.fingerprint(), post.fingerprint());
}

#[test]
fn full_text_appends_the_reposted_text() {
    let post = sample_post();
    assert_eq!(post.full_text(), "Нет отопления в доме на ул. Мира, 5\n\nисходный текст");
}

/// The incident fields are additive: absent before linking (existing JSON unchanged), present
/// and round-tripping after it.
#[test]
fn incident_fields_are_optional_and_round_trip() {
    let classification = Classification {
        classifier_version: "test".into(),
        language: "ru".into(),
        kind: PostKind::Complaint,
        topics: vec![],
        municipality: None,
        out_of_region: false,
    };
    let unlinked = ClassifiedPost::new(sample_post(), classification);
    let json = serde_json::to_value(&unlinked).unwrap();
    for field in ["copy_of", "incident_id", "is_voice"] {
        assert!(json.get(field).is_none(), "{field} must be absent before linking: {json}");
    }
    round_trip(&unlinked);
    let linked = ClassifiedPost {
        copy_of: Some("vk:-1:1".parse().unwrap()),
        incident_id: Some("vk:-1:1".parse().unwrap()),
        is_voice: Some(false),
        ..unlinked
    };
    let json = serde_json::to_value(&linked).unwrap();
    assert_eq!(json["incident_id"], "vk:-1:1");
    assert_eq!(json["is_voice"], false);
    assert_eq!(json["schema"], 1);
    round_trip(&linked);
}

fn overdue_alert() -> Alert {
    let oldest_at = Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap();
    Alert {
        schema: Schema,
        id: "overdue:uk-a:20261102T07".into(),
        kind: AlertKind::Overdue,
        state: AlertState::Opened,
        severity: AlertSeverity::Medium,
        method: "overdue".into(),
        expected_note: None,
        municipality: Some("56701000".into()),
        municipality_name: "г. Пенза".into(),
        topic: Topic::ManagementCompany,
        window_start: oldest_at,
        window_end: Utc.with_ymd_and_hms(2026, 11, 2, 7, 0, 0).unwrap(),
        observed: 2,
        expected: 0.0,
        upper_bound: None,
        p_value: 0.0,
        incidents: 2,
        voices: 2,
        top_incidents: vec![],
        raised_at: Utc.with_ymd_and_hms(2026, 11, 2, 7, 0, 0).unwrap(),
        overdue: Some(AlertOverdue {
            organisation: "uk-a".into(),
            organisation_name: "УК «А»".into(),
            org_type: "uk".into(),
            deadline_secs: 86_400,
            complaints: 2,
            oldest_uid: "vk:-1:2".into(),
            oldest_url: "https://vk.com/wall-1_2".into(),
            oldest_at,
        }),
    }
}

#[test]
fn alert_events_written_before_overdue_alerts_still_decode_as_spikes() {
    let old = r#"{"schema":1,"id":"56701000:heating:20261101T06","state":"opened","severity":"high",
        "method":"baseline","municipality":"56701000","municipality_name":"г. Пенза","topic":"heating",
        "window_start":"2026-11-01T06:00:00Z","window_end":"2026-11-01T07:00:00Z","observed":40,
        "expected":3.5,"p_value":1e-9,"incidents":3,"voices":40,"raised_at":"2026-11-01T07:00:01Z"}"#;
    let alert: Alert = decode("Alert", old.as_bytes()).unwrap();
    assert_eq!((alert.kind, &alert.overdue), (AlertKind::Spike, &None));
    // …and a spike is written as before, without the new fields.
    let json = String::from_utf8(encode(&alert)).unwrap();
    assert!(!json.contains("kind") && !json.contains("overdue"), "{json}");
}

#[test]
fn an_overdue_alert_is_keyed_by_its_organisation() {
    let alert = overdue_alert();
    assert_eq!(alert.key(), "56701000:overdue:uk-a");
    let json: serde_json::Value = serde_json::from_slice(&encode(&alert)).unwrap();
    assert_eq!(json["kind"], "overdue");
    assert_eq!(json["overdue"]["oldest_at"], "2026-11-01T06:00:00Z");
}
