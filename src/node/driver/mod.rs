//! The one task that owns the Swarm (the *driver* of the pure cores in `core/`): a `select!`
//! over the handles' commands, the application's answers to requests, the swarm's events and
//! the call core's next deadline. It has no timer of its own: the protocols wake the swarm for
//! theirs, and the call core says when it next needs the clock.
//!
//! # Layout
//! Each file handles one source of input with functions over [`Io`] (`io.rs`), the driver's
//! resources; they call into `io.rs`, and `commands.rs` into `connections.rs` to disconnect
//! peers the access lists now bar:
//! - `calls.rs`: carries out the call core's decisions (requests, sends to a topic, multicasts);
//! - `commands.rs`: the handles' other commands, answered at once;
//! - `connections.rs`: connections established, closed and refused;
//! - `inbound.rs`: what the protocols deliver (requests, multicasts, broadcasts, state news).

mod calls;
mod commands;
mod connections;
mod inbound;
mod io;
mod remote_log;

use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::{swarm::SwarmEvent, PeerId};
use tokio::sync::mpsc;

pub(crate) use io::{Io, LoopConfig};

use self::calls::{Input, Live};
use super::{
    command::{CallCommand, Command},
    core::calls::{Calls, Limits},
    inbox::Answer,
    DisconnectReason, Event,
};
use crate::behaviour::BehaviourEvent;

/// How long a shutdown waits for connections to close before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The driver. See the [module docs](self).
pub(crate) struct EventLoop {
    io: Io,
    /// How each call of the application ends (sans I/O).
    calls: Calls<Live>,
    commands: mpsc::Receiver<Command>,
    answers: mpsc::Receiver<Answer>,
}

impl EventLoop {
    pub(crate) fn new(
        io: Io,
        limits: Limits,
        commands: mpsc::Receiver<Command>,
        answers: mpsc::Receiver<Answer>,
    ) -> Self {
        Self {
            io,
            calls: Calls::new(limits),
            commands,
            answers,
        }
    }

    /// Runs until a handle asks for shutdown or every handle is gone.
    pub(crate) async fn run(mut self) {
        // One timer, moved only when the call core's next deadline changes.
        let timer = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        let done = loop {
            // Moved only to an earlier deadline: a new call's deadline is later than those
            // before it, so a busy node does not touch the timer per call. A timer left on a
            // deadline whose call ended fires once for nothing and moves on to the next.
            if let Some(deadline) = self.calls.poll_timeout() {
                if armed.is_none_or(|armed| deadline < armed) {
                    timer.as_mut().reset(deadline.into());
                    armed = Some(deadline);
                }
            }
            tokio::select! {
                event = self.io.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => break Some(reply),
                    Some(Command::Node(command)) => commands::on_node_command(&mut self.io, command),
                    Some(Command::Message(command)) => commands::on_message_command(&mut self.io, command),
                    Some(Command::Call(command)) => self.on_call_command(command),
                    None => break None,
                },
                Some(answer) = self.answers.recv() => inbound::on_answer(&mut self.io, answer),
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    let now = Instant::now();
                    self.calls.handle_timeout(now, &mut self.io);
                    self.carry_out(now);
                }
            }
            self.io.note_local_record();
        };
        self.shutdown().await;
        if let Some(reply) = done {
            let _ = reply.send(());
        }
    }

    fn on_call_command(&mut self, command: CallCommand) {
        let input = match command {
            CallCommand::Request {
                node,
                module,
                payload,
                timeout,
                reply,
            } => Input::Request {
                peer: node.to_peer_id(),
                module,
                payload,
                timeout,
                reply: (node, reply),
            },
            CallCommand::SendToTopic {
                topic,
                module,
                payload,
                reply,
            } => Input::SendToTopic {
                topic,
                module,
                payload,
                reply,
            },
            CallCommand::Multicast {
                topic,
                module,
                payload,
                reply,
            } => Input::Multicast {
                topic,
                module,
                payload,
                reply,
            },
        };
        self.feed(input);
    }

    /// Hands `input` to the call core and carries out what it decides.
    fn feed(&mut self, input: Input) {
        let now = Instant::now();
        self.calls.handle(input, now, &mut self.io);
        self.carry_out(now);
    }

    /// Carries out the call core's outputs; what the overlay says to one goes straight back in
    /// (at the same `now`: it answers at once).
    fn carry_out(&mut self, now: Instant) {
        while let Some(output) = self.calls.poll_output() {
            if let Some(input) = calls::carry_out(&mut self.io, output) {
                self.calls.handle(input, now, &mut self.io);
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        if let Some(input) = on_swarm_event(&mut self.io, event) {
            self.feed(input);
        }
    }

    /// Closes every connection and listener, waiting a bounded time for the connections to go.
    async fn shutdown(&mut self) {
        let io = &mut self.io;
        let (peers, calls) = (io.links.len(), self.calls.len());
        tracing::info!(
            peers,
            calls,
            "shutting down; calls in progress end with the node"
        );
        for id in io.listeners.drain(..) {
            io.swarm.remove_listener(id);
        }
        let peers: Vec<PeerId> = io.links.peers().map(|(peer, _)| *peer).collect();
        for peer in peers {
            io.links.closing(peer, DisconnectReason::Shutdown);
            let _ = io.swarm.disconnect_peer_id(peer);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !self.io.links.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.io.swarm.select_next_some()).await {
                // Calls still in progress end with the node: their callers hear it stopped.
                Ok(event) => drop(on_swarm_event(&mut self.io, event)),
                Err(_) => {
                    tracing::warn!(
                        left = self.io.links.len(),
                        "connections did not close in time"
                    );
                    break;
                }
            }
        }
    }
}

