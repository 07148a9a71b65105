//! The production wiring: the stages of a [`Role`] over Kafka — all of them (`otklik run`), or
//! one kind per process (`otklik collect`, `otklik classify-stage`, `otklik alert`, `otklik
//! sink`) to deploy and scale them apart — until SIGTERM, or until a stage fails: then every stage stops, `/readyz`
//! turns false and the process exits non-zero ([`Supervisor`]). More processes with the same
//! config share the partitions through their consumer groups; collectors too when
//! `collect.sources = "kafka"`: each polls its group's share of the sources topic.

use crate::alert_stage::{AlertStage, StageClock};
use crate::config::{Config, SourcesFrom};
use crate::graph::{Graph, Role, Stop};
use crate::metrics::Registry;
use crate::notify_stage::{NotifyClock, NotifyStage, StoredDeliveryLog};
use crate::supervise::Supervisor;
use anyhow::{Context, Result};
use otklik_clickhouse::{AlertRow, ClickHouseSink, DlqRow, History, Migrator, PostRow, SourceStatRow};
use otklik_collect::fleet::ShareEvent;
use otklik_collect::{cursors_from_table, Collector};
use otklik_kafka::member::{MemberEvent, MemberSpec};
use otklik_kafka::{KafkaBus, TopicsConfig};
use otklik_pipeline::{Bus, StageMetrics};
use std::collections::HashMap;
use std::sync::Arc;

/// How often a live alert stage with nothing to read advances its clock.
const ALERT_TICK: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn run(path: &std::path::Path, config: &Config, role: Role) -> Result<()> {
    let kafka = config.kafka.clone().context("production mode needs [kafka]")?;
    let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
    bus.ensure_default_topics().await.context("cannot create the Kafka topics")?;
    let graph = Graph::new(config, &bus);

    let stop = Stop::default();
    tokio::spawn({
        let shutdown = stop.stages.clone();
        async move {
            crate::telemetry::shutdown_signal().await;
            tracing::warn!("shutdown requested: stages finish their batches and commit");
            shutdown.cancel();
        }
    });
    let registry = Arc::new(Registry::default());
    registry.register_kafka(bus.stats());
    let probes = crate::health::Probes {
        kafka: Some((bus.prober(), bus.stats())),
        clickhouse: (role.runs(Role::Sink) || role.runs(Role::Alert)).then(|| config.clickhouse_sink()).transpose()?,
        every: crate::health::PROBE_EVERY,
    };
    tokio::spawn(crate::health::run(probes, registry.clone(), stop.stages.clone()));
    let metrics = |name: &str| {
        let m = Arc::new(StageMetrics::default());
        registry.register(name, m.clone());
        m
    };
    crate::metrics_http::spawn(&config.telemetry.metrics_listen, registry.clone(), stop.stages.clone());
    let reload = Arc::new(crate::reload::Reload::new(path, config)?);
    registry.set_config_version(&reload.version());
    reload.clone().spawn_on_sighup(registry.clone(), stop.stages.clone());

    let mut supervisor = Supervisor::new(stop.stages.clone(), registry.clone());
    if role.runs(Role::Classify) {
        let classify =
            graph.classify(&reload, metrics("classify"), registry.classify_counts(), stop.stages.clone()).await?;
        supervisor.spawn("classify", async move { Ok(classify.await?) });
    }
    if role.runs(Role::Sink) || role.runs(Role::Alert) {
        // The sinks write the tables and the alert stage reads its state back from them.
        Migrator::new(&config.clickhouse_sink()?).migrate(None).await.context("cannot migrate ClickHouse")?;
    }
    if role.runs(Role::Alert) {
        let history = History::ClickHouse(config.clickhouse_sink()?);
        let rules = reload.current();
        let core = crate::alert_stage::restored_core(config, &history, true, Some(&rules)).await?;
        let tick = StageClock::Live { tick: ALERT_TICK };
        let stage = AlertStage::new(core, graph.topics.posts_classified.clone(), graph.topics.alerts.clone(), tick)
            .following(reload.rules());
        let stage = Arc::new(stage.observed_by(registry.alert_observer()));
        let alert = graph.alert(stage, metrics("alert"), stop.stages.clone()).await?;
        supervisor.spawn("alert", async move { Ok(alert.await?) });
        let (notify, local_receiver) = notify_stage(config).await?;
        registry.register_receivers(notify.receiver_metrics());
        let notify = graph.notify(notify, metrics("notify"), stop.stages.clone()).await?;
        supervisor.spawn("notify", async move {
            let _serving = local_receiver;
            Ok(notify.await?)
        });
    }
    if role.runs(Role::Sink) {
        let clickhouse = config.clickhouse_sink()?;
        let posts =
            Arc::new(ClickHouseSink::<PostRow>::new(clickhouse.clone()).with_observer(registry.clickhouse_observer()));
        let posts = graph.posts_sink("clickhouse", posts, metrics("clickhouse"), &stop).await?;
        supervisor.spawn("clickhouse", async move { Ok(posts.await?) });
        let alerts =
            Arc::new(ClickHouseSink::<AlertRow>::new(clickhouse.clone()).with_observer(registry.clickhouse_observer()));
        let alerts = graph.alerts_sink("clickhouse-alerts", alerts, metrics("clickhouse-alerts"), &stop).await?;
        supervisor.spawn("clickhouse-alerts", async move { Ok(alerts.await?) });
        let stats = Arc::new(
            ClickHouseSink::<SourceStatRow>::new(clickhouse.clone()).with_observer(registry.clickhouse_observer()),
        );
        let stats = graph.stats_sink("clickhouse-stats", stats, metrics("clickhouse-stats"), &stop).await?;
        supervisor.spawn("clickhouse-stats", async move { Ok(stats.await?) });
        let dead = Arc::new(ClickHouseSink::<DlqRow>::new(clickhouse).with_observer(registry.clickhouse_observer()));
        let dead = graph.dlq_sink("clickhouse-dlq", dead, metrics("clickhouse-dlq"), &stop).await?;
        supervisor.spawn("clickhouse-dlq", async move { Ok(dead.await?) });
    }
    if role.runs(Role::Collect) {
        let collector = graph.collector(metrics("collect"), registry.source_polls())?;
        let (sources, shutdown) = (reload.sources(), stop.stages.clone());
        if config.collect.sources == SourcesFrom::Kafka {
            let fleet = fleet_collector(config, collector, &graph.topics, stop.stages.clone())?;
            supervisor.spawn("collect", fleet);
        } else if config.collect.replay_dir.is_some() {
            supervisor.spawn("collect", async move {
                let sources = sources.borrow().clone();
                let pass = collector.poll_all(&sources, &mut HashMap::new(), &shutdown).await?;
                tracing::info!(
                    posts = pass.posts,
                    polled = pass.polled,
                    "replay published; stages keep running until SIGTERM"
                );
                Ok(())
            });
        } else {
            // Resume where the fleet left off: the cursors topic holds every source's progress.
            let table = bus.read_table(&graph.topics.cursors).await.context("cannot read the cursors topic")?;
            let cursors = cursors_from_table(table);
            tracing::info!(restored = cursors.len(), "collector cursors restored");
            let interval = config.collect.poll_interval.0;
            supervisor.spawn("collect", async move {
                Ok(collector.run_watched(sources, cursors, interval, &shutdown).await?)
            });
        }
    }
    registry.set_ready(true);
    supervisor.run().await
}

