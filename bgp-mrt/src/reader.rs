//! A streaming reader over any [`std::io::Read`], gzip and bzip2 detected by their magic.
//!
//! Records are framed by their 12-octet header and sliced out of a large read buffer
//! (one `Bytes` chunk shared by many records, no per-record copy). A record whose length
//! exceeds the limit is skipped unread (its length still tells where the next one starts);
//! a record that does not decode is reported with its offset and skipped. Only an I/O
//! error or a stream ending inside a record stops the reader.

use std::io::{BufRead, BufReader, Read};

use bytes::{Bytes, BytesMut};

use crate::decode::{HEADER_LEN, MrtDecoder, RecordHeader};
use crate::error::ReadError;
use crate::record::MrtRecord;

/// Default record length limit: 16 MiB (the largest RIB records of real archives are a
/// few hundred KiB).
pub const DEFAULT_MAX_RECORD_LEN: u32 = 16 << 20;

const CHUNK: usize = 256 * 1024;

/// A framed, undecoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Offset of its header in the (decompressed) stream.
    pub offset: u64,
    /// The header.
    pub header: RecordHeader,
    /// The body (`header.length` octets).
    pub body: Bytes,
}

/// Wrap `r` in a gzip or bzip2 decoder when its first octets say so.
pub fn decompress<R: Read + 'static>(r: R) -> std::io::Result<Box<dyn Read>> {
    let mut b = BufReader::new(r);
    let magic = b.fill_buf()?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(b))
    } else if magic.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(b))
    } else {
        Box::new(b)
    })
}

/// Streaming MRT reader. Iterate it for typed records, or call [`MrtReader::next_raw`]
/// for framed bytes (with [`crate::view`] for the lazy hot path).
///
/// ```
/// use bgp_mrt::MrtReader;
/// let mut r = MrtReader::new(&[][..]);
/// assert!(r.next().is_none());
/// ```
pub struct MrtReader<R> {
    inner: R,
    buf: BytesMut,
    offset: u64,
    eof: bool,
    done: bool,
    max_len: u32,
    decoder: MrtDecoder,
    /// Read size: starts small (short inputs stay cheap) and doubles up to `CHUNK`.
    chunk: usize,
}

impl<R> std::fmt::Debug for MrtReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MrtReader")
            .field("offset", &self.offset)
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl MrtReader<Box<dyn Read>> {
    /// A reader that decompresses gzip or bzip2 input transparently.
    pub fn auto<R: Read + 'static>(r: R) -> std::io::Result<Self> {
        Ok(MrtReader::new(decompress(r)?))
    }

    /// Open a file (plain, .gz or .bz2, detected by content).
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        Self::auto(std::fs::File::open(path)?)
    }
}

impl<R: Read> MrtReader<R> {
    /// A reader over uncompressed MRT.
    pub fn new(inner: R) -> Self {
        MrtReader {
            inner,
            buf: BytesMut::new(),
            offset: 0,
            eof: false,
            done: false,
            max_len: DEFAULT_MAX_RECORD_LEN,
            decoder: MrtDecoder::new(),
            chunk: 4096,
        }
    }

    /// Set the record length limit (bounded allocation).
    pub fn with_max_record_len(mut self, max: u32) -> Self {
        self.max_len = max;
        self
    }

    /// Offset (in the decompressed stream) of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Read until `buf` holds `n` octets or the stream ends.
    fn fill(&mut self, n: usize) -> std::io::Result<()> {
        while self.buf.len() < n && !self.eof {
            let want = (n - self.buf.len()).max(self.chunk);
            self.chunk = (self.chunk * 2).min(CHUNK);
            let old = self.buf.len();
            self.buf.reserve(want);
            self.buf.resize(old + want, 0);
            let got = loop {
                match self.inner.read(&mut self.buf[old..]) {
                    Ok(g) => break Ok(g),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            match got {
                Ok(g) => {
                    self.buf.truncate(old + g);
                    if g == 0 {
                        self.eof = true;
                    }
                }
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Discard `n` octets of input (a record over the limit), without buffering them all.
    fn skip(&mut self, mut n: u64) -> std::io::Result<bool> {
        while n > 0 {
            if self.buf.is_empty() {
                self.fill(1)?;
                if self.buf.is_empty() {
                    return Ok(false);
                }
            }
            let k = (self.buf.len() as u64).min(n) as usize;
            let _ = self.buf.split_to(k);
            n -= k as u64;
        }
        Ok(true)
    }

    /// The next framed record. `None` at the end of the stream.
    pub fn next_raw(&mut self) -> Option<Result<RawRecord, ReadError>> {
        if self.done {
            return None;
        }
        let offset = self.offset;
        if let Err(error) = self.fill(HEADER_LEN) {
            self.done = true;
            return Some(Err(ReadError::Io { offset, error }));
        }
        if self.buf.is_empty() {
            self.done = true;
            return None;
        }
        let Some(header) = RecordHeader::parse(&self.buf) else {
            self.done = true;
            return Some(Err(ReadError::TruncatedFile { offset }));
        };
        let total = HEADER_LEN as u64 + header.length as u64;
        if header.length > self.max_len {
            let _ = self.buf.split_to(HEADER_LEN);
            match self.skip(header.length as u64) {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some(Err(ReadError::Io { offset, error }));
                }
            }
            self.offset += total;
            return Some(Err(ReadError::TooLong {
                offset,
                length: header.length,
                limit: self.max_len,
            }));
        }
        let total = total as usize;
        if let Err(error) = self.fill(total) {
            self.done = true;
            return Some(Err(ReadError::Io { offset, error }));
        }
        if self.buf.len() < total {
            self.done = true;
            return Some(Err(ReadError::TruncatedFile { offset }));
        }
        let mut rec = self.buf.split_to(total).freeze();
        let body = rec.split_off(HEADER_LEN);
        self.offset += total as u64;
        Some(Ok(RawRecord {
            offset,
            header,
            body,
        }))
    }

    /// The next typed record; malformed records come back as recoverable errors
    /// ([`ReadError::is_recoverable`]) and the following call goes on after them.
    pub fn next_record(&mut self) -> Option<Result<MrtRecord, ReadError>> {
        let raw = match self.next_raw()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        Some(
            self.decoder
                .decode_body(&raw.header, raw.body)
                .map_err(|error| ReadError::Record {
                    offset: raw.offset,
                    mrt_type: raw.header.mrt_type,
                    subtype: raw.header.subtype,
                    error,
                }),
        )
    }
}

impl<R: Read> Iterator for MrtReader<R> {
    type Item = Result<MrtRecord, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}
