//! Rate limits for the log lines remote parties can cause, per peer, IP, address or module (and
//! overall), so that no stranger can fill the log.

use std::{net::IpAddr, time::Instant};

use fisco_p2p_ratelimit::{PerSource, Verdict};
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};

/// Rate-limits the log lines remote parties cause, per peer or address (and overall).
#[derive(Debug)]
pub(crate) struct RemoteLog(PerSource<Source>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Source {
    Peer(PeerId),
    Ip(IpAddr),
    Address(Multiaddr),
    /// A module whose inbox overflows (what fills it comes from remote parties).
    Module(u16),
}

pub(super) fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl Default for RemoteLog {
    fn default() -> Self {
        Self(PerSource::new(fisco_p2p_ratelimit::Config::default()))
    }
}

impl RemoteLog {
    /// Whether a line caused by `source` may be written now, and how many were suppressed.
    pub(super) fn allow(&mut self, source: Source) -> Option<u64> {
        match self.0.check(source, Instant::now()) {
            Verdict::Allow { suppressed } => Some(suppressed),
            Verdict::Suppress => None,
        }
    }

    pub(super) fn allow_peer(&mut self, peer: PeerId) -> Option<u64> {
        self.allow(Source::Peer(peer))
    }

    pub(super) fn allow_module(&mut self, module: u16) -> Option<u64> {
        self.allow(Source::Module(module))
    }
}
