//! Unicast: work in progress.
