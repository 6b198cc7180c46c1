//! What the overlay's swarm tests share: a swarm of the behaviour on the in-memory transport, run
//! on its own task, and a way to act on it there.

#![allow(dead_code)]

use fisco_p2p_overlay::{Behaviour, Config, Event};
use fisco_p2p_testkit::{memory_swarm, Running};
use libp2p::{identity::Keypair, Swarm};

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
