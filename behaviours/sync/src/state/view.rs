//! The application's read-only view of the records a node holds.

use std::time::Instant;

use libp2p::PeerId;

use super::{Known, State};
use crate::record::Record;

/// One remote node as this node currently sees it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    record: &'a Record,
    online: bool,
    last_heard: Instant,
}

impl<'a> Entry<'a> {
    fn new(known: &'a Known) -> Self {
        Self {
            record: &known.signed.record,
            online: known.online,
            last_heard: known.last_heard,
        }
    }

    /// The newest record of this node we hold.
    pub fn record(&self) -> &'a Record {
        self.record
    }

    /// Whether the node was heard of within `offline_after`, directly or through other nodes.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Our best estimate of when the node was last alive (now, for connected neighbours).
    pub fn last_heard(&self) -> Instant {
        self.last_heard
    }
}

impl State {
    /// The local node's own record.
    pub(crate) fn local_record(&self) -> &Record {
        &self.local.record
    }

    /// The record of `peer` (the local one for the local id), if held.
    pub(crate) fn record(&self, peer: &PeerId) -> Option<&Record> {
        if *peer == self.local_id() {
            return Some(&self.local.record);
        }
        self.records.get(peer).map(|known| &known.signed.record)
    }

    /// Every remote node whose record is held, online or not, ordered by PeerId.
    pub(crate) fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.records.values().map(Entry::new)
    }

    /// The remote node `peer`, if its record is held.
    pub(crate) fn entry(&self, peer: &PeerId) -> Option<Entry<'_>> {
        self.records.get(peer).map(Entry::new)
    }

    /// The online nodes following `topic`, the local node included if it follows it,
    /// ordered by PeerId.
    pub(crate) fn followers(&self, topic: &str) -> Vec<PeerId> {
        let local = self.local.record.follows(topic).then(|| self.local_id());
        let mut followers: Vec<PeerId> = self
            .records
            .iter()
            .filter(|(_, known)| known.online && known.signed.record.follows(topic))
            .map(|(peer, _)| *peer)
            .chain(local)
            .collect();
        followers.sort();
        followers
    }
}
