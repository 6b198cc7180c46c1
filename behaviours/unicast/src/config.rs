//! Configuration of the unicast behaviour.

use std::time::Duration;

/// Limits and timings of [`Behaviour`](crate::Behaviour). Build with `Config::default()` and the
/// consuming `with_*` setters.
#[derive(Debug, Clone)]
pub struct Config {
    max_message_size: usize,
    request_timeout: Duration,
    max_request_timeout: Duration,
    max_in_flight: usize,
    max_streams_per_connection: usize,
}

impl Default for Config {
    /// - `max_message_size`: 32 MiB (FISCO BCOS 3.x's default), per request or response frame;
    /// - `request_timeout`: 10 s, for requests sent without an explicit timeout;
    /// - `max_request_timeout`: 60 s, the longest timeout a request may ask for;
    /// - `max_in_flight`: 1 024 outbound requests awaiting their outcome;
    /// - `max_streams_per_connection`: 256 concurrent request substreams per connection (both
    ///   directions); further inbound requests on that connection are refused.
    fn default() -> Self {
        Config {
            max_message_size: 32 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            max_request_timeout: Duration::from_secs(60),
            max_in_flight: 1024,
            max_streams_per_connection: 256,
        }
    }
}

impl Config {
    /// Largest request or response frame, in bytes. A peer announcing a larger one has its
    /// substream reset before anything is allocated. Capped at `u32::MAX`.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.min(u32::MAX as usize);
        self
    }

    /// Timeout of requests sent with [`Behaviour::send_request`](crate::Behaviour::send_request).
    /// Raised to stay within [`with_max_request_timeout`](Self::with_max_request_timeout).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self.max_request_timeout = self.max_request_timeout.max(timeout);
        self
    }

    /// The longest timeout a single request may have. It is also how long this node waits for
    /// the application to answer an inbound request before giving up on it.
    pub fn with_max_request_timeout(mut self, timeout: Duration) -> Self {
        self.max_request_timeout = timeout;
        self.request_timeout = self.request_timeout.min(timeout);
        self
    }

    /// Outbound requests that may await their outcome at once; beyond it
    /// [`Behaviour::send_request`](crate::Behaviour::send_request) fails with
    /// [`Error::TooManyInFlight`](crate::Error::TooManyInFlight).
    pub fn with_max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Concurrent request substreams per connection, inbound and outbound together.
    pub fn with_max_streams_per_connection(mut self, streams: usize) -> Self {
        self.max_streams_per_connection = streams.max(1);
        self
    }

    /// See [`with_max_message_size`](Self::with_max_message_size).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// See [`with_request_timeout`](Self::with_request_timeout).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// See [`with_max_request_timeout`](Self::with_max_request_timeout).
    pub fn max_request_timeout(&self) -> Duration {
        self.max_request_timeout
    }

    /// See [`with_max_in_flight`](Self::with_max_in_flight).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// See [`with_max_streams_per_connection`](Self::with_max_streams_per_connection).
    pub fn max_streams_per_connection(&self) -> usize {
        self.max_streams_per_connection
    }
}
