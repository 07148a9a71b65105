//! What went wrong talking to ClickHouse, and whether trying again can help.

/// ClickHouse exception codes worth retrying: the server is busy, overloaded, timing out or
/// temporarily read-only, or the same batch is still being inserted by an earlier attempt.
const RETRYABLE_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    216, // QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING: our batch id; the first attempt still runs
    241, // MEMORY_LIMIT_EXCEEDED (server-wide pressure passes)
    242, // TABLE_IS_READ_ONLY (replica lost its keeper session)
    252, // TOO_MANY_PARTS (merges catch up)
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED (server shutting down)
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

/// Codes that say the schema, the credentials or the request itself are wrong: no row of the
/// batch is at fault and retrying will not help. The sink stops (the data stays in the bus)
/// until someone runs `otklik clickhouse migrate` or fixes the config.
const FATAL_CODES: &[u32] = &[
    8,   // THERE_IS_NO_COLUMN
    10,  // NOT_FOUND_COLUMN_IN_BLOCK
    16,  // NO_SUCH_COLUMN_IN_TABLE
    47,  // UNKNOWN_IDENTIFIER
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    73,  // UNKNOWN_FORMAT
    81,  // UNKNOWN_DATABASE
    115, // UNKNOWN_SETTING
    164, // READONLY (the user, not the table)
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Try the same request again later.
    Retryable,
    /// Something about the rows sent (a constraint, a value the column cannot take): split the
    /// batch to find them.
    Content,
    /// Nothing will work until a person acts.
    Fatal,
}

/// A ClickHouse request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// The server answered with an exception.
    #[error("ClickHouse: {message}")]
    Server {
        /// The exception code (`Code: N` in the message), when the server gave one.
        code: Option<u32>,
        /// The server's message, as sent.
        message: String,
    },
    /// No usable answer: connection refused or reset, timeout, a proxy's 5xx.
    #[error("ClickHouse unreachable: {0}")]
    Network(String),
    /// Our side failed before or after the request (serialising a row, reading a file).
    #[error("{0}")]
    Client(String),
    #[error("migration {version} ({name}): {reason}")]
    Migration { version: u32, name: String, reason: String },
}

impl ClickHouseError {
    /// What to do about it; see [`FailureKind`].
    pub fn kind(&self) -> FailureKind {
        match self {
            ClickHouseError::Network(_) => FailureKind::Retryable,
            ClickHouseError::Server { code: Some(code), .. } if RETRYABLE_CODES.contains(code) => {
                FailureKind::Retryable
            }
            ClickHouseError::Server { code: Some(code), .. } if FATAL_CODES.contains(code) => FailureKind::Fatal,
            ClickHouseError::Server { code: Some(_), .. } => FailureKind::Content,
            // No code: an HTTP status from something in between (a proxy, a load balancer).
            ClickHouseError::Server { code: None, message } => {
                if message.starts_with('5') {
                    FailureKind::Retryable
                } else {
                    FailureKind::Fatal
                }
            }
            ClickHouseError::Client(_) | ClickHouseError::Migration { .. } => FailureKind::Fatal,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind() == FailureKind::Retryable
    }

    /// The server's exception code, if any.
    pub fn code(&self) -> Option<u32> {
        match self {
            ClickHouseError::Server { code, .. } => *code,
            _ => None,
        }
    }
}

impl From<clickhouse::error::Error> for ClickHouseError {
    fn from(error: clickhouse::error::Error) -> Self {
        use clickhouse::error::Error as E;
        match error {
            E::BadResponse(message) => ClickHouseError::Server { code: exception_code(&message), message },
            E::Network(_) | E::TimedOut => ClickHouseError::Network(error_chain(&error)),
            other => ClickHouseError::Client(error_chain(&other)),
        }
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // The crate's messages often repeat their source; keep each part once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The `N` of `Code: N` in a ClickHouse exception text (both the 18.x form `Code: 27,
/// e.displayText() = …` and the current `Code: 27. DB::Exception: …`).
pub fn exception_code(message: &str) -> Option<u32> {
    let at = message.find("Code: ")? + "Code: ".len();
    let digits: String = message[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(message: &str) -> ClickHouseError {
        ClickHouseError::Server { code: exception_code(message), message: message.into() }
    }

    #[test]
    fn classifies_by_exception_code() {
        assert_eq!(exception_code("Code: 27, e.displayText() = DB::Exception: Cannot parse input"), Some(27));
        assert_eq!(exception_code("Code: 252. DB::Exception: Too many parts (300)."), Some(252));
        assert_eq!(exception_code("503 Service Unavailable"), None);
        for code in [202, 252, 159, 209, 210, 242] {
            assert_eq!(server(&format!("Code: {code}. DB::Exception: x")).kind(), FailureKind::Retryable, "{code}");
        }
        assert_eq!(
            server("Code: 60, e.displayText() = DB::Exception: Table otklik.posts doesn't exist.").kind(),
            FailureKind::Fatal
        );
        assert_eq!(
            server("Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero").kind(),
            FailureKind::Content
        );
        assert_eq!(
            server("Code: 469. DB::Exception: Constraint `uid_shape` … is violated").kind(),
            FailureKind::Content
        );
        assert_eq!(server("502 Bad Gateway").kind(), FailureKind::Retryable);
        assert_eq!(server("404 Not Found").kind(), FailureKind::Fatal);
        assert!(ClickHouseError::Network("connection refused".into()).is_retryable());
    }
}
