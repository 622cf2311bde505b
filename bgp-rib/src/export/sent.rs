//! What an Adj-RIB-Out advertised, stored compactly: a route is a prefix key and a 4-byte
//! index into a table of (Loc-RIB attribute set, source peer, export generation) triples, each
//! held once with a reference count. An IPv4 route without ADD-PATH costs one 8-byte slot in
//! the RIB's per-length [`PrefixMap`] (an (address, length) key was 12 bytes with padding, 8 MB
//! more at 1M routes) instead of a B-tree entry with a 64-byte key and its own `Arc`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Sent;
use crate::prefix::{AnyPrefix, FastMap, Prefix, PrefixMap};

type Key = (AnyPrefix, u32);

#[derive(Debug)]
struct Slot {
    sent: Option<Sent>,
    refs: u32,
}

/// The advertised routes of one Adj-RIB-Out.
#[derive(Debug, Default)]
pub(crate) struct SentTable {
    /// IPv4, path id 0: prefix -> slot.
    v4: PrefixMap<u32, u32>,
    /// IPv6, path id 0.
    v6: FastMap<(u128, u8), u32>,
    /// Other path ids (ADD-PATH).
    other: BTreeMap<Key, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// (attribute set address, source peer, generation) -> slot.
    index: FastMap<(usize, u32, u32), u32>,
}

impl SentTable {
    fn slot_of(&self, k: &Key) -> Option<u32> {
        match k {
            (AnyPrefix::V4(p), 0) => self.v4.get(p.addr, p.len).copied(),
            (AnyPrefix::V6(p), 0) => self.v6.get(&(p.addr, p.len)).copied(),
            _ => self.other.get(k).copied(),
        }
    }
    fn sent(&self, i: u32) -> Option<&Sent> {
        self.slots.get(i as usize).and_then(|s| s.sent.as_ref())
    }
    /// What was sent for (prefix, path id).
    pub(crate) fn get(&self, k: &Key) -> Option<&Sent> {
        self.slot_of(k).and_then(|i| self.sent(i))
    }
    pub(crate) fn contains_key(&self, k: &Key) -> bool {
        self.slot_of(k).is_some()
    }
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len() + self.other.len()
    }
    /// The path ids advertised for a prefix, ascending.
    pub(crate) fn ids_of(&self, p: AnyPrefix) -> Vec<u32> {
        let mut v = Vec::new();
        if self.contains_key(&(p, 0)) {
            v.push(0);
        }
        v.extend(
            self.other
                .range((p, 1)..=(p, u32::MAX))
                .map(|((_, id), _)| *id),
        );
        v
    }
    /// Take one reference to `s`'s slot (created when new).
    fn acquire(&mut self, s: Sent) -> u32 {
        let key = (Arc::as_ptr(&s.attrs) as usize, s.src, s.generation);
        if let Some(&i) = self.index.get(&key)
            && let Some(slot) = self.slots.get_mut(i as usize)
        {
            slot.refs += 1;
            return i;
        }
        let slot = Slot {
            sent: Some(s),
            refs: 1,
        };
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(x) = self.slots.get_mut(i as usize) {
                    *x = slot;
                }
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, i);
        i
    }
    /// Drop one reference; the slot's `Sent` (a clone while others still use it).
    fn unref(&mut self, i: u32) -> Option<Sent> {
        let slot = self.slots.get_mut(i as usize)?;
        slot.refs = slot.refs.saturating_sub(1);
        if slot.refs > 0 {
            return slot.sent.clone();
        }
        let s = slot.sent.take()?;
        self.index
            .remove(&(Arc::as_ptr(&s.attrs) as usize, s.src, s.generation));
        self.free.push(i);
        Some(s)
    }
    /// Record `s` as sent for `k`: the previous route, if any.
    pub(crate) fn insert(&mut self, k: Key, s: Sent) -> Option<Sent> {
        let i = self.acquire(s);
        let old = match k {
            (AnyPrefix::V4(p), 0) => self.v4.insert(p.addr, p.len, i),
            (AnyPrefix::V6(p), 0) => self.v6.insert((p.addr, p.len), i),
            _ => self.other.insert(k, i),
        };
        old.and_then(|o| self.unref(o))
    }
    /// Forget `k`: what was sent.
    pub(crate) fn remove(&mut self, k: &Key) -> Option<Sent> {
        let i = match k {
            (AnyPrefix::V4(p), 0) => self.v4.remove(p.addr, p.len),
            (AnyPrefix::V6(p), 0) => self.v6.remove(&(p.addr, p.len)),
            _ => self.other.remove(k),
        }?;
        self.unref(i)
    }
    /// Every route, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &Sent)> + '_ {
        let v4 = self.v4.iter().map(|(p, &i)| ((AnyPrefix::V4(p), 0), i));
        let v6 = self
            .v6
            .iter()
            .map(|(&(a, l), &i)| ((AnyPrefix::V6(Prefix { addr: a, len: l }), 0), i));
        let other = self.other.iter().map(|(k, &i)| (*k, i));
        v4.chain(v6)
            .chain(other)
            .filter_map(|(k, i)| self.sent(i).map(|s| (k, s)))
    }
    /// Forget everything.
    pub(crate) fn clear(&mut self) {
        *self = SentTable::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::Attrs;

    fn p(i: u32) -> AnyPrefix {
        AnyPrefix::V4(Prefix {
            addr: i << 8,
            len: 24,
        })
    }

    fn sent(a: &Arc<Attrs>, src: u32, generation: u32) -> Sent {
        Sent {
            attrs: a.clone(),
            src,
            generation,
        }
    }

    #[test]
    fn shares_one_slot_per_set_source_and_generation() {
        let a = Arc::new(Attrs::new("10.0.0.1".parse().unwrap()));
        let mut t = SentTable::default();
        for i in 0..100 {
            assert!(t.insert((p(i), 0), sent(&a, 1, 0)).is_none());
        }
        assert_eq!(t.slots.len(), 1);
        assert_eq!(Arc::strong_count(&a), 2, "the table holds one reference");
        assert_eq!(t.len(), 100);
        assert_eq!(t.get(&(p(7), 0)).unwrap().src, 1);
        // Same set from another source: a second slot.
        let old = t.insert((p(7), 0), sent(&a, 2, 0));
        assert_eq!(old.unwrap().src, 1);
        assert_eq!(t.slots.len(), 2);
        // Same set and source under another export generation: a third.
        let old = t.insert((p(8), 0), sent(&a, 1, 1));
        assert_eq!(old.unwrap().generation, 0);
        assert_eq!(t.slots.len(), 3);
        assert_eq!(t.get(&(p(8), 0)).unwrap().generation, 1);
        t.insert((p(7), 3), sent(&a, 2, 0));
        assert_eq!(t.ids_of(p(7)), vec![0, 3]);
        for i in 0..100 {
            assert!(t.remove(&(p(i), 0)).is_some());
        }
        assert!(t.remove(&(p(7), 3)).is_some());
        assert_eq!(t.len(), 0);
        assert!(t.index.is_empty());
        assert_eq!(Arc::strong_count(&a), 1);
        assert_eq!(t.iter().count(), 0);
    }
}
