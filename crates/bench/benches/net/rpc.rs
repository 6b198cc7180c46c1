//! Request/reply over a libp2p swarm, the same way for ours (the routed overlay, one long-lived
//! stream per link) and stock libp2p (`request_response` with its CBOR codec, one substream per
//! request): a server task answers every request with a fixed reply; the client keeps a number
//! of requests in flight and times each.

use std::{
    collections::HashMap,
    hash::Hash,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use fisco_p2p_overlay as overlay;
use futures::StreamExt;
use libp2p::{
    identity::Keypair,
    request_response::{self, cbor, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent},
    PeerId, StreamProtocol, Swarm,
};
use serde_bytes::ByteBuf;

/// The module our requests are for.
const MODULE: u16 = 1;

/// Largest message either stack must carry here (1 MiB payloads plus framing).
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// Longest a single request may take before the run is declared failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A request/response behaviour the benchmark can drive.
pub(crate) trait Rpc: NetworkBehaviour + Send + 'static {
    type Id: Copy + Eq + Hash + Send;

    fn request(&mut self, peer: &PeerId, payload: &Bytes) -> anyhow::Result<Self::Id>;

    /// Handles one event: answers a request with `reply`, or returns the ID of a request of
    /// ours that got its reply.
    fn on_event(&mut self, event: Self::ToSwarm, reply: &Bytes)
        -> anyhow::Result<Option<Self::Id>>;
}

/// Our overlay, signing with the node key `keypair` (it signs only what goes through relays:
/// here nothing, both ends are neighbours).
pub(crate) fn ours(keypair: Keypair) -> overlay::Behaviour {
    let config = overlay::Config::default()
        .with_max_message_size(MAX_MESSAGE)
        .with_request_timeout(REQUEST_TIMEOUT);
    overlay::Behaviour::new(keypair, config)
}

impl Rpc for overlay::Behaviour {
    type Id = overlay::RequestId;

    fn request(&mut self, peer: &PeerId, payload: &Bytes) -> anyhow::Result<Self::Id> {
        Ok(overlay::Behaviour::request(
            self,
            *peer,
            MODULE,
            payload.clone(),
            None,
        )?)
    }

    fn on_event(
        &mut self,
        event: overlay::Event,
        reply: &Bytes,
    ) -> anyhow::Result<Option<Self::Id>> {
        match event {
            overlay::Event::Request { reply_to, .. } => {
                self.respond(reply_to, Ok(reply.clone()))?;
                Ok(None)
            }
            overlay::Event::Response { id, result, .. } => {
                result.context("request failed")?;
                Ok(Some(id))
            }
            overlay::Event::Refused { from, reason, .. } => {
                bail!("overlay refused a frame from {from}: {reason}")
            }
            _ => Ok(None),
        }
    }
}

/// Stock libp2p: `request_response` with its CBOR codec, byte strings both ways.
pub(crate) type Stock = cbor::Behaviour<ByteBuf, ByteBuf>;

pub(crate) fn stock() -> Stock {
    let codec = cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_MESSAGE as u64)
        .set_response_size_maximum(MAX_MESSAGE as u64);
    let config = request_response::Config::default()
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_max_concurrent_streams(256);
    request_response::Behaviour::with_codec(
        codec,
        [(
            StreamProtocol::new("/bench/rpc/1.0.0"),
            ProtocolSupport::Full,
        )],
        config,
    )
}

impl Rpc for Stock {
    type Id = request_response::OutboundRequestId;

    fn request(&mut self, peer: &PeerId, payload: &Bytes) -> anyhow::Result<Self::Id> {
        // The stock codec serialises owned values: a user copies the bytes in, as here.
        Ok(self.send_request(peer, ByteBuf::from(payload.to_vec())))
    }

    fn on_event(
        &mut self,
        event: request_response::Event<ByteBuf, ByteBuf>,
        reply: &Bytes,
    ) -> anyhow::Result<Option<Self::Id>> {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                message: Message::Request { channel, .. },
                ..
            } => {
                let answer = ByteBuf::from(reply.to_vec());
                if self.send_response(channel, answer).is_err() {
                    bail!("requester gone before the response");
                }
                Ok(None)
            }
            Event::Message {
                message: Message::Response { request_id, .. },
                ..
            } => Ok(Some(request_id)),
            Event::OutboundFailure { error, .. } => bail!("request failed: {error}"),
            Event::InboundFailure { error, .. } => bail!("inbound request failed: {error}"),
            Event::ResponseSent { .. } => Ok(None),
        }
    }
}

/// Answers every request with `reply`, forever (abort the task to stop).
pub(crate) async fn serve<B: Rpc>(mut swarm: Swarm<B>, reply: Bytes) {
    loop {
        if let SwarmEvent::Behaviour(event) = swarm.select_next_some().await {
            if let Err(error) = swarm.behaviour_mut().on_event(event, &reply) {
                tracing::warn!(%error, "bench server");
            }
        }
    }
}

/// One timed round: `count` requests of `payload` to `peer`, `in_flight` at a time.
pub(crate) struct Round {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) elapsed: Duration,
}

pub(crate) async fn round<B: Rpc>(
    swarm: &mut Swarm<B>,
    peer: PeerId,
    payload: &Bytes,
    count: usize,
    in_flight: usize,
) -> anyhow::Result<Round> {
    let no_reply = Bytes::new();
    let mut sent_at = HashMap::with_capacity(in_flight);
    let mut latencies = Vec::with_capacity(count);
    let mut sent = 0;
    let started = Instant::now();
    let run = async {
        while latencies.len() < count {
            while sent < count && sent_at.len() < in_flight {
                let id = swarm.behaviour_mut().request(&peer, payload)?;
                sent_at.insert(id, Instant::now());
                sent += 1;
            }
            if let SwarmEvent::Behaviour(event) = swarm.select_next_some().await {
                if let Some(id) = swarm.behaviour_mut().on_event(event, &no_reply)? {
                    let at = sent_at.remove(&id).context("reply to an unknown request")?;
                    latencies.push(at.elapsed());
                }
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT * 2, run)
        .await
        .context("round did not finish in time")??;
    Ok(Round {
        latencies,
        elapsed: started.elapsed(),
    })
}
