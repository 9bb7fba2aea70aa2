//! The error type commands return. It is rendered once, by `main`.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// A problem to show the user as `error: <message>`.
    #[error("{0}")]
    Message(String),
    /// The command already printed what went wrong; exit with this code.
    #[error("exit {0}")]
    Exit(i32),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn msg(m: impl Into<String>) -> Self {
        Error::Message(m.into())
    }
}

macro_rules! message_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Message(e.to_string())
            }
        }
    )*};
}

message_from!(
    crate::state::store::StoreError,
    crate::state::format::FormatError,
    crate::state::secrets::SecretError,
    crate::plan::file::PlanFileError,
    crate::plan::planner::CycleError
);

pub type Result<T, E = Error> = std::result::Result<T, E>;
