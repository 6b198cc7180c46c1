//! File descriptors: at start the node raises its soft limit to the hard limit, and sizes its
//! connection limits to what it then has.
//!
//! A node that keeps the limit it inherits (often 1,024) was measured running out: idle
//! connections used every descriptor, and the P2P side could not redial a peer for 42 s. Each
//! connection, pending or established, and each dial holds one socket; the rest of the process
//! (listeners, the admin API, DNS, log and key files) needs some more.

use super::Config;

/// Descriptors kept for everything but P2P connections.
pub(crate) const RESERVED: u64 = 128;

/// The node's connection limits, as configured or as sized to the descriptors it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Established connections.
    pub(crate) established: u32,
    /// Pending inbound connections from strangers (as many again from static peers' IPs).
    pub(crate) pending: u32,
    /// Dials in flight.
    pub(crate) dials: u32,
}

impl Budget {
    pub(crate) fn of(config: &Config) -> Self {
        Self {
            established: config.max_connections,
            pending: config.max_pending_incoming,
            dials: config.max_concurrent_dials,
        }
    }

    /// Descriptors these limits can use at once.
    pub(crate) fn descriptors(&self) -> u64 {
        u64::from(self.established) + 2 * u64::from(self.pending) + u64::from(self.dials)
    }

    /// These limits, lowered in proportion (each to at least 1) if `fd_limit` cannot hold them
    /// beside [`RESERVED`]. Pure, so it is tested apart from the process's real limit.
    pub(crate) fn fit(self, fd_limit: u64) -> Self {
        let available = fd_limit.saturating_sub(RESERVED).max(4);
        let need = self.descriptors();
        if need <= available {
            return self;
        }
        let scale = |value: u32| {
            let scaled = u64::from(value) * available / need;
            u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
        };
        Self {
            established: scale(self.established),
            pending: scale(self.pending),
            dials: scale(self.dials),
        }
    }
}

/// Raises the soft descriptor limit to the hard one and fits `wanted` into it, logging both.
pub(crate) fn raise_and_fit(wanted: Budget) -> Budget {
    let limit = match raise() {
        Ok((before, after, hard)) => {
            tracing::info!(
                soft = after,
                raised_from = before,
                hard,
                "file descriptor limit"
            );
            after
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the file descriptor limit; keeping the configured connection limits");
            return wanted;
        }
    };
    let fitted = wanted.fit(limit);
    if fitted == wanted {
        tracing::info!(
            established = fitted.established,
            pending = fitted.pending,
            dials = fitted.dials,
            "connection limits"
        );
    } else {
        tracing::warn!(
            fd_limit = limit,
            needed = wanted.descriptors() + RESERVED,
            established = fitted.established,
            pending = fitted.pending,
            dials = fitted.dials,
            "the file descriptor limit cannot hold the configured connection limits, so they were \
             lowered; raise the hard limit (ulimit -n, or LimitNOFILE= for a systemd service) to \
             at least `needed`"
        );
    }
    fitted
}

/// Raises the soft limit to the hard limit: returns the soft limit before and after, and the
/// hard limit.
#[cfg(unix)]
pub(crate) fn raise() -> std::io::Result<(u64, u64, u64)> {
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let after = rlimit::increase_nofile_limit(hard)?;
    Ok((before, after, hard))
}

#[cfg(not(unix))]
pub(crate) fn raise() -> std::io::Result<(u64, u64, u64)> {
    Err(std::io::Error::other(
        "no file descriptor limit on this platform",
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn limits_that_fit_are_kept() {
        let wanted = Budget {
            established: 256,
            pending: 64,
            dials: 32,
        };
        assert_eq!(wanted.fit(1024), wanted);
        assert_eq!(wanted.fit(u64::MAX), wanted);
    }

    #[test]
    fn limits_that_do_not_fit_shrink_in_proportion() {
        let wanted = Budget {
            established: 256,
            pending: 64,
            dials: 32,
        };
        // 416 needed, 128 available.
        let fitted = wanted.fit(256);
        assert_eq!(
            fitted,
            Budget {
                established: 78,
                pending: 19,
                dials: 9
            }
        );
    }

    proptest! {
        #[test]
        fn fitted_limits_never_exceed_the_descriptors_available_nor_what_was_asked(
            established in 1u32..100_000,
            pending in 1u32..10_000,
            dials in 1u32..10_000,
            fd_limit in 0u64..1_000_000,
        ) {
            let wanted = Budget { established, pending, dials };
            let fitted = wanted.fit(fd_limit);
            prop_assert!(fitted.established <= established && fitted.pending <= pending && fitted.dials <= dials);
            prop_assert!(fitted.established >= 1 && fitted.pending >= 1 && fitted.dials >= 1);
            let available = fd_limit.saturating_sub(RESERVED).max(4);
            // Each limit is at least 1, so a tiny limit may be exceeded by those ones only.
            prop_assert!(fitted.descriptors() <= available.max(4) + 4);
        }
    }
}
