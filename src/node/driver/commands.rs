//! The handles' commands that are answered at once: the node's status and the operator's
//! changes, modules, broadcasts, topics, state and the views of peers and routes. (Requests
//! and multicasts end later; they are the call core's.)

use super::{connections, io::Io};
use crate::{
    identity::NodeId,
    node::{
        command::{MessageCommand, NodeCommand},
        error::refused,
        info::{ConnectedPeer, PeerInfo, RouteInfo, StaticPeer, Status},
        topic, DisconnectReason, MessageKind, SendError,
    },
};

/// Answers what the node is asked about itself, and carries out the operator's changes.
pub(super) fn on_node_command(io: &mut Io, command: NodeCommand) {
    match command {
        NodeCommand::Status(reply) => {
            let record = io.swarm.behaviour().sync.local_record();
            let (seq, topics) = (record.seq(), record.topics().iter().cloned().collect());
            let no_static_peer_connected = io.swarm.behaviour().peers.no_static_peer_connected();
            let overlay = &mut io.swarm.behaviour_mut().overlay;
            let _ = reply.send(Status {
                node_id: io.config.node_id.clone(),
                listen: io.listen_addrs.clone(),
                seq,
                topics,
                connected: io.links.len(),
                routes: overlay.routes().len(),
                overlay: overlay.stats(),
                requests_in_flight: overlay.in_flight(),
                queued_bytes: overlay.queued_bytes(),
                inbox_dropped: io.modules.dropped(),
                no_static_peer_connected,
            });
        }
        NodeCommand::ConnectedPeers(reply) => {
            let peers = io
                .links
                .peers()
                .filter_map(|(peer, c)| {
                    Some(ConnectedPeer {
                        node_id: io.node_of(peer)?,
                        address: c.address.clone(),
                        direction: c.direction,
                        connections: c.connections,
                    })
                })
                .collect();
            let _ = reply.send(peers);
        }
        NodeCommand::AddPeer(address, reply) => {
            let _ = reply.send(io.swarm.behaviour_mut().peers.add_static_peer(address));
        }
        NodeCommand::RemovePeer(address, reply) => {
            let peers = &mut io.swarm.behaviour_mut().peers;
            let node = peers.static_peers().find_map(|(a, status)| match status {
                fisco_p2p_peers::StaticPeerStatus::Connected(peer) if *a == address => Some(peer),
                _ => None,
            });
            let removed = peers.remove_static_peer(&address);
            if let Some(peer) = node {
                if removed && !io.swarm.behaviour().peers.is_static(&peer) {
                    io.links.closing(peer, DisconnectReason::Requested);
                }
            }
            let _ = reply.send(removed);
        }
        NodeCommand::StaticPeers(reply) => {
            let peers = io
                .swarm
                .behaviour()
                .peers
                .static_peers()
                .map(|(address, status)| StaticPeer {
                    address: address.clone(),
                    connected: match status {
                        fisco_p2p_peers::StaticPeerStatus::Connected(peer) => io.node_of(&peer),
                        _ => None,
                    },
                    own_address: status == fisco_p2p_peers::StaticPeerStatus::OwnAddress,
                })
                .collect();
            let _ = reply.send(peers);
        }
        NodeCommand::SetBlacklist(nodes, reply) => {
            io.access.set_blacklist(nodes);
            let _ = reply.send(connections::disconnect_barred(io));
        }
        NodeCommand::SetWhitelist(nodes, reply) => {
            io.access.set_whitelist(nodes);
            let _ = reply.send(connections::disconnect_barred(io));
        }
        NodeCommand::Disconnect(node, reply) => {
            let peer = node.to_peer_id();
            let connected = io.links.contains(&peer);
            if connected {
                io.links.closing(peer, DisconnectReason::Requested);
                let _ = io.swarm.disconnect_peer_id(peer);
            }
            let _ = reply.send(connected);
        }
    }
}

