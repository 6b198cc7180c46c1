//! Carries out what the call core ([`core::calls`](super::super::core::calls)) decides: hands
//! requests and multicasts to the overlay, gives each caller its answer, and records how each
//! call ended. The decisions themselves (failover, deadlines, exactly one answer) are the
//! core's.

use bytes::Bytes;
use libp2p::PeerId;

use super::{super::command::Reply, io::Io};
use crate::{
    identity::NodeId,
    node::{
        core::calls::{CallFailure, MulticastFailure, Output, TopicFailure, Types, View},
        core::failover::Failure,
        CallError, MessageKind, MulticastError, RequestKind, RequestOutcome, TopicError,
    },
};

/// The node's own types for the call core.
pub(crate) struct Live;

impl Types for Live {
    type Peer = PeerId;
    type RequestId = fisco_p2p_overlay::RequestId;
    type MulticastId = fisco_p2p_overlay::MulticastId;
    /// The node the request is for, and where its answer goes.
    type CallReply = (NodeId, Reply<Result<Bytes, CallError>>);
    type TopicReply = Reply<Result<(NodeId, Bytes), TopicError>>;
    type MulticastReply = Reply<Result<usize, MulticastError>>;
}

pub(crate) type Input = crate::node::core::calls::Input<Live>;

/// What the call core reads: the topic's followers from state sync, routes from the overlay.
impl View<PeerId> for Io {
    fn followers(&mut self, topic: &str) -> Vec<(PeerId, bool)> {
        let local = *self.swarm.local_peer_id();
        let behaviour = self.swarm.behaviour_mut();
        let followers = behaviour.sync.followers(topic);
        followers
            .into_iter()
            .filter(|p| *p != local)
            .map(|p| (p, behaviour.overlay.route(&p).is_some()))
            .collect()
    }

    fn nameable(&self, peer: &PeerId) -> bool {
        self.node_of(peer).is_some()
    }
}

/// Carries out `output`; returns what the overlay said to it, for the core.
pub(super) fn carry_out(io: &mut Io, output: Output<Live>) -> Option<Input> {
    match output {
        Output::Send {
            attempt,
            peer,
            module,
            payload,
            timeout,
        } => {
            let len = payload.len();
            let overlay = &mut io.swarm.behaviour_mut().overlay;
            let result = overlay.request(peer, module, payload, timeout);
            if let (Ok(_), Some(recorder)) = (&result, &io.config.recorder) {
                recorder.message_sent(MessageKind::Unicast, len)
            }
            Some(Input::Sent { attempt, result })
        }
        Output::Multicast {
            call,
            topic,
            followers,
            module,
            payload,
        } => {
            let len = payload.len();
            let overlay = &mut io.swarm.behaviour_mut().overlay;
            let result = overlay.multicast(&topic, followers, module, payload);
            if let (Ok(_), Some(recorder)) = (&result, &io.config.recorder) {
                recorder.message_sent(MessageKind::Multicast, len)
            }
            Some(Input::MulticastStarted { call, result })
        }
        Output::CallDone {
            reply: (node, reply),
            started,
            result,
        } => {
            let outcome = match &result {
                Ok(_) => RequestOutcome::Reply,
                Err(CallFailure::NotSent(_)) => RequestOutcome::Error,
                Err(CallFailure::Failed(error)) => RequestOutcome::of_error(error),
            };
            request_done(io, RequestKind::Node, started, outcome);
            let _ = reply.send(result.map_err(|failure| match failure {
                CallFailure::NotSent(error) => CallError::NotSent(error),
                CallFailure::Failed(error) => CallError::Failed { node, error },
            }));
            None
        }
        Output::TopicDone {
            reply,
            topic,
            started,
            result,
        } => {
            let outcome = match &result {
                Ok(_) => RequestOutcome::Reply,
                Err(TopicFailure::NotSent(_)) => RequestOutcome::Error,
                Err(TopicFailure::Failed(failure)) => failure.outcome(),
            };
            request_done(io, RequestKind::Topic, started, outcome);
            let result = match result {
                // The core hands over only replies of nodes this one can name.
                Ok((peer, bytes)) => match io.node_of(&peer) {
                    Some(node) => Ok((node, bytes)),
                    None => Err(TopicError::NoFollower { topic }),
                },
                Err(TopicFailure::NotSent(error)) => Err(TopicError::NotSent(error)),
                Err(TopicFailure::Failed(Failure::NoFollower)) => {
                    Err(TopicError::NoFollower { topic })
                }
                Err(TopicFailure::Failed(Failure::AllFailed(failures))) => {
                    let failures = failures
                        .into_iter()
                        .filter_map(|(peer, error)| Some((io.node_of(&peer)?, error)))
                        .collect();
                    Err(TopicError::AllFailed { topic, failures })
                }
            };
            let _ = reply.send(result);
            None
        }
        Output::MulticastDone {
            reply,
            topic,
            result,
        } => {
            let result = result.map_err(|failure| match failure {
                MulticastFailure::NotSent(error) => MulticastError::NotSent(error),
                MulticastFailure::NoFollower => MulticastError::NoFollower { topic },
                MulticastFailure::Unconfirmed => MulticastError::Unconfirmed { topic },
            });
            let _ = reply.send(result);
            None
        }
    }
}

/// Records how a call ended and how long it took.
fn request_done(io: &Io, kind: RequestKind, started: std::time::Instant, outcome: RequestOutcome) {
    if let Some(recorder) = &io.config.recorder {
        recorder.request_completed(kind, started.elapsed(), outcome);
    }
}
