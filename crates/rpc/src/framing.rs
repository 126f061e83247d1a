//! Length-prefixed messages, as gRPC frames, gRPC-Web frames and Connect
//! envelopes all carry them: one flags byte, a big-endian 32-bit length,
//! then the message.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The prefix's size.
pub const PREFIX: usize = 5;

/// `payload` behind a prefix with `flags`.
pub fn frame(flags: u8, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(PREFIX + payload.len());
    buf.put_u8(flags);
    buf.put_u32(payload.len() as u32);
    buf.put_slice(payload);
    buf.freeze()
}

/// Watches the prefixes go by without keeping the messages: for layers
/// that check or count what streams through them.
#[derive(Debug, Default)]
pub struct Prefixes {
    header: Vec<u8>,
    /// Bytes of the current message still to come.
    remaining: usize,
}

impl Prefixes {
    /// Reads `data`, calling `each(flags, length)` for every prefix it
    /// completes; stops at the first error `each` returns.
    pub fn feed<E>(&mut self, mut data: &[u8], mut each: impl FnMut(u8, usize) -> Result<(), E>) -> Result<(), E> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(data.len());
                data = &data[n..];
                self.remaining -= n;
                continue;
            }
            let n = (PREFIX - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() == PREFIX {
                let len = u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]) as usize;
                let flags = self.header[0];
                self.header.clear();
                self.remaining = len;
                each(flags, len)?;
            }
        }
        Ok(())
    }

    /// Where a stream that ends now stopped, if inside a message: `Some(n)`
    /// with the bytes still missing (`None` for the prefix's own part).
    pub fn unfinished(&self) -> Option<Option<usize>> {
        if !self.header.is_empty() {
            Some(None)
        } else if self.remaining > 0 {
            Some(Some(self.remaining))
        } else {
            None
        }
    }
}

/// Why no message could be taken.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub len: usize,
    pub limit: usize,
}

/// Collects bytes and hands out whole messages: for adapters that rewrite
/// each message. Holds at most one message (and the next prefix) at a time.
#[derive(Debug, Default)]
pub struct Messages {
    buf: BytesMut,
}

impl Messages {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message and its flags, if it has all arrived; a
    /// message announced as longer than `limit` is refused at its prefix.
    pub fn next(&mut self, limit: usize) -> Result<Option<(u8, Bytes)>, TooLarge> {
        if self.buf.len() < PREFIX {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > limit {
            return Err(TooLarge { len, limit });
        }
        if self.buf.len() < PREFIX + len {
            // Room for the rest, so it arrives without reallocating piecemeal.
            self.buf.reserve(PREFIX + len - self.buf.len());
            return Ok(None);
        }
        let flags = self.buf.get_u8();
        self.buf.advance(4);
        Ok(Some((flags, self.buf.split_to(len).freeze())))
    }

    /// Bytes held that do not make a whole message (at the stream's end: a truncation).
    pub fn leftover(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_seen_across_chunks() {
        let mut p = Prefixes::default();
        let mut seen = Vec::new();
        let mut record = |f, l| {
            seen.push((f, l));
            Ok::<_, ()>(())
        };
        let a = frame(0, b"abc");
        let b = frame(1, b"");
        let all = [&a[..], &b[..]].concat();
        for chunk in all.chunks(2) {
            p.feed(chunk, &mut record).unwrap();
        }
        assert_eq!(seen, [(0, 3), (1, 0)]);
        assert_eq!(p.unfinished(), None);
        p.feed(&[0, 0, 0, 0, 9, 1], |_, _| Ok::<_, ()>(())).unwrap();
        assert_eq!(p.unfinished(), Some(Some(8)));
        let mut q = Prefixes::default();
        q.feed(&[0, 0], |_, _| Ok::<_, ()>(())).unwrap();
        assert_eq!(q.unfinished(), Some(None));
    }

    #[test]
    fn messages_come_out_whole() {
        let mut m = Messages::default();
        let f = frame(2, b"hello");
        m.push(&f[..3]);
        assert_eq!(m.next(10), Ok(None));
        m.push(&f[3..]);
        m.push(&frame(0, b"x")[..2]);
        assert_eq!(m.next(10), Ok(Some((2, Bytes::from_static(b"hello")))));
        assert_eq!(m.next(10), Ok(None));
        assert_eq!(m.leftover(), 2);
        let mut big = Messages::default();
        big.push(&frame(0, &[0; 11]));
        assert_eq!(big.next(10), Err(TooLarge { len: 11, limit: 10 }));
    }
}
