//! Supervision of a process's stages: they run in one `JoinSet`; the first that fails (or
//! panics) makes the process not ready at once, cancels the others so they finish or hand back
//! their batches, and its error becomes the process's exit status — a stage never dies silently
//! while the process looks healthy (systemd or Kubernetes restarts it).

use crate::metrics::Registry;
use anyhow::{anyhow, Result};
use otklik_pipeline::CancellationToken;
use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinSet;
use tracing::Instrument;

pub struct Supervisor {
    tasks: JoinSet<(String, Result<()>)>,
    shutdown: CancellationToken,
    registry: Arc<Registry>,
}

impl Supervisor {
    /// Stages stop when `shutdown` is cancelled (by a signal, or by the supervisor when a stage
    /// fails); readiness is reported through `registry`.
    pub fn new(shutdown: CancellationToken, registry: Arc<Registry>) -> Self {
        Supervisor { tasks: JoinSet::new(), shutdown, registry }
    }

    /// Runs `stage` as the task `name`, in a span of that name. A stage that ends without error
    /// before shutdown (a replay that has published everything) simply ends.
    pub fn spawn<F>(&mut self, name: &str, stage: F)
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let span = tracing::info_span!("stage", stage = %name);
        let name = name.to_owned();
        self.tasks.spawn(async move { (name, stage.await) }.instrument(span));
    }

    /// Waits until every stage has ended. Returns the first failure, after the others were
    /// stopped; `Ok` when all ended cleanly (after shutdown, or by finishing their work).
    pub async fn run(mut self) -> Result<()> {
        let mut first_failure = None;
        while let Some(joined) = self.tasks.join_next().await {
            let failure = match joined {
                Ok((name, Ok(()))) => {
                    tracing::info!(stage = %name, "stage ended");
                    self.registry.stage_stopped(&name, false);
                    continue;
                }
                Ok((name, Err(error))) => {
                    self.registry.stage_stopped(&name, true);
                    error.context(format!("stage {name} failed"))
                }
                Err(panic) => anyhow!("a stage panicked: {panic}"),
            };
            if first_failure.is_none() {
                self.registry.set_ready(false);
                tracing::error!(error = %format!("{failure:#}"), "stopping every stage; the process exits with an error");
                self.shutdown.cancel();
                first_failure = Some(failure);
            } else {
                tracing::warn!(error = %format!("{failure:#}"), "another stage failed while stopping");
            }
        }
        first_failure.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_failure_stops_every_stage_and_the_process_is_not_ready() {
        let (shutdown, registry) = (CancellationToken::new(), Arc::new(Registry::default()));
        registry.set_ready(true);
        let mut supervisor = Supervisor::new(shutdown.clone(), registry.clone());
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        supervisor.spawn("steady", {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                let _ = stopped_tx.send(());
                Ok(())
            }
        });
        supervisor.spawn("replay", async { Ok(()) });
        supervisor.spawn("sink", async { Err(anyhow!("error 60: table otklik.posts does not exist")) });
        let error = supervisor.run().await.expect_err("the failure is the result");
        assert_eq!(format!("{error:#}"), "stage sink failed: error 60: table otklik.posts does not exist");
        assert!(!registry.is_ready(), "not ready once a stage failed");
        assert!(shutdown.is_cancelled());
        stopped_rx.await.expect("the steady stage was stopped and finished");
    }

    #[tokio::test]
    async fn stages_that_end_cleanly_end_the_run_cleanly() {
        let (shutdown, registry) = (CancellationToken::new(), Arc::new(Registry::default()));
        registry.set_ready(true);
        let mut supervisor = Supervisor::new(shutdown.clone(), registry.clone());
        supervisor.spawn("a", async { Ok(()) });
        supervisor.spawn("b", async { Ok(()) });
        supervisor.run().await.unwrap();
        assert!(registry.is_ready() && !shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn a_panic_is_a_failure() {
        let (shutdown, registry) = (CancellationToken::new(), Arc::new(Registry::default()));
        let mut supervisor = Supervisor::new(shutdown.clone(), registry);
        supervisor.spawn("broken", async { panic!("index out of bounds") });
        let error = supervisor.run().await.expect_err("a panic fails the run");
        assert!(format!("{error:#}").contains("panicked"), "{error:#}");
        assert!(shutdown.is_cancelled());
    }
}
