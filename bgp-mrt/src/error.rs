//! Errors.

use bgp_wire::{EncodeError, MessageError};

/// Why one MRT record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record body ends before a field.
    #[error("record truncated while reading {0}")]
    Truncated(&'static str),
    /// A field holds a value the RFC does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes left over after the last field.
    #[error("{0} trailing octets after the record")]
    Trailing(usize),
    /// The path attributes could not be framed by bgp-wire.
    #[error("path attributes: {0}")]
    Attributes(MessageError),
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrtEncodeError {
    /// A field does not fit its wire width.
    #[error("{0} does not fit")]
    TooLong(&'static str),
    /// The record is inconsistent (e.g. an IPv6 prefix in an IPv4 RIB).
    #[error("inconsistent record: {0}")]
    Inconsistent(&'static str),
    /// bgp-wire refused a message or attribute.
    #[error(transparent)]
    Wire(#[from] EncodeError),
}

/// An error from [`crate::MrtReader`]: the record at `offset` was skipped (or, for I/O
/// errors, reading stopped).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The record at `offset` (its header's first octet in the decompressed stream) did not
    /// decode; it was skipped and reading goes on with the next record.
    #[error("record at offset {offset} (type {mrt_type}, subtype {subtype}): {error}")]
    Record {
        /// Offset of the record header.
        offset: u64,
        /// MRT type.
        mrt_type: u16,
        /// MRT subtype.
        subtype: u16,
        /// What went wrong.
        error: DecodeError,
    },
    /// The record at `offset` announces a length above the reader's limit; its body was
    /// skipped unread.
    #[error("record at offset {offset} is {length} octets, above the limit of {limit}")]
    TooLong {
        /// Offset of the record header.
        offset: u64,
        /// Length from the header.
        length: u32,
        /// The configured limit.
        limit: u32,
    },
    /// The stream ends inside the record starting at `offset`; reading stops.
    #[error("stream ends inside the record at offset {offset}")]
    TruncatedFile {
        /// Offset of the record header.
        offset: u64,
    },
    /// An I/O (or decompression) error; reading stops.
    #[error("I/O error at offset {offset}: {error}")]
    Io {
        /// Offset reached.
        offset: u64,
        /// The error.
        error: std::io::Error,
    },
}

impl ReadError {
    /// True when the reader can go on after this error (the record was skipped).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, ReadError::Record { .. } | ReadError::TooLong { .. })
    }
}
