//! What the overlay's swarm tests share: a swarm of the behaviour on the in-memory transport, run
//! on its own task, and a way to act on it there.

#![allow(dead_code)]

use std::collections::BTreeSet;

use fisco_p2p_overlay::{Behaviour, Config, Event};
use fisco_p2p_testkit::{connect, listen, memory_swarm, Running};
use libp2p::{identity::Keypair, PeerId, Swarm};

/// Something to do on a running node's swarm.
pub(crate) type Command = Box<dyn FnOnce(&mut Swarm<Behaviour>) + Send>;
/// A swarm running on its own task.
pub(crate) type Node = Running<Command, Event>;

/// A swarm of the overlay behaviour with a new secp256k1 key.
pub(crate) fn swarm(config: Config) -> Swarm<Behaviour> {
    let key = Keypair::generate_secp256k1();
    memory_swarm(key.clone(), Behaviour::new(key, config))
}

/// Runs `f` on the node's swarm and returns its result.
pub(crate) async fn on<T: Send + 'static>(
    node: &Node,
    f: impl FnOnce(&mut Swarm<Behaviour>) -> T + Send + 'static,
) -> T {
    node.ask(|reply| -> Command {
        Box::new(move |swarm| {
            let _ = reply.send(f(swarm));
        })
    })
    .await
}

/// Runs `swarm` on its own task.
pub(crate) fn run(swarm: Swarm<Behaviour>) -> Node {
    Running::spawn(swarm, 256, |swarm, command: Command| command(swarm))
}

/// Connects three swarms in a line `a - b - c` and tells each the others' neighbours, as state
/// sync would. Returns their PeerIds.
pub(crate) async fn wire_line(
    a: &mut Swarm<Behaviour>,
    b: &mut Swarm<Behaviour>,
    c: &mut Swarm<Behaviour>,
) -> [PeerId; 3] {
    listen(b).await;
    listen(c).await;
    connect(a, b).await;
    connect(b, c).await;
    let ids = [*a.local_peer_id(), *b.local_peer_id(), *c.local_peer_id()];
    let neighbours = [vec![ids[1]], vec![ids[0], ids[2]], vec![ids[1]]];
    for swarm in [a, b, c] {
        for (i, listed) in neighbours.iter().enumerate() {
            let set: BTreeSet<PeerId> = listed.iter().copied().collect();
            swarm.behaviour_mut().set_neighbours(ids[i], set);
        }
    }
    ids
}
