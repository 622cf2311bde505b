//! A group's batch encoded once for all its members.
//!
//! The members of an update group share every parameter the encoding depends on (4-octet AS,
//! ADD-PATH, extended messages and next hops are part of [`bgp_rib::export::UpdateGroupKey`]),
//! so the packing thread encodes each UPDATE of the batch once, into one buffer, and every
//! member's driver copies slices of it ([`bgp_fsm::driver::PeerHandle::send_encoded_updates`]).
//! Before, each member took its own clone of the batch's `Update` values and its driver
//! encoded them: for 50 route-server clients, 50 encodings and 50 copies in flight.

use bgp_rib::PeerId;
use bgp_rib::export::{Audience, GroupBatch};
use bgp_wire::{Message, SessionContext, Update, encode_message, end_of_rib};
use bytes::{Bytes, BytesMut};

/// An encoded [`GroupBatch`]: each message a slice of one shared buffer.
#[derive(Debug, Default)]
pub(crate) struct WireBatch {
    stream: Vec<(Audience, Bytes)>,
    dumps: Vec<(PeerId, Vec<Bytes>)>,
    eor: Vec<PeerId>,
    eor_wire: Vec<Bytes>,
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
        let stream = stream
            .into_iter()
            .filter_map(|(a, u)| one(u, ctx, &mut buf).map(|m| (a, m)))
            .collect();
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
        let eor_wire = if b.eor.is_empty() {
            Vec::new()
        } else {
            b.families
                .iter()
                .filter_map(|af| one(end_of_rib(*af), ctx, &mut buf))
                .collect()
        };
        WireBatch {
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
    /// routes (split horizon), then End-of-RIB markers if it is due them.
    pub(crate) fn for_member(&self, member: PeerId) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self
            .dumps
            .iter()
            .filter(|(p, _)| *p == member)
            .flat_map(|(_, m)| m.iter().cloned())
            .collect();
        v.extend(
            self.stream
                .iter()
                .filter(|(a, _)| a.includes(member))
                .map(|(_, m)| m.clone()),
        );
        if self.eor.contains(&member) {
            v.extend(self.eor_wire.iter().cloned());
        }
        v
    }
}

/// Encode one UPDATE at the end of `buf` and split it off as its own slice.
fn one(u: Update, ctx: &SessionContext, buf: &mut BytesMut) -> Option<Bytes> {
    match encode_message(&Message::Update(u), ctx, buf) {
        Ok(()) => Some(buf.split().freeze()),
        Err(e) => {
            buf.clear();
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
            let got: Vec<Update> = w
                .for_member(m)
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
            w.for_member(a).len(),
            2,
            "its own route left out, its withdrawal in"
        );
    }
}
