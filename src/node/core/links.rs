//! The node's view of its links, without I/O: which peers it has connections to (and how many),
//! and why it is closing one, so that every peer reported connected is reported disconnected
//! exactly once, with the reason this node closed it for, or what the connection said.
//!
//! The rules, checked by the property tests below on arbitrary sequences of connections opening
//! and closing and of closes this node asks for:
//! - a peer is reported connected when its first connection opens, and disconnected when its
//!   last one closes, alternately, never twice in a row;
//! - a reason given with [`Links::closing`] is the reason of the next disconnection of that peer
//!   only; a peer that is not connected keeps no reason;
//! - the connection count is the count libp2p last said.

use std::collections::HashMap;

use libp2p::{Multiaddr, PeerId};

use crate::node::{Direction, DisconnectReason};

/// One connected peer.
#[derive(Debug, Clone)]
pub(crate) struct Connected {
    /// The address of its first connection (ours if we dialled, its own if it dialled).
    pub(crate) address: Multiaddr,
    /// Who dialled that connection.
    pub(crate) direction: Direction,
    /// How many connections it has now.
    pub(crate) connections: u32,
}

/// What ended a peer's last connection, when this node gave no reason.
#[derive(Debug, Clone)]
pub(crate) enum Cause {
    /// The link failed (I/O error, said as text).
    Lost(String),
    /// libp2p closed it for being idle.
    Idle,
    /// Closed without an error (this node or the peer closed it).
    Closed,
}

/// The connected peers and the reasons this node is closing some of them for.
#[derive(Debug, Default)]
pub(crate) struct Links {
    connected: HashMap<PeerId, Connected>,
    closing: HashMap<PeerId, DisconnectReason>,
}

impl Links {
    /// A connection to `peer` opened; it has `count` now. Returns whether the peer is newly
    /// connected (to be reported).
    pub(crate) fn opened(
        &mut self,
        peer: PeerId,
        address: Multiaddr,
        direction: Direction,
        count: u32,
    ) -> bool {
        if let Some(connected) = self.connected.get_mut(&peer) {
            connected.connections = count;
            return false;
        }
        self.closing.remove(&peer);
        self.connected.insert(
            peer,
            Connected {
                address,
                direction,
                connections: count,
            },
        );
        true
    }

    /// Updates `peer`'s connection count, if it is connected; returns whether it is.
    pub(crate) fn set_count(&mut self, peer: &PeerId, count: u32) -> bool {
        match self.connected.get_mut(peer) {
            Some(connected) => {
                connected.connections = count;
                true
            }
            None => false,
        }
    }

    /// This node is closing `peer`'s connections: its disconnection, when it comes, is reported
    /// with `reason` (a later reason replaces an earlier one). Ignored for a peer that is not
    /// connected.
    pub(crate) fn closing(&mut self, peer: PeerId, reason: DisconnectReason) {
        if self.connected.contains_key(&peer) {
            self.closing.insert(peer, reason);
        }
    }

    /// A connection to `peer` closed and `remaining` are left. When the last one closed and
    /// the peer was reported connected, returns the reason to report its disconnection with.
    pub(crate) fn closed(
        &mut self,
        peer: &PeerId,
        remaining: u32,
        cause: Cause,
    ) -> Option<DisconnectReason> {
        if remaining > 0 {
            self.set_count(peer, remaining);
            return None;
        }
        self.connected.remove(peer)?;
        Some(self.closing.remove(peer).unwrap_or(match cause {
            Cause::Lost(error) => DisconnectReason::ConnectionLost(error),
            Cause::Idle => DisconnectReason::ConnectionLost("idle timeout".into()),
            Cause::Closed => DisconnectReason::Requested,
        }))
    }

    /// `peer`, if connected.
    pub(crate) fn get(&self, peer: &PeerId) -> Option<&Connected> {
        self.connected.get(peer)
    }

    /// Whether `peer` is connected.
    pub(crate) fn contains(&self, peer: &PeerId) -> bool {
        self.connected.contains_key(peer)
    }

    /// The connected peers.
    pub(crate) fn peers(&self) -> impl Iterator<Item = (&PeerId, &Connected)> {
        self.connected.iter()
    }

    /// How many peers are connected.
    pub(crate) fn len(&self) -> usize {
        self.connected.len()
    }

    /// Whether no peer is connected.
    pub(crate) fn is_empty(&self) -> bool {
        self.connected.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// A connection of peer `.0` opened (libp2p counts it).
        Open(usize),
        /// A connection of peer `.0` closed, if it had one.
        Close(usize),
        /// This node closes peer `.0` for reason number `.1`.
        Closing(usize, u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..4usize).prop_map(Step::Open),
            (0..4usize).prop_map(Step::Close),
            (0..4usize, 0..3u8).prop_map(|(p, r)| Step::Closing(p, r)),
        ]
    }

    fn reason(n: u8) -> DisconnectReason {
        match n {
            0 => DisconnectReason::Blacklisted,
            1 => DisconnectReason::HeartbeatTimeout,
            _ => DisconnectReason::Shutdown,
        }
    }

    proptest! {
        #[test]
        fn every_peer_is_reported_connected_then_disconnected_once_with_the_latest_reason(
            steps in prop::collection::vec(step(), 0..60),
        ) {
            let peers: Vec<PeerId> = (0..4).map(|_| PeerId::random()).collect();
            let mut links = Links::default();
            // What libp2p counts, and what was reported.
            let mut count: HashMap<usize, u32> = HashMap::new();
            let mut reported_up: HashMap<usize, bool> = HashMap::new();
            let mut expected_reason: HashMap<usize, DisconnectReason> = HashMap::new();
            for step in steps {
                match step {
                    Step::Open(p) => {
                        let n = count.entry(p).or_default();
                        *n += 1;
                        let new = links.opened(peers[p], Multiaddr::empty(), Direction::Inbound, *n);
                        let up = reported_up.entry(p).or_default();
                        prop_assert_eq!(new, !*up, "connected reported only when it was not");
                        if new {
                            expected_reason.remove(&p);
                        }
                        *up = true;
                        prop_assert_eq!(links.get(&peers[p]).map(|c| c.connections), Some(*n));
                    }
                    Step::Close(p) => {
                        let n = count.entry(p).or_default();
                        if *n == 0 {
                            continue;
                        }
                        *n -= 1;
                        let ended = links.closed(&peers[p], *n, Cause::Lost("eof".into()));
                        let up = reported_up.entry(p).or_default();
                        if *n == 0 {
                            prop_assert!(*up, "a peer with a connection was reported connected");
                            let want = expected_reason
                                .remove(&p)
                                .unwrap_or(DisconnectReason::ConnectionLost("eof".into()));
                            prop_assert_eq!(ended, Some(want));
                            *up = false;
                        } else {
                            prop_assert_eq!(ended, None, "not the last connection");
                        }
                    }
                    Step::Closing(p, r) => {
                        links.closing(peers[p], reason(r));
                        if reported_up.get(&p).copied().unwrap_or(false) {
                            expected_reason.insert(p, reason(r));
                        }
                    }
                }
                let up = reported_up.values().filter(|u| **u).count();
                prop_assert_eq!(links.len(), up);
            }
        }
    }
}
