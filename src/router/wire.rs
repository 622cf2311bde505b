//! A group's batch encoded once for all its members.
//!
//! The members of an update group share every parameter the encoding depends on (4-octet AS,
//! ADD-PATH, extended messages and next hops are part of [`bgp_rib::export::UpdateGroupKey`]),
//! so the packing thread encodes each UPDATE of the batch once, into one buffer, and every
//! member's driver copies slices of it ([`bgp_fsm::driver::PeerHandle::send_encoded_updates`]).
//! Before, each member took its own clone of the batch's `Update` values and its driver
//! encoded them: for 50 route-server clients, 50 encodings and 50 copies in flight.

use std::ops::Range;

use bgp_rib::PeerId;
use bgp_rib::export::{Audience, GroupBatch};
use bgp_wire::{Message, SessionContext, Update, encode_message, end_of_rib};
use bytes::{Bytes, BytesMut};

/// A member is handed runs of consecutive messages of at most this many octets (a message
/// larger than that alone), each one `Bytes`: for 50 route-server clients each given a
/// `Bytes` per message (32 octets each), the handles of one 100,000-route batch were 12 MB
/// of the route server's heap peak.
const RUN_MAX: usize = 16 * 1024;

/// An encoded [`GroupBatch`]: every message back to back in one buffer.
#[derive(Debug, Default)]
pub(crate) struct WireBatch {
    wire: Bytes,
    /// The stream's messages: audience and place in `wire`.
    stream: Vec<(Audience, Range<usize>)>,
    dumps: Vec<(PeerId, Vec<Range<usize>>)>,
    eor: Vec<PeerId>,
    eor_wire: Vec<Range<usize>>,
}

impl WireBatch {
    /// Encode `b` with the group's session context. A message that does not encode (the
    /// builder keeps every one within the session's limits, so this is a bug) is left out
    /// and logged.
    pub(crate) fn encode(b: GroupBatch, ctx: &SessionContext) -> WireBatch {
        let mut buf = BytesMut::new();
        let stream: Vec<(Audience, Update)> = match std::sync::Arc::try_unwrap(b.stream) {
            Ok(v) => v,
            Err(shared) => shared.as_ref().clone(),
        };
        // In the order members are sent them, so their runs are long: dumps, stream, EoR.
        let dumps = b
            .dumps
            .into_iter()
            .map(|(p, ups)| {
                let msgs = ups
                    .into_iter()
                    .filter_map(|u| one(u, ctx, &mut buf))
                    .collect();
                (p, msgs)
            })
            .collect();
        let stream = stream
            .into_iter()
            .filter_map(|(a, u)| one(u, ctx, &mut buf).map(|m| (a, m)))
            .collect();
        let eor_wire = if b.eor.is_empty() {
            Vec::new()
        } else {
            b.families
                .iter()
                .filter_map(|af| one(end_of_rib(*af), ctx, &mut buf))
                .collect()
        };
        WireBatch {
            wire: buf.freeze(),
            stream,
            dumps,
            eor: b.eor,
            eor_wire,
        }
    }

    /// Nothing for anyone.
    pub(crate) fn is_empty(&self) -> bool {
        self.stream.is_empty() && self.dumps.is_empty() && self.eor.is_empty()
    }

    /// What `member` is sent, in order: its dump, then the shared stream without its own
    /// routes (split horizon), then End-of-RIB markers if it is due them; as runs of
    /// consecutive messages, slices of the one buffer; and how many messages they hold.
    pub(crate) fn for_member(&self, member: PeerId) -> (Vec<Bytes>, usize) {
        let dump = self
            .dumps
            .iter()
            .filter(|(p, _)| *p == member)
            .flat_map(|(_, m)| m.iter().cloned());
        let stream = self
            .stream
            .iter()
            .filter(|(a, _)| a.includes(member))
            .map(|(_, m)| m.clone());
        let eor = self
            .eor_wire
            .iter()
            .filter(|_| self.eor.contains(&member))
            .cloned();
        let mut runs: Vec<Bytes> = Vec::new();
        let mut run: Option<Range<usize>> = None;
        let mut n = 0;
        for m in dump.chain(stream).chain(eor) {
            n += 1;
            run = match run {
                Some(r) if r.end == m.start && m.end - r.start <= RUN_MAX => Some(r.start..m.end),
                Some(r) => {
                    runs.push(self.wire.slice(r));
                    Some(m)
                }
                None => Some(m),
            };
        }
        if let Some(r) = run {
            runs.push(self.wire.slice(r));
        }
        (runs, n)
    }
}

