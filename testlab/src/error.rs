//! The error type of testlab.

use std::fmt;

/// Result alias used by every fallible testlab call.
pub type Result<T> = std::result::Result<T, Error>;

/// Something in the lab failed: a command exited non-zero, a daemon did not come up, I/O.
#[derive(Debug)]
pub struct Error {
    msg: String,
}

impl Error {
    /// Builds an error from a message.
    pub fn msg(msg: impl Into<String>) -> Self {
        Error { msg: msg.into() }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::msg(format!("io: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::msg(format!("json: {e}"))
    }
}
