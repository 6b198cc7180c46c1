//! The connection handler of the peers behaviour: keeps the connection alive (FISCO connections
//! are long-lived by design) and runs the heartbeat on it.

use std::{
    convert::Infallible,
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::{future::BoxFuture, FutureExt};
use futures_timer::Delay;
use libp2p::{
    core::upgrade::ReadyUpgrade,
    swarm::{
        handler::{
            ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
        },
        ConnectionHandler, ConnectionHandlerEvent, StreamUpgradeError, SubstreamProtocol,
    },
    Stream, StreamProtocol,
};

use crate::heartbeat::{self, PROTOCOL_NAME};

/// Heartbeat timing of one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeartbeatConfig {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

/// What the handler reports to the behaviour.
#[derive(Debug)]
pub enum HandlerEvent {
    /// A heartbeat came back after this round-trip time.
    Rtt(Duration),
    /// The heartbeat failed: the link is dead or broken and should be closed.
    Failed(String),
}

enum Outbound {
    /// Waiting for the first interval to pass.
    NotStarted,
    /// A stream was requested and is being negotiated.
    Opening,
    /// Between two beats.
    Idle(Stream),
    /// A beat is under way.
    Beating(BoxFuture<'static, io::Result<(Stream, Duration)>>),
    /// Stopped: failed and reported, or the peer does not speak the protocol.
    Stopped,
}

/// Keeps its connection open and runs the heartbeat on it.
pub struct Handler {
    config: HeartbeatConfig,
    outbound: Outbound,
    /// Fires at the next beat while idle, and at the deadline of the beat under way otherwise.
    timer: Delay,
    inbound: Option<BoxFuture<'static, io::Result<()>>>,
    failure: Option<String>,
}

impl Handler {
    pub(crate) fn new(config: HeartbeatConfig) -> Self {
        Self {
            config,
            outbound: Outbound::NotStarted,
            timer: Delay::new(config.interval),
            inbound: None,
            failure: None,
        }
    }

    fn fail(&mut self, reason: String) {
        self.outbound = Outbound::Stopped;
        self.failure = Some(reason);
    }

    fn on_dial_upgrade_error(&mut self, error: StreamUpgradeError<Infallible>) {
        match error {
            StreamUpgradeError::NegotiationFailed => {
                tracing::debug!("peer does not speak the heartbeat protocol; not probing it");
                self.outbound = Outbound::Stopped;
            }
            StreamUpgradeError::Timeout => {
                self.fail("heartbeat stream negotiation timed out".into())
            }
            StreamUpgradeError::Io(e) => self.fail(format!("heartbeat stream failed: {e}")),
            StreamUpgradeError::Apply(never) => match never {},
        }
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = HandlerEvent;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = ReadyUpgrade<StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(ReadyUpgrade::new(PROTOCOL_NAME), ())
    }

    fn connection_keep_alive(&self) -> bool {
        true
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        match event {}
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        if let Some(inbound) = self.inbound.as_mut() {
            if let Poll::Ready(result) = inbound.poll_unpin(cx) {
                if let Err(e) = result {
                    tracing::debug!(%e, "heartbeat echo stream ended");
                }
                self.inbound = None;
            }
        }
        loop {
            if let Some(reason) = self.failure.take() {
                return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                    HandlerEvent::Failed(reason),
                ));
            }
            match std::mem::replace(&mut self.outbound, Outbound::Stopped) {
                Outbound::Stopped => return Poll::Pending,
                Outbound::Beating(mut beat) => match beat.poll_unpin(cx) {
                    Poll::Ready(Ok((stream, rtt))) => {
                        self.outbound = Outbound::Idle(stream);
                        self.timer.reset(self.config.interval);
                        return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                            HandlerEvent::Rtt(rtt),
                        ));
                    }
                    Poll::Ready(Err(e)) => self.fail(format!("heartbeat failed: {e}")),
                    Poll::Pending => {
                        self.outbound = Outbound::Beating(beat);
                        if Pin::new(&mut self.timer).poll(cx).is_ready() {
                            self.fail(format!(
                                "no heartbeat answer within {:?}",
                                self.config.timeout
                            ));
                            continue;
                        }
                        return Poll::Pending;
                    }
                },
                state @ (Outbound::NotStarted | Outbound::Idle(_) | Outbound::Opening) => {
                    if Pin::new(&mut self.timer).poll(cx).is_pending() {
                        self.outbound = state;
                        return Poll::Pending;
                    }
                    self.timer.reset(self.config.timeout);
                    match state {
                        Outbound::Idle(stream) => {
                            self.outbound = Outbound::Beating(heartbeat::beat(stream).boxed());
                        }
                        Outbound::NotStarted => {
                            self.outbound = Outbound::Opening;
                            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                                protocol: SubstreamProtocol::new(
                                    ReadyUpgrade::new(PROTOCOL_NAME),
                                    (),
                                )
                                .with_timeout(self.config.timeout),
                            });
                        }
                        _ => self.fail(format!(
                            "heartbeat stream not opened within {:?}",
                            self.config.timeout
                        )),
                    }
                }
            }
        }
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<'_, Self::InboundProtocol, Self::OutboundProtocol>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: stream,
                ..
            }) => {
                // One echo stream per connection: a newer one replaces the older.
                self.inbound = Some(heartbeat::echo(stream).boxed());
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: stream,
                ..
            }) => {
                if matches!(self.outbound, Outbound::Opening) {
                    self.outbound = Outbound::Beating(heartbeat::beat(stream).boxed());
                }
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { error, .. }) => {
                self.on_dial_upgrade_error(error)
            }
            _ => {}
        }
    }
}