/// Encode one UPDATE at the end of `buf`: its place there.
fn one(u: Update, ctx: &SessionContext, buf: &mut BytesMut) -> Option<Range<usize>> {
    let start = buf.len();
    match encode_message(&Message::Update(u), ctx, buf) {
        Ok(()) => Some(start..buf.len()),
        Err(e) => {
            buf.truncate(start);
            tracing::warn!("update group: cannot encode an UPDATE: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attr::{AsPath, Origin, PathAttribute};
    use bgp_wire::{AfiSafi, Nlri, decode_message};
    use std::sync::Arc;

    fn update(i: u8) -> Update {
        Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::from_sequence([65001])),
                PathAttribute::NextHop("10.0.0.1".parse().unwrap()),
            ],
            nlri: vec![Nlri::new(format!("10.{i}.0.0/16").parse().unwrap())],
        }
    }

    /// The messages in runs of whole messages.
    fn messages((runs, n): (Vec<Bytes>, usize)) -> Vec<Bytes> {
        let mut out = Vec::new();
        for mut run in runs {
            while !run.is_empty() {
                let len = usize::from(u16::from_be_bytes([run[16], run[17]]));
                out.push(run.split_to(len));
            }
        }
        assert_eq!(out.len(), n, "the count given with the runs");
        out
    }

    /// Each member gets exactly the messages `GroupBatch::for_member` names, as bytes that
    /// decode back to them.
    #[test]
    fn members_get_their_part_encoded_once() {
        let (a, b) = (PeerId(1), PeerId(2));
        let batch = GroupBatch {
            stream: Arc::new(vec![
                (Audience::All, update(1)),
                (Audience::AllBut(a), update(2)),
                (Audience::Only(a), update(3)),
            ]),
            dumps: vec![(b, vec![update(9)])],
            eor: vec![b],
            families: vec![AfiSafi::IPV4_UNICAST],
        };
        let ctx = SessionContext::modern();
        let expect_a = batch.for_member(a);
        let expect_b = batch.for_member(b);
        let w = WireBatch::encode(batch, &ctx);
        assert!(!w.is_empty());
        for (m, expect) in [(a, expect_a), (b, expect_b)] {
            let got: Vec<Update> = messages(w.for_member(m))
                .into_iter()
                .map(|bytes| match decode_message(bytes, &ctx) {
                    Ok(d) => match d.message {
                        Message::Update(u) => u,
                        other => panic!("not an UPDATE: {other:?}"),
                    },
                    Err(e) => panic!("does not decode: {e}"),
                })
                .collect();
            assert_eq!(got, expect, "member {m:?}");
        }
        assert_eq!(
            messages(w.for_member(a)).len(),
            2,
            "its own route left out, its withdrawal in"
        );
        assert_eq!(
            w.for_member(a).0.len(),
            2,
            "two runs: its own route in the middle of the stream breaks it"
        );
        assert_eq!(
            w.for_member(b).0.len(),
            2,
            "dump and stream in one run; a's withdrawal sits before the End-of-RIB"
        );
    }

    /// Runs stay within `RUN_MAX` (the driver takes a run whole into a 64 KiB send buffer)
    /// and end on message boundaries.
    #[test]
    fn runs_are_bounded_and_whole() {
        let stream: Vec<(Audience, Update)> = (0..2000u32)
            .map(|i| {
                let mut u = update(0);
                u.nlri = (0..20u32)
                    .map(|k| {
                        let a = std::net::Ipv4Addr::from((10 << 24) + ((i * 20 + k) << 8));
                        Nlri::new(ipnet::Ipv4Net::new(a, 24).unwrap().into())
                    })
                    .collect();
                (Audience::All, u)
            })
            .collect();
        let batch = GroupBatch {
            stream: Arc::new(stream),
            dumps: vec![],
            eor: vec![],
            families: vec![AfiSafi::IPV4_UNICAST],
        };
        let w = WireBatch::encode(batch, &SessionContext::modern());
        let (runs, n) = w.for_member(PeerId(1));
        assert!(runs.len() > 1);
        assert!(runs.iter().all(|r| r.len() <= RUN_MAX));
        assert_eq!(messages((runs, n)).len(), 2000);
    }
}