/// The notify stage over ClickHouse: the router restored from the delivery log and the alerts
/// table, the outbox resending what was owed.
async fn notify_stage(config: &Config) -> Result<(NotifyStage, Option<crate::notify_stage::LocalReceiver>)> {
    let clickhouse = config.clickhouse_sink()?;
    let history = History::ClickHouse(clickhouse.clone());
    let log = Arc::new(StoredDeliveryLog {
        log: otklik_clickhouse::DeliveryLog::clickhouse(clickhouse),
        history: history.clone(),
    });
    let received = config.resolve(&config.run.data_dir).join("received");
    let (receivers, local) = crate::notify_stage::local_receiver(config, &received).await?;
    Ok((NotifyStage::start(config, &receivers, history, log, NotifyClock::Live).await?, local))
}

/// A collector of the fleet (`collect.sources = "kafka"`): a member of `{group_prefix}-collect`
/// on the sources topic, polling the sources of its partitions ([`Collector::run_share`]). Its
/// own bus reads the cursors on each assignment; the member leaves when the stage ends.
fn fleet_collector(
    config: &Config,
    collector: Collector,
    topics: &TopicsConfig,
    shutdown: otklik_pipeline::CancellationToken,
) -> Result<impl std::future::Future<Output = Result<()>> + Send + 'static> {
    let kafka = config.kafka.clone().context("production mode needs [kafka]")?;
    let instance_id = Some(config.collect.instance());
    let spec = MemberSpec { group: kafka.group("collect"), topic: topics.sources.clone(), instance_id };
    let bus = Arc::new(KafkaBus::new(kafka).context("cannot create the Kafka client")?);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let deliver: otklik_kafka::member::Deliver = Arc::new(move |event| events_tx.send(share_event(event)).is_ok());
    let member = bus.join_table_group(spec, deliver).context("cannot join the collectors' group")?;
    let (cursors_topic, interval) = (topics.cursors.clone(), config.collect.poll_interval.0);
    Ok(async move {
        let read_cursors = || {
            let (bus, topic) = (bus.clone(), cursors_topic.clone());
            async move { Ok(cursors_from_table(bus.read_table(&topic).await?)) }
        };
        let shared = collector.run_share(&mut events, read_cursors, interval, &shutdown).await;
        // Nobody confirms revocations any more: the member's close must not wait for it.
        drop(events);
        let left = tokio::task::spawn_blocking(move || member.leave()).await.context("the group member panicked")?;
        // A membership that failed (fenced, unauthorised) also ends the share: say why first.
        left.context("the collectors' group membership failed")?;
        Ok(shared?)
    })
}

fn share_event(event: MemberEvent) -> ShareEvent {
    match event {
        MemberEvent::Assigned(partitions) => ShareEvent::Assigned(partitions),
        MemberEvent::Record { partition, key, value } => ShareEvent::Record { partition, key, value },
        MemberEvent::Revoked { partitions, done } => ShareEvent::Revoked { partitions, done },
    }
}
