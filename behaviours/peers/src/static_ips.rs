//! [`StaticIps`]: the static peers' IP addresses, shared outside the behaviour.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, RwLock},
};

use libp2p::{multiaddr::Protocol, Multiaddr};

/// The IP addresses of the static peers, shared with whoever needs them outside the behaviour
/// (the node's pre-handshake admission always admits these). Cheap to clone; every clone sees the
/// behaviour's changes. Addresses given by host name are not in it.
#[derive(Debug, Clone, Default)]
pub struct StaticIps(Arc<RwLock<HashMap<IpAddr, usize>>>);

impl StaticIps {
    /// Whether `ip` is the IP of a static address.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let map = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.contains_key(ip)
    }

    pub(crate) fn add(&self, address: &Multiaddr) {
        if let Some(ip) = ip_of(address) {
            let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
            *map.entry(ip).or_default() += 1;
        }
    }

    pub(crate) fn remove(&self, address: &Multiaddr) {
        if let Some(ip) = ip_of(address) {
            let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
            if let Some(count) = map.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip).to_canonical()),
        _ => None,
    })
}
