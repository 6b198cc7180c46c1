//! [`ClientError`]: why a call to the admin API failed.

use std::net::SocketAddr;

/// Why a call to the admin API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing answers at the address: the node is not running, or serves its admin API
    /// elsewhere (`run --admin ADDR`, the `admin` key of node.toml).
    #[error("cannot reach the admin API at {address}: {source}; is the node running with its admin API there?")]
    Connect {
        /// The address.
        address: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The call took longer than the client's timeout.
    #[error("no answer from the admin API at {0} in time; the node may still be working on it (a request to a slow peer): give more time with --timeout")]
    Timeout(SocketAddr),
    /// The HTTP exchange failed, or the answer was too large or not JSON.
    #[error("bad exchange with the admin API: {0}")]
    Protocol(String),
    /// The API answered 2xx, but not with what this client expects of the route: the node runs
    /// another version of fisco-p2p, or something else answers at the address.
    #[error("the answer of {route} is not what this client expects: {source}; does the node run another version of fisco-p2p?")]
    UnexpectedAnswer {
        /// The method and path, as `GET /v1/status`.
        route: String,
        /// What serde found wrong with the answer.
        #[source]
        source: serde_json::Error,
    },
    /// The API answered with an error status and message.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's `error` message.
        message: String,
    },
}
