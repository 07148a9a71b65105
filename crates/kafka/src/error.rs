use otklik_pipeline::BusError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Everything that can go wrong talking to Kafka. [`Error::is_retryable`] says whether the same
/// call may succeed later (a broker restarting, a rebalance, a full queue) or never will (bad
/// configuration, a record larger than the broker takes, missing authorisation).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work (unknown librdkafka property, bad value, empty brokers).
    #[error("invalid Kafka configuration: {0}")]
    Config(String),
    /// A client call failed; `op` says which (`publish to otklik.posts.raw.v1`, `commit`, …).
    #[error("Kafka {op} failed")]
    Kafka {
        op: String,
        #[source]
        source: KafkaError,
    },
    /// The broker refused to create a topic (other than because it exists already).
    #[error("creating topic {topic} failed: {code}")]
    CreateTopic { topic: String, code: RDKafkaErrorCode },
}

impl Error {
    pub(crate) fn kafka(op: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka { op: op.into(), source }
    }

    /// The message with its causes, `outer: inner: …` (for logs and [`BusError`]). rdkafka's
    /// errors name their code in their own text and again as their source: a cause already said
    /// is not repeated.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            let said = e.to_string();
            if !text.contains(&said) {
                text.push_str(": ");
                text.push_str(&said);
            }
            cause = e.source();
        }
        text
    }

    /// Whether trying the same call again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Config(_) => false,
            Error::Kafka { source, .. } => match source {
                KafkaError::Canceled | KafkaError::NoMessageReceived => true,
                other => other.rdkafka_error_code().is_some_and(code_is_retryable),
            },
            Error::CreateTopic { code, .. } => code_is_retryable(*code),
        }
    }
}

/// Codes that describe a passing state of the cluster or the client, not a property of the
/// request: retrying (after a pause) can succeed.
pub(crate) fn code_is_retryable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        code,
        BrokerTransportFailure
            | Resolve
            | MessageTimedOut
            | AllBrokersDown
            | OperationTimedOut
            | QueueFull
            | ISRInsufficient
            | WaitingForCoordinator
            | InProgress
            | PreviousInProgress
            | TimedOutQueue
            | Retry
            | PurgeQueue
            | PurgeInflight
            | AssignmentLost
            | LeaderNotAvailable
            | NotLeaderForPartition
            | RequestTimedOut
            | BrokerNotAvailable
            | ReplicaNotAvailable
            | NetworkException
            | CoordinatorLoadInProgress
            | CoordinatorNotAvailable
            | NotCoordinator
            | NotEnoughReplicas
            | NotEnoughReplicasAfterAppend
            | IllegalGeneration
            | UnknownMemberId
            | RebalanceInProgress
            | NotController
            | ConcurrentTransactions
            | KafkaStorageError
            | FetchSessionIdNotFound
            | InvalidFetchSessionEpoch
            | FencedLeaderEpoch
            | UnknownLeaderEpoch
            | OffsetNotAvailable
            | PreferredLeaderNotAvailable
            | EligibleLeadersNotAvailable
            | UnstableOffsetCommit
            | ThrottlingQuotaExceeded
            | StaleMemberEpoch
            | FencedMemberEpoch
    )
}

impl Error {
    /// Whether the broker (or the producer) refuses this one record for what it is, while other
    /// records would go through: it belongs in the DLQ.
    pub fn is_record_rejected(&self) -> bool {
        use RDKafkaErrorCode::*;
        match self {
            Error::Kafka { source, .. } => source.rdkafka_error_code().is_some_and(|code| {
                matches!(code, MessageSizeTooLarge | InvalidMessageSize | MessageBatchTooLarge | InvalidRecord)
            }),
            _ => false,
        }
    }
}

impl From<Error> for BusError {
    fn from(error: Error) -> Self {
        let message = error.chain();
        if error.is_record_rejected() {
            BusError::rejected(message)
        } else if error.is_retryable() {
            BusError::retryable(message)
        } else {
            BusError::fatal(message)
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_retryable() {
        let full = Error::kafka("publish", KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull));
        assert!(full.is_retryable());
        let too_big = Error::kafka("publish", KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge));
        assert!(!too_big.is_retryable());
        assert!(too_big.is_record_rejected() && BusError::from(too_big).rejected);
        assert!(!Error::Config("x".into()).is_retryable());
        let bus: BusError = full.into();
        assert!(bus.retryable);
        assert!(bus.message.contains("publish") && bus.message.contains("Queue full"), "{}", bus.message);
        let down = Error::kafka("consume", KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown));
        assert_eq!(down.chain().matches("All broker connections are down").count(), 1, "{}", down.chain());
    }
}
