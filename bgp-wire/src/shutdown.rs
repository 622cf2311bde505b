//! RFC 9003 (formerly RFC 8203) shutdown communication: the data of Cease/Administrative
//! Shutdown (6/2) and Cease/Administrative Reset (6/4) NOTIFICATIONs is a length octet
//! followed by that many octets of UTF-8 (at most 255).
//!
//! ```
//! use bgp_wire::shutdown;
//! let data = shutdown::build("maintenance, back at 10:00").unwrap();
//! assert_eq!(data[0], 26);
//! assert_eq!(shutdown::parse(&data).unwrap().as_deref(), Some("maintenance, back at 10:00"));
//! assert!(shutdown::build(&"x".repeat(256)).is_err());
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// Maximum length of a shutdown communication in octets (RFC 9003 §2).
pub const MAX_LEN: usize = 255;

/// Why a shutdown communication cannot be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownError {
    /// Longer than 255 octets of UTF-8.
    #[error("shutdown communication of {0} octets exceeds 255")]
    TooLong(usize),
    /// The length octet claims more octets than the data holds.
    #[error("shutdown communication length {claimed} exceeds the {available} octets present")]
    Truncated {
        /// Length octet value.
        claimed: usize,
        /// Octets after it.
        available: usize,
    },
    /// The message is not valid UTF-8.
    #[error("shutdown communication is not valid UTF-8")]
    NotUtf8,
}

/// The NOTIFICATION data for `message`: empty for an empty message, else the length
/// octet and the UTF-8 octets.
pub fn build(message: &str) -> Result<Bytes, ShutdownError> {
    let b = message.as_bytes();
    if b.len() > MAX_LEN {
        return Err(ShutdownError::TooLong(b.len()));
    }
    if b.is_empty() {
        return Ok(Bytes::new());
    }
    let mut d = BytesMut::with_capacity(1 + b.len());
    d.put_u8(b.len() as u8);
    d.put_slice(b);
    Ok(d.freeze())
}

/// The shutdown communication in NOTIFICATION data: `Ok(None)` when there is no data or
/// the length octet is 0. Octets after the message are ignored (RFC 9003 allows them).
pub fn parse(data: &[u8]) -> Result<Option<String>, ShutdownError> {
    let Some((&len, rest)) = data.split_first() else {
        return Ok(None);
    };
    let len = len as usize;
    if len == 0 {
        return Ok(None);
    }
    let Some(msg) = rest.get(..len) else {
        return Err(ShutdownError::Truncated {
            claimed: len,
            available: rest.len(),
        });
    };
    std::str::from_utf8(msg)
        .map(|s| Some(s.to_owned()))
        .map_err(|_| ShutdownError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_errors() {
        let m = "é".repeat(127); // 254 octets
        assert_eq!(parse(&build(&m).unwrap()).unwrap(), Some(m));
        assert_eq!(build(&"é".repeat(128)), Err(ShutdownError::TooLong(256)));
        assert_eq!(build("").unwrap(), Bytes::new());
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&[0]), Ok(None));
        assert_eq!(
            parse(&[5, b'a']),
            Err(ShutdownError::Truncated {
                claimed: 5,
                available: 1
            })
        );
        assert_eq!(parse(&[2, 0xC3, 0x28]), Err(ShutdownError::NotUtf8));
        assert_eq!(parse(&[2, b'o', b'k', 9, 9]), Ok(Some("ok".into())));
    }
}