/// Carries out the application's messaging commands that end at once.
pub(super) fn on_message_command(io: &mut Io, command: MessageCommand) {
    match command {
        MessageCommand::Peers(reply) => {
            let _ = reply.send(peer_infos(io));
        }
        MessageCommand::Register(module, reply) => {
            let _ = reply.send(io.modules.register(module));
        }
        MessageCommand::Broadcast {
            module,
            payload,
            reply,
        } => {
            if let Err(error) = SendError::check_size(payload.len(), io.config.max_message_size) {
                let _ = reply.send(Err(error));
                return;
            }
            if let Some(m) = &io.config.recorder {
                m.message_sent(MessageKind::Broadcast, payload.len())
            }
            let result = io
                .swarm
                .behaviour_mut()
                .overlay
                .broadcast(module, payload)
                .map(|_| ())
                .map_err(refused);
            let _ = reply.send(result);
        }
        MessageCommand::Subscribe(topic, reply) => {
            let _ = reply.send(subscribe(io, topic));
        }
        MessageCommand::Unsubscribe(topic, reply) => {
            let _ = reply.send(unsubscribe(io, &topic));
        }
        MessageCommand::SetState(key, value, reply) => {
            let sync = &mut io.swarm.behaviour_mut().sync;
            let result = match value {
                Some(value) => sync.set_state(key, value),
                None => sync.remove_state(&key),
            };
            let _ = reply.send(result.map_err(SendError::State));
        }
        MessageCommand::Routes(reply) => {
            let routes = io.swarm.behaviour_mut().overlay.routes();
            let routes = routes
                .into_iter()
                .filter_map(|(dest, route)| {
                    Some(RouteInfo {
                        destination: io.node_of(&dest)?,
                        next_hop: io.node_of(&route.next_hop)?,
                        hops: route.hops,
                    })
                })
                .collect();
            let _ = reply.send(routes);
        }
        MessageCommand::Path(node, reply) => {
            let path = io.swarm.behaviour_mut().overlay.path(&node.to_peer_id());
            let path = path.map(|path| path.iter().filter_map(|p| io.node_of(p)).collect());
            let _ = reply.send(path);
        }
    }
}

fn subscribe(io: &mut Io, topic: String) -> Result<bool, SendError> {
    topic::check(&topic)?;
    let behaviour = io.swarm.behaviour_mut();
    if !behaviour.sync.local_record().follows(&topic)
        && behaviour.sync.local_record().topics().len() >= io.config.max_topics
    {
        return Err(SendError::TooManyTopics {
            max: io.config.max_topics,
        });
    }
    behaviour.sync.follow(topic).map_err(SendError::State)
}

fn unsubscribe(io: &mut Io, topic: &str) -> Result<bool, SendError> {
    io.swarm
        .behaviour_mut()
        .sync
        .unfollow(topic)
        .map_err(SendError::State)
}

/// Every node known: the sync view, plus connected nodes whose record has not arrived yet.
fn peer_infos(io: &Io) -> Vec<PeerInfo> {
    let local = *io.swarm.local_peer_id();
    let mut infos: Vec<PeerInfo> = io
        .swarm
        .behaviour()
        .sync
        .records()
        .filter(|entry| entry.record().owner() != local)
        .filter_map(|entry| {
            let record = entry.record();
            Some(PeerInfo {
                node_id: io.node_of(&record.owner())?,
                connected: io.links.contains(&record.owner()),
                online: entry.is_online(),
                addrs: record.addrs().to_vec(),
                topics: record.topics().iter().cloned().collect(),
                seq: record.seq(),
                state: record.state().clone(),
                neighbours: record
                    .neighbours()
                    .iter()
                    .filter_map(|p| io.node_of(p))
                    .collect(),
            })
        })
        .collect();
    let known: std::collections::HashSet<NodeId> =
        infos.iter().map(|i| i.node_id.clone()).collect();
    for (peer, _) in io.links.peers() {
        if let Some(node_id) = io.node_of(peer).filter(|node| !known.contains(node)) {
            infos.push(PeerInfo {
                node_id,
                connected: true,
                online: true,
                addrs: Vec::new(),
                topics: Vec::new(),
                seq: 0,
                state: Default::default(),
                neighbours: Vec::new(),
            });
        }
    }
    infos.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    infos
}