/// Handles a swarm event: connections, refusals, the protocols' news. What concerns a call
/// in progress (a request's outcome, a multicast sent) is returned for the call core.
fn on_swarm_event(io: &mut Io, event: SwarmEvent<BehaviourEvent>) -> Option<Input> {
    #[cfg(feature = "libp2p-metrics")]
    if let Some(libp2p) = io.config.recorder.as_ref().and_then(|r| r.libp2p()) {
        use libp2p::metrics::Recorder as _;
        libp2p.record(&event)
    }
    match event {
        SwarmEvent::NewListenAddr { address, .. } => {
            tracing::info!(%address, "listening");
            if !io.listen_addrs.contains(&address) {
                io.listen_addrs.push(address.clone());
                io.advertise_addrs();
            }
            io.emit(Event::Listening { address });
        }
        SwarmEvent::ExpiredListenAddr { address, .. } => {
            io.listen_addrs.retain(|a| *a != address);
            io.advertise_addrs();
        }
        SwarmEvent::ConnectionEstablished {
            peer_id,
            endpoint,
            num_established,
            ..
        } => connections::on_connection_established(io, peer_id, &endpoint, num_established.get()),
        SwarmEvent::ConnectionClosed {
            peer_id,
            num_established,
            cause,
            ..
        } => connections::on_connection_closed(io, peer_id, num_established, cause),
        SwarmEvent::IncomingConnectionError {
            send_back_addr,
            error,
            peer_id,
            ..
        } => connections::on_incoming_error(io, send_back_addr, peer_id, &error),
        SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
            connections::on_outgoing_error(io, peer_id, &error)
        }
        SwarmEvent::Behaviour(BehaviourEvent::Peers(event)) => {
            connections::on_peers_event(io, event)
        }
        SwarmEvent::Behaviour(BehaviourEvent::Limits(event)) => match event {},
        SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => inbound::on_sync_event(io, event),
        SwarmEvent::Behaviour(BehaviourEvent::Overlay(event)) => {
            return inbound::on_overlay_event(io, event)
        }
        SwarmEvent::ListenerError { error, .. } => {
            tracing::warn!(%error, "listener error");
        }
        _ => {}
    }
    None
}
