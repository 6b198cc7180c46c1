//! The pending table: who may start a handshake, and whom a newcomer pushes out. Pure: no I/O,
//! no clock (times come in as arguments), so every rule is tested exactly.
//!
//! The rules, in the order they apply to a newcomer from a stranger's IP:
//! 1. its IP already holds `per_ip` pending connections: the oldest of them that has not sent a
//!    byte yet is evicted to make room; if all of them have spoken, the newcomer is refused;
//! 2. the table holds `capacity` strangers: one is evicted: one that has not sent a byte yet
//!    before one that has, then one from the IP holding the most, then the oldest;
//! 3. the newcomer is admitted.
//!
//! A connection from a static peer's IP is exempt: never evicted, never counted against a
//! stranger's limit, and admitted while fewer than `capacity` exempt connections are pending.
//!
//! Why "silent first": a stranger holding idle sockets sends nothing, while a real peer sends its
//! protocol header and TLS ClientHello the moment TCP connects. An idle flood therefore only ever
//! evicts itself, whatever its number of source IPs.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
};

use super::super::turned_away::{Eviction, Refused};

/// Identifies one pending connection; larger tickets are younger.
pub(crate) type Ticket = u64;

/// The bounds of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Most pending connections from strangers (and, separately, from static peers' IPs).
    pub(crate) capacity: usize,
    /// Most pending connections from one stranger's IP.
    pub(crate) per_ip: usize,
}

/// The verdict on a newcomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Admitted under `ticket`; `evicted` was pushed out to make room.
    Admitted {
        ticket: Ticket,
        evicted: Option<(Ticket, Eviction)>,
    },
    Refused(Refused),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    ip: IpAddr,
    exempt: bool,
    /// Whether the peer has sent a byte.
    spoken: bool,
}

/// The pending inbound connections. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Table {
    limits: Limits,
    /// By ticket, so oldest first.
    entries: BTreeMap<Ticket, Entry>,
    /// Strangers' pending connections per IP.
    per_ip: HashMap<IpAddr, usize>,
    strangers: usize,
    exempt: usize,
    next: Ticket,
}

impl Table {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits: Limits {
                capacity: limits.capacity.max(1),
                per_ip: limits.per_ip.max(1),
            },
            entries: BTreeMap::new(),
            per_ip: HashMap::new(),
            strangers: 0,
            exempt: 0,
            next: 0,
        }
    }

    /// Decides on a newcomer from `ip`; `exempt` if that is a static peer's IP.
    pub(crate) fn admit(&mut self, ip: IpAddr, exempt: bool) -> Admission {
        let mut evicted = None;
        if exempt {
            if self.exempt >= self.limits.capacity {
                return Admission::Refused(Refused::ExemptFull);
            }
        } else if self.per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.per_ip {
            let victim = self
                .entries
                .iter()
                .find(|(_, e)| !e.exempt && e.ip == ip && !e.spoken)
                .map(|(t, _)| *t);
            match victim {
                Some(victim) => {
                    self.release(victim);
                    evicted = Some((victim, Eviction::SameIp));
                }
                None => return Admission::Refused(Refused::PerIp),
            }
        } else if self.strangers >= self.limits.capacity {
            if let Some((victim, holding)) = self.victim() {
                self.release(victim);
                evicted = Some((victim, Eviction::TableFull { holding }));
            }
        }
        let ticket = self.next;
        self.next += 1;
        self.entries.insert(
            ticket,
            Entry {
                ip,
                exempt,
                spoken: false,
            },
        );
        if exempt {
            self.exempt += 1;
        } else {
            self.strangers += 1;
            *self.per_ip.entry(ip).or_default() += 1;
        }
        Admission::Admitted { ticket, evicted }
    }

    /// The stranger to evict from a full table: silent before spoken, then the IP holding the
    /// most, then the oldest. Returns it and how many its IP holds.
    fn victim(&self) -> Option<(Ticket, usize)> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.exempt)
            .map(|(ticket, e)| {
                let holding = self.per_ip.get(&e.ip).copied().unwrap_or(0);
                (e.spoken, std::cmp::Reverse(holding), *ticket)
            })
            .min()
            .map(|(_, holding, ticket)| (ticket, holding.0))
    }

    /// The peer of `ticket` sent its first byte.
    pub(crate) fn mark_spoken(&mut self, ticket: Ticket) {
        if let Some(entry) = self.entries.get_mut(&ticket) {
            entry.spoken = true;
        }
    }

    /// `ticket` is no longer pending (established, failed or evicted); unknown tickets are
    /// ignored.
    pub(crate) fn release(&mut self, ticket: Ticket) {
        let Some(entry) = self.entries.remove(&ticket) else {
            return;
        };
        if entry.exempt {
            self.exempt -= 1;
            return;
        }
        self.strangers -= 1;
        if let Some(count) = self.per_ip.get_mut(&entry.ip) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&entry.ip);
            }
        }
    }

    /// Pending connections: from strangers, and from static peers' IPs.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> (usize, usize) {
        (self.strangers, self.exempt)
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
