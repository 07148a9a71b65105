//! Hot reload: on SIGHUP the config file is read and checked again, as `check-config` would,
//! and the topic rules, the gazetteer and the sources list it names replace the ones in use.
//!
//! The classifier stage takes one [`Rules`] per batch, so a batch in flight finishes with the
//! rules it started with and the next one uses the new; the collectors take the sources list at
//! the start of each poll pass. A config with any problem is refused whole: every problem is
//! logged (the check-config report) and the old rules and sources stay. Other settings (batch
//! sizes, listeners, credentials) need a restart. The alert stage reads places with the
//! classifier's gazetteer and takes the new one, and the sources' official standing, from the
//! next batch it links.
//!
//! The config version is a hash of the files loaded (the config, every topics file, the
//! gazetteer, the sources file): logged at start and after each reload, and set on `/metrics`.

use crate::config::Config;
use crate::metrics::Registry;
use anyhow::Result;
use otklik_classify::{Classifier, SourceContext};
use otklik_model::{Platform, Source};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// What the classifier stage reads per batch.
pub struct Rules {
    pub classifier: Arc<Classifier>,
    /// Source id → what the classifier should know about the source.
    pub sources: HashMap<String, SourceContext>,
}

impl Rules {
    /// Source id → the source is an administration's or official body's feed (the alert stage's
    /// reading of who speaks).
    pub fn official(&self) -> HashMap<String, bool> {
        self.sources.iter().map(|(id, context)| (id.clone(), context.official)).collect()
    }

    fn new(classifier: Arc<Classifier>, sources: &[Source]) -> Rules {
        let context = |s: &Source| SourceContext { official: s.official, municipality: s.municipality.clone() };
        Rules { classifier, sources: sources.iter().map(|s| (s.id.clone(), context(s))).collect() }
    }
}

/// The reloadable part of the config in use, and where it came from.
pub struct Reload {
    path: PathBuf,
    rules: watch::Sender<Arc<Rules>>,
    sources: watch::Sender<Arc<Vec<Source>>>,
    version: std::sync::Mutex<String>,
    /// The networks the process built a reader for (every one when replaying saved responses).
    networks: Vec<Platform>,
}

impl Reload {
    /// The rules and sources of `config`, loaded from `path`.
    pub fn new(path: &Path, config: &Config) -> Result<Reload> {
        let rules = Rules::new(config.classifier()?, &config.sources);
        let version = config_version(path, config);
        tracing::info!(config_version = %version, "config loaded");
        Ok(Reload {
            path: path.to_owned(),
            rules: watch::Sender::new(Arc::new(rules)),
            sources: watch::Sender::new(Arc::new(config.sources.clone())),
            version: std::sync::Mutex::new(version),
            networks: networks(config),
        })
    }

    /// The rules in use now.
    pub fn current(&self) -> Arc<Rules> {
        self.rules.borrow().clone()
    }

    pub fn rules(&self) -> watch::Receiver<Arc<Rules>> {
        self.rules.subscribe()
    }

    pub fn sources(&self) -> watch::Receiver<Arc<Vec<Source>>> {
        self.sources.subscribe()
    }

    pub fn version(&self) -> String {
        self.version.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the config again; on success swaps rules and sources in and returns the new
    /// version, otherwise logs every problem and keeps what is in use.
    pub fn reload(&self) -> Option<String> {
        let config = match Config::load(&self.path) {
            Ok(config) => config,
            Err(problems) => {
                for problem in &problems.0 {
                    tracing::error!(%problem, "config problem");
                }
                let (count, kept) = (problems.0.len(), self.version());
                let refused = "config reload refused; the config in use stays";
                tracing::error!(problems = count, config_version = %kept, "{refused}");
                return None;
            }
        };
        let missing: Vec<String> =
            networks(&config).iter().filter(|p| !self.networks.contains(p)).map(|p| p.to_string()).collect();
        if !missing.is_empty() {
            let missing = missing.join(", ");
            let refused = "config reload refused: a source on a network this process has no reader for needs a restart";
            tracing::error!(%missing, "{refused}");
            return None;
        }
        let classifier = match config.classifier() {
            Ok(classifier) => classifier,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "config reload refused; the config in use stays");
                return None;
            }
        };
        let version = config_version(&self.path, &config);
        self.rules.send_replace(Arc::new(Rules::new(classifier, &config.sources)));
        self.sources.send_replace(Arc::new(config.sources));
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = version.clone();
        tracing::info!(config_version = %version, "config reloaded");
        Some(version)
    }

    /// Reloads on every SIGHUP until `shutdown`, telling `registry` the version in use.
    pub fn spawn_on_sighup(self: Arc<Self>, registry: Arc<Registry>, shutdown: otklik_pipeline::CancellationToken) {
        registry.set_config_version(&self.version());
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hangup = match signal(SignalKind::hangup()) {
                Ok(hangup) => hangup,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP: no hot reload");
                    return;
                }
            };
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = hangup.recv() => {}
                        _ = shutdown.cancelled() => return,
                    }
                    tracing::info!(path = %self.path.display(), "SIGHUP: reloading the config");
                    if let Some(version) = self.reload() {
                        registry.set_config_version(&version);
                    }
                }
            });
        }
    }
}

/// The networks whose sources `config` polls (none to check when replaying).
fn networks(config: &Config) -> Vec<Platform> {
    let all = [Platform::Vk, Platform::Telegram, Platform::Ok];
    match config.collect.replay_dir {
        Some(_) => Vec::new(),
        None => all.into_iter().filter(|&p| crate::readers::needs(config, p)).collect(),
    }
}

/// A hash of the files a config loads: the config itself, each topics file (by name), the
/// gazetteer and the sources file. 16 hex digits of SHA-256; a file that cannot be read counts
/// as empty (the load has reported it).
pub fn config_version(path: &Path, config: &Config) -> String {
    let mut files = vec![path.to_owned(), config.resolve(&config.collect.sources_file)];
    if !config.classify.gazetteer.as_os_str().is_empty() {
        files.push(config.resolve(&config.classify.gazetteer));
    }
    let topics = config.resolve(&config.classify.topics_dir);
    let mut rules: Vec<PathBuf> = std::fs::read_dir(&topics)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    rules.sort();
    files.extend(rules);
    let mut hash = Sha256::new();
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(&file).unwrap_or_default();
        // Lengths first, so that no two different sets of files hash alike.
        for part in [name.as_bytes(), &bytes] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
    }
    hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}
