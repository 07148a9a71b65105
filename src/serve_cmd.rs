//! `otklik serve [--listen ADDR] [--at TIME]`: the duty officer's page (`otklik_web`) over the
//! history the CLI reads — ClickHouse in production mode, the local store of `run.data_dir` in
//! embedded mode — until Ctrl-C or SIGTERM.

use crate::config::Config;
use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_clickhouse::{History, HistoryError, PostRow};
use otklik_model::{Alert, DeliveryRecord, Silence};
use otklik_web::{DataError, ExamplePost, HourCell, IncidentView, PageConfig, PageData, Token};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Example posts shown under one incident.
const EXAMPLES: usize = 5;
/// Characters of an example post's text.
const EXAMPLE_CHARS: usize = 280;

/// The page's data over [`History`].
pub struct StoreData {
    config: Config,
    history: History,
    /// ОКТМО code → «город Кузнецк», from the configured gazetteer.
    names: HashMap<String, String>,
}

impl StoreData {
    pub fn new(config: &Config) -> Result<StoreData> {
        let mut names = HashMap::new();
        if !config.classify.gazetteer.as_os_str().is_empty() {
            let path = config.resolve(&config.classify.gazetteer);
            let gazetteer = otklik_classify::gazetteer::Gazetteer::load(&path).context("cannot load the gazetteer")?;
            names = gazetteer.municipalities().iter().map(|m| (m.oktmo.clone(), m.name.clone())).collect();
        }
        Ok(StoreData { config: config.clone(), history: config.history()?, names })
    }
}

/// A history failure as the page shows it: masked, since a server may echo credentials.
fn backend(error: HistoryError) -> DataError {
    let retryable = error.is_retryable();
    DataError::Backend { message: otklik_pipeline::secrets::redact(&error.to_string()).into_owned(), retryable }
}

fn failed(error: impl std::fmt::Display) -> DataError {
    let message = otklik_pipeline::secrets::redact(&format!("{error:#}")).into_owned();
    DataError::Backend { message, retryable: false }
}

#[async_trait]
impl PageData for StoreData {
    async fn alerts(&self, since: DateTime<Utc>) -> Result<Vec<Alert>, DataError> {
        let rows = self.history.latest_alerts(since).await.map_err(backend)?;
        rows.iter().map(|row| Alert::try_from(row).map_err(failed)).collect()
    }

    async fn incidents(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<IncidentView>, DataError> {
        let core = self.config.alert_core(false, None).map_err(failed)?;
        // An incident with a post from `from` on may have started up to a linking window earlier.
        let rows = self.history.linked_posts(from - core.link_window()).await.map_err(backend)?;
        let rows: Vec<PostRow> = rows.into_iter().filter(|r| r.published_at < to).collect();
        let listed = crate::incidents_cmd::summarise(core, &rows, from);
        let mut posts: HashMap<&str, Vec<&PostRow>> = HashMap::new();
        for row in &rows {
            posts.entry(row.incident_id.as_str()).or_default().push(row);
        }
        let incidents = listed.incidents.iter().map(|i| IncidentView {
            id: i.id.clone(),
            url: i.url.clone(),
            municipality: i.municipality.clone(),
            topic: i.topic.map(|t| t.id().to_owned()),
            place: listed.place(&i.id).to_owned(),
            excerpt: i.excerpt.clone(),
            voices: i.voices,
            posts: i.posts,
            first_seen: i.first_seen,
            last_seen: i.last_seen,
            examples: posts.get(i.id.as_str()).map_or_else(Vec::new, |rows| examples(rows)),
        });
        Ok(incidents.collect())
    }

    async fn hourly_voices(&self, since: DateTime<Utc>) -> Result<Vec<HourCell>, DataError> {
        let cells = self.history.hourly_voices(since).await.map_err(backend)?;
        let name = |code: &str| self.names.get(code).cloned().unwrap_or_default();
        let cells = cells.into_iter().map(|c| HourCell {
            hour: c.hour,
            municipality_name: name(&c.municipality),
            municipality: c.municipality,
            topic: c.topic,
            voices: c.voices,
        });
        Ok(cells.collect())
    }

    async fn silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, DataError> {
        self.history.silences(now).await.map_err(backend)
    }

    async fn add_silence(&self, silence: &Silence) -> Result<(), DataError> {
        self.history.add_silence(silence, Utc::now()).await.map_err(backend)
    }

    async fn deliveries(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, DataError> {
        self.history.deliveries(since).await.map_err(backend)
    }
}

/// The first posts of an incident (rows oldest first), voices before copies after the first.
fn examples(rows: &[&PostRow]) -> Vec<ExamplePost> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| (r.published_at, r.is_voice == 0));
    rows.iter()
        .take(EXAMPLES)
        .map(|r| ExamplePost {
            url: r.url.clone(),
            published_at: r.published_at,
            text: crate::incidents_cmd::short(&r.text, EXAMPLE_CHARS),
            is_voice: r.is_voice != 0,
        })
        .collect()
}

/// Serves the page on `listen` (else `[serve] listen`) until Ctrl-C or SIGTERM; `at` shows the
/// page as of a past moment.
pub fn run(config: &Config, listen: Option<&str>, at: Option<DateTime<Utc>>) -> Result<()> {
    crate::telemetry::init(&config.telemetry)?;
    let listen = listen.unwrap_or(&config.serve.listen);
    let addr: SocketAddr = listen.parse().with_context(|| format!("{listen:?} is not an address (host:port)"))?;
    let token = config.silence_token().map_err(|p| anyhow!("serve.{}: {}", p.field, p.message))?;
    token.iter().for_each(|t| otklik_pipeline::secrets::register(t));
    let data = Arc::new(StoreData::new(config)?);
    let mut page = PageConfig { silence_token: token.map(Token::new), at, ..PageConfig::default() };
    page.utc_offset_hours = config.alert.utc_offset_hours;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    let runtime = runtime.context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().context("cannot read the listening address")?;
        page.local_hosts_only = local.ip().is_loopback();
        if !page.local_hosts_only {
            let advice = "it shows residents' posts: put it behind an authenticating proxy";
            tracing::warn!(%local, "the page listens beyond loopback; {advice}");
        }
        if page.silence_token.is_none() {
            tracing::info!("no [serve] silence token configured: the page is read-only");
        }
        // The line tests and scripts wait for (the port may be 0: chosen by the system).
        crate::commands::print_stdout(format!("serving the duty officer's page on http://{local}/\n"))?;
        let router = otklik_web::router(data, page);
        otklik_web::serve(listener, router, crate::telemetry::shutdown_signal()).await.context("the page server failed")
    })
}
