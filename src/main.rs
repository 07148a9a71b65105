//! `otklik`: the command line. Glue only — every capability lives in a crate under `crates/`.

mod alert_stage;
mod alerts_cmd;
mod audience_cmd;
mod bench_cmd;
mod classify_cmd;
mod clickhouse_cmd;
mod commands;
mod config;
mod dedup_cmd;
mod embedded;
mod graph;
mod health;
mod incidents_cmd;
mod kafka_cmd;
mod metrics;
mod metrics_http;
mod notify_stage;
mod production;
mod readers;
mod reload;
mod responses_cmd;
mod serve_cmd;
mod sources_cmd;
mod stages;
mod summary;
mod supervise;
mod telemetry;
mod tomlcheck;

use clap::{Parser, Subcommand, ValueEnum};
use graph::Role;
use std::path::PathBuf;
use std::process::ExitCode;

const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Social-media monitoring for regional feedback centres: collect public VK, Telegram and OK
/// posts, classify them by topic, municipality and kind, store them for analysts.
#[derive(Parser)]
#[command(name = "otklik", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as JSON objects or pretty text (overrides `[telemetry] log_format`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<config::LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline (embedded: one process, local store; production: over Kafka).
    Run {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Production mode, one kind of stage per process: the collectors (sources and cursors).
    Collect {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Production mode, one kind of stage per process: the classifier (raw → classified posts).
    ClassifyStage {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Production mode, one kind of stage per process: incident linking and spike detection
    /// (series → linked posts and alerts).
    Alert {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Production mode, one kind of stage per process: the ClickHouse sinks (posts, alerts,
    /// dead letters).
    Sink {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Validate a config file and its sources file; reports every problem, exit code 2 if any.
    CheckConfig {
        #[arg(default_value = "config/otklik.toml")]
        path: PathBuf,
    },
    /// Turn a saved network response into RawPost NDJSON on stdout.
    Parse {
        network: Network,
        file: PathBuf,
        /// Source id to stamp on the posts (default `{platform}:{owner}`).
        #[arg(long)]
        source_id: Option<String>,
        /// For comment responses that do not name their post (OK): the post's uid.
        #[arg(long)]
        parent: Option<String>,
        /// For VK responses whose items carry no `owner_id` (older `wall.getComments` results,
        /// `execute` results): the wall's owner id ("-12345" for a community).
        #[arg(long, allow_hyphen_values = true)]
        owner: Option<i64>,
        /// Read at most this much of FILE ("512KiB", "64MiB", or bytes); a larger file is an error.
        #[arg(long, default_value = commands::PARSE_MAX_BYTES, value_parser = otklik_pipeline::units::parse_size)]
        max_bytes: usize,
    },
    /// Classify RawPost NDJSON (or plain text lines) from stdin; ClassifiedPost NDJSON on stdout.
    Classify {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Add which rules fired, scores and the municipality evidence.
        #[arg(long)]
        explain: bool,
        /// Treat the input as an official source's posts.
        #[arg(long)]
        official: bool,
        /// Stop at the first bad line (not UTF-8, not a RawPost, too long). Without it a bad line
        /// is reported with its number and skipped, and the run exits 1 at the end.
        #[arg(long)]
        strict: bool,
        /// The longest input line read ("1MiB", or bytes); a longer one is a bad line.
        #[arg(long, default_value = classify_cmd::CLASSIFY_MAX_LINE_BYTES,
              value_parser = otklik_pipeline::units::parse_size)]
        max_line_bytes: usize,
        /// Threads that classify (default: one per core); the output keeps the input's order.
        #[arg(long)]
        threads: Option<std::num::NonZeroUsize>,
    },
    /// ClickHouse schema and loading.
    Clickhouse {
        #[command(subcommand)]
        command: ClickhouseCommand,
        #[arg(long, short, default_value = "config/otklik.toml", global = true)]
        config: PathBuf,
    },
    /// The collector fleet's sources in Kafka (the compacted sources topic).
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
        #[arg(long, short, default_value = "config/otklik.toml", global = true)]
        config: PathBuf,
    },
    /// Kafka topics.
    Kafka {
        #[command(subcommand)]
        command: KafkaCommand,
        #[arg(long, short, default_value = "config/otklik.toml", global = true)]
        config: PathBuf,
    },
    /// Complaints per municipality × topic (from ClickHouse in production mode, from the local
    /// store in embedded mode).
    Report {
        #[command(subcommand)]
        command: Option<ReportCommand>,
        #[arg(long, short, default_value = "config/otklik.toml", global = true)]
        config: PathBuf,
        /// How far back: "24h", "7d", … (default: 24h; 7d for responses, 14d for audience)
        #[arg(long, value_parser = otklik_pipeline::units::parse_duration, global = true)]
        since: Option<std::time::Duration>,
    },
    /// Open incidents with their voices, first and last post, place, topic and an excerpt (from
    /// ClickHouse in production mode, from the local store in embedded mode).
    Incidents {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Incidents with a post this recent: "24h", "3d", …
        #[arg(long, default_value = "24h", value_parser = otklik_pipeline::units::parse_duration)]
        since: std::time::Duration,
    },
    /// The duty officer's page: open and recent alerts with their incidents, the last 24 hours
    /// against the usual, silences and deliveries (from ClickHouse in production mode, from the
    /// local store in embedded mode), until Ctrl-C or SIGTERM.
    Serve {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Listen here instead of `[serve] listen` (127.0.0.1:8080 by default).
        #[arg(long)]
        listen: Option<String>,
        /// Show the page as of this moment (RFC 3339 time or date) instead of the present.
        #[arg(long, value_parser = alerts_cmd::parse_time)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Spike alerts.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Measure the classifier on a labeled CSV (`id,text,topics[,municipality]`).
    Eval {
        file: PathBuf,
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Write the misclassified rows to this CSV.
        #[arg(long)]
        misses: Option<PathBuf>,
    },
    /// How many texts each pattern of the topic rules and the kind cues matches: lists the
    /// patterns that match none (dead, or not saying what they were meant to).
    RulesCoverage {
        /// CSV files with a `text` column, or text files of one text a line.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// List every pattern with its count, not only those that matched nothing.
        #[arg(long)]
        all: bool,
    },
    /// Incident linking (copies, incidents, voices) measured on a labelled CSV.
    Dedup {
        #[command(subcommand)]
        command: dedup_cmd::DedupCommand,
    },
    /// Benchmarks against real services.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

/// `otklik report …`: without a subcommand, complaints per municipality × topic.
#[derive(Subcommand)]
enum ReportCommand {
    /// Who answered residents' complaints and how fast, per organisation and municipality, and
    /// the complaints unanswered past their deadline (ClickHouse in production mode, the local
    /// store in embedded mode).
    Responses {
        /// Also store each complaint's first reply in ClickHouse's `replies` table (production
        /// mode; the `response_daily` view reads it).
        #[arg(long)]
        record: bool,
    },
    /// How the audience of each source (members, subscribers) changed over the period, per
    /// source and per organisation type (ClickHouse in production mode, the local store in
    /// embedded mode).
    Audience,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Throughput of the Kafka path on the real stage runners: posts/s, lag, RSS and CPU for the
    /// transport alone, with the classifier, and into ClickHouse.
    Pipeline {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Bootstrap servers (default: the config's [kafka] brokers).
        #[arg(long)]
        kafka: Option<String>,
        /// ClickHouse URL: adds the end-to-end scenario.
        #[arg(long)]
        clickhouse: Option<String>,
        /// How long each scenario is measured ("60s", "5m").
        #[arg(long, default_value = "60s", value_parser = otklik_pipeline::units::parse_duration)]
        duration: std::time::Duration,
        /// Run only these scenarios (repeatable; default: all that the flags allow).
        #[arg(long = "scenario", value_enum)]
        scenarios: Vec<bench_cmd::Scenario>,
        /// Partitions of each bench topic.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// The producer stays at most this many posts ahead of the sink.
        #[arg(long, default_value_t = 100_000)]
        max_lag: u64,
        /// The repository root, whose fixtures give the texts.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Further texts: a CSV file with a `text` column.
        #[arg(long)]
        texts: Option<PathBuf>,
        /// Run each stage as a process of its own (its stage command), with RSS and CPU per process.
        #[arg(long)]
        processes: bool,
        /// Stop the producer after this many posts (default: at the end of the window).
        #[arg(long)]
        max_posts: Option<u64>,
    },
    /// A transport stage of the bench as a process of its own (started by `pipeline --processes`).
    #[command(hide = true)]
    Stage {
        stage: bench_cmd::stage::BenchStage,
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// Alerts raised recently, the latest event of each, with their top incidents.
    List {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Only those not resolved.
        #[arg(long)]
        open: bool,
        /// How far back: "24h", "7d", …
        #[arg(long, default_value = "7d", value_parser = otklik_pipeline::units::parse_duration)]
        since: std::time::Duration,
    },
    /// Stop sending a series' alerts for a while; they are still recorded (and listed on the
    /// page). `--end ID` ends a silence early.
    Silence {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// `{ОКТМО|region|*}:{topic|*}`, as `otklik alerts list` shows keys: `56701000:heating`.
        #[arg(long, required_unless_present = "end")]
        series: Option<String>,
        /// How long: "6h", "2d", …
        #[arg(long = "for", default_value = "6h", value_parser = otklik_pipeline::units::parse_duration)]
        duration: std::time::Duration,
        #[arg(long, required_unless_present = "end")]
        reason: Option<String>,
        /// Who silenced it (shown beside the silence).
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
        /// End this silence (its id, from `otklik alerts silences`) now.
        #[arg(long, conflicts_with_all = ["series", "reason"])]
        end: Option<String>,
    },
    /// The silences in force or to come.
    Silences {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Replay the stored voices of a time range through the detector of the config and print
    /// the alerts it raises (RFC 3339 times or dates).
    Backtest {
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        #[arg(long, value_parser = alerts_cmd::parse_time)]
        from: chrono::DateTime<chrono::Utc>,
        #[arg(long, value_parser = alerts_cmd::parse_time)]
        to: chrono::DateTime<chrono::Utc>,
    },
    /// Measure the spike detector on simulated series (Noufaily et al. 2013): POD by outbreak
    /// size, false alerts per series-month, effective α, detection delay.
    Bench {
        #[arg(long, default_value_t = 100)]
        replicates: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Series of the deployment, for the projected false alerts per day.
        #[arg(long, default_value_t = 870)]
        series: usize,
        /// Write every figure to this CSV file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Write every source of FILE (`[[source]]` tables, checked as check-config does) to the
    /// sources topic; a source in the topic but not in FILE gets a tombstone.
    Import { file: PathBuf },
    /// Every source of the sources topic with its cursor: newest post id, last poll, state.
    List,
}

#[derive(Subcommand)]
enum KafkaCommand {
    /// Create the topics of the config that are missing (sources and cursors compacted) and
    /// check the existing ones: partitions, compaction, configured topic settings.
    Init,
}

#[derive(Subcommand)]
enum ClickhouseCommand {
    /// Create or upgrade the database from deploy/clickhouse/migrations.
    Migrate,
    /// Load a local store directory (the embedded mode's data_dir, e.g. data/demo).
    Load { dir: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum Network {
    Vk,
    Telegram,
    Ok,
}

impl From<Network> for otklik_model::Platform {
    fn from(n: Network) -> Self {
        match n {
            Network::Vk => otklik_model::Platform::Vk,
            Network::Telegram => otklik_model::Platform::Telegram,
            Network::Ok => otklik_model::Platform::Ok,
        }
    }
}

fn bench(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Pipeline {
            config,
            kafka,
            clickhouse,
            duration,
            scenarios,
            partitions,
            max_lag,
            root,
            texts,
            processes,
            max_posts,
        } => {
            let options = bench_cmd::PipelineOptions {
                config,
                kafka,
                clickhouse,
                duration,
                scenarios,
                partitions,
                max_lag,
                root,
                texts,
                processes,
                max_posts,
            };
            bench_cmd::pipeline(&options)
        }
        BenchCommand::Stage { stage, config } => bench_cmd::stage::run(stage, &config),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(format) = cli.log_format {
        telemetry::override_log_format(format);
    }
    let result = match cli.command {
        Command::Run { config } => commands::run(&config, Role::All),
        Command::Collect { config } => commands::run(&config, Role::Collect),
        Command::ClassifyStage { config } => commands::run(&config, Role::Classify),
        Command::Sink { config } => commands::run(&config, Role::Sink),
        Command::Alert { config } => commands::run(&config, Role::Alert),
        Command::CheckConfig { path } => return commands::check_config(&path),
        Command::Parse { network, file, source_id, parent, owner, max_bytes } => {
            let options = commands::ParseOptions { source_id, parent, owner, max_bytes };
            commands::quiet_on_closed_pipe(commands::parse(network.into(), &file, options))
        }
        Command::Classify { config, explain, official, strict, max_line_bytes, threads } => {
            let threads = threads.or_else(|| std::thread::available_parallelism().ok()).map_or(1, |n| n.get());
            let options = classify_cmd::ClassifyOptions { explain, official, strict, max_line_bytes, threads };
            commands::quiet_on_closed_pipe(classify_cmd::classify(&config, &options))
        }
        Command::Eval { file, config, misses } => commands::eval(&config, &file, misses.as_deref()),
        Command::RulesCoverage { files, config, all } => commands::rules_coverage(&config, &files, all),
        Command::Clickhouse { command, config } => commands::load_config(&config).and_then(|config| match command {
            ClickhouseCommand::Migrate => clickhouse_cmd::migrate(&config),
            ClickhouseCommand::Load { dir } => clickhouse_cmd::load(&config, &dir),
        }),
        Command::Alerts { command: AlertsCommand::Bench { replicates, seed, series, csv } } => {
            alerts_cmd::bench(replicates, seed, series, csv.as_deref())
        }
        Command::Alerts { command: AlertsCommand::List { config, open, since } } => {
            commands::load_config(&config).and_then(|config| alerts_cmd::list(&config, since, open))
        }
        Command::Alerts { command: AlertsCommand::Silence { config, series, duration, reason, by, end } } => {
            let request = match end {
                Some(id) => alerts_cmd::SilenceRequest::End(id),
                None => alerts_cmd::SilenceRequest::Start {
                    series: series.unwrap_or_default(),
                    duration,
                    reason: reason.unwrap_or_default(),
                    by,
                },
            };
            commands::load_config(&config).and_then(|config| alerts_cmd::silence(&config, request))
        }
        Command::Alerts { command: AlertsCommand::Silences { config } } => {
            commands::load_config(&config).and_then(|config| alerts_cmd::silences(&config))
        }
        Command::Alerts { command: AlertsCommand::Backtest { config, from, to } } => {
            commands::load_config(&config).and_then(|config| alerts_cmd::backtest(&config, from, to))
        }
        Command::Incidents { config, since } => {
            commands::load_config(&config).and_then(|config| incidents_cmd::run(&config, since))
        }
        Command::Serve { config, listen, at } => {
            commands::load_config(&config).and_then(|config| serve_cmd::run(&config, listen.as_deref(), at))
        }
        Command::Dedup { command } => dedup_cmd::run(command),
        Command::Bench { command } => bench(command),
        Command::Kafka { command: KafkaCommand::Init, config } => {
            commands::load_config(&config).and_then(|config| kafka_cmd::init(&config))
        }
        Command::Sources { command, config } => commands::load_config(&config).and_then(|config| match command {
            SourcesCommand::Import { file } => sources_cmd::import(&config, &file),
            SourcesCommand::List => sources_cmd::list(&config),
        }),
        Command::Report { command, config, since } => commands::load_config(&config).and_then(|config| match command {
            None => clickhouse_cmd::report(&config, since.unwrap_or(DAY)),
            Some(ReportCommand::Responses { record }) => responses_cmd::run(&config, since.unwrap_or(DAY * 7), record),
            Some(ReportCommand::Audience) => audience_cmd::run(&config, since.unwrap_or(DAY * 14)),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // A cause can quote a server's answer, and servers echo credentials back.
            eprintln!("error: {}", otklik_pipeline::secrets::redact(&error.to_string()));
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {}", otklik_pipeline::secrets::redact(&cause.to_string()));
            }
            ExitCode::FAILURE
        }
    }
}
