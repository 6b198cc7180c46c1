//! [`State`]: what every route of the API can reach.

use std::sync::Arc;

use tokio::sync::watch;

use super::hub::Hub;
use fisco_p2p::node::Handle;
use fisco_p2p_metrics::Metrics;

/// What every route can reach.
#[derive(Clone)]
pub(super) struct State {
    pub(super) handle: Handle,
    pub(super) hub: Arc<Hub>,
    pub(super) metrics: Option<Arc<Metrics>>,
    /// Becomes true when the server shuts down; ends the event streams.
    pub(super) stopped: watch::Receiver<bool>,
}
