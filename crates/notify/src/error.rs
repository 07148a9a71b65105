//! What can go wrong outside a delivery attempt (an attempt's own failures are outcomes in the
//! log, see [`crate::attempt`]).

use otklik_pipeline::units::ConfigProblem;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The delivery log could not be read or written. The caller keeps its input uncommitted.
    #[error("delivery log: {message}")]
    Log { message: String, retryable: bool },
    /// A receiver's config or secret is unusable.
    #[error("receiver {receiver}: {}", joined(.problems))]
    Config { receiver: String, problems: Vec<ConfigProblem> },
    /// The outbox stopped (shutdown) before the work could be handed over.
    #[error("the outbox has stopped")]
    Stopped,
}

impl NotifyError {
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Log { retryable, .. } => *retryable,
            NotifyError::Config { .. } | NotifyError::Stopped => false,
        }
    }
}

fn joined(problems: &[ConfigProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
