//! The one error type of the harness and the workshop tool. Every failure says what
//! was found and what to do about it; the step tests turn it into a panic at their
//! own line (`Must::must`), the tool prints it.

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// What a check (or the harness) found wrong, and a hint at the idea, not the answer.
    #[error("{found}\n  hint: {hint}")]
    Found { found: String, hint: String },
    /// A build that failed: the failing instruction, the error, a hint, the log's end.
    #[error("{}", .0.report)]
    Build(Box<BuildFailure>),
    /// Docker, a file or a command the harness needs did not do its part.
    #[error("{0}")]
    Harness(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Err(Error::Found { .. })`: what was found, and what to think about.
pub fn found<T>(found: impl Into<String>, hint: impl Into<String>) -> Result<T> {
    Err(Error::Found {
        found: found.into(),
        hint: hint.into(),
    })
}

/// `Err(Error::Harness(..))`.
pub fn harness<T>(message: impl Into<String>) -> Result<T> {
    Err(Error::Harness(message.into()))
}

impl Error {
    /// What was found: the first part of a report's ✗ line.
    pub fn found(&self) -> &str {
        match self {
            Error::Found { found, .. } => found,
            Error::Build(failure) => &failure.error,
            Error::Harness(message) => message,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &str {
        match self {
            Error::Found { hint, .. } => hint,
            Error::Build(failure) => &failure.hint,
            Error::Harness(_) => "fix what the message names, then check again",
        }
    }

    /// The same error, with `context` in front of what was found.
    pub fn context(self, context: &str) -> Error {
        match self {
            Error::Found { found, hint } => Error::Found {
                found: format!("{context}: {found}"),
                hint,
            },
            Error::Build(failure) => Error::Found {
                found: format!("{context}: {}", failure.error),
                hint: failure.hint,
            },
            Error::Harness(message) => Error::Harness(format!("{context}: {message}")),
        }
    }

    /// Replaces the hint (a check that knows more about why than the place that failed).
    pub fn with_hint(self, hint: impl Into<String>) -> Error {
        Error::Found {
            found: self.found().to_string(),
            hint: hint.into(),
        }
    }
}

impl From<BuildFailure> for Error {
    fn from(failure: BuildFailure) -> Error {
        Error::Build(Box::new(failure))
    }
}

/// Another library's error as the harness's own, named by what the harness was doing:
/// `serde_json::from_str(&text).harness("the provenance is not JSON")?` fails with
/// "the provenance is not JSON: <serde's message>".
pub trait Harness<T> {
    /// The error, after `doing`.
    fn harness(self, doing: &str) -> Result<T>;
    /// The error, after what `doing` says (made only when there is an error).
    fn harness_with(self, doing: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Harness<T> for std::result::Result<T, E> {
    fn harness(self, doing: &str) -> Result<T> {
        self.map_err(|error| Error::Harness(format!("{doing}: {error}")))
    }

    fn harness_with(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| Error::Harness(format!("{}: {error}", doing())))
    }
}

/// An I/O error with the path it happened on.
pub fn io(what: &str, path: &std::path::Path, error: std::io::Error) -> Error {
    Error::Harness(format!("cannot {what} {}: {error}", path.display()))
}

/// The step tests' side: a result that must be Ok, or the test fails at the caller's
/// line with the whole message (a build failure's instruction and log included).
pub trait Must<T> {
    fn must(self) -> T;
}

impl<T> Must<T> for Result<T> {
    #[track_caller]
    fn must(self) -> T {
        match self {
            Ok(value) => value,
            Err(error) => panic!("{error}"),
        }
    }
}

/// Why a build failed: the failing instruction, the first error, a hint, and the
/// end of the log, already put together for a person in `report`.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub instruction: Option<String>,
    pub error: String,
    pub hint: String,
    pub report: String,
}
