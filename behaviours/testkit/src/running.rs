//! A swarm driven by its own tokio task, so a test talks to it as to a running node.

use std::time::Duration;

use futures::StreamExt;
use libp2p::{
    swarm::{NetworkBehaviour, SwarmEvent},
    PeerId, Swarm,
};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::within;

/// Commands a node may have queued before the test waits for its answers.
const COMMANDS: usize = 16;

/// A swarm running in its own task: commands of type `C` in, behaviour events `E` out.
/// Dropping it stops the task (and so closes the node's connections).
#[derive(Debug)]
pub struct Running<C, E> {
    /// The swarm's peer ID.
    pub peer_id: PeerId,
    commands: mpsc::Sender<C>,
    events: mpsc::Receiver<E>,
    /// `None` once stopped.
    task: Option<JoinHandle<()>>,
}

impl<C, E> Drop for Running<C, E> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl<C: Send + 'static, E: Send + 'static> Running<C, E> {
    /// Runs `swarm`, handing each command to `execute` and queuing up to `events` behaviour
    /// events for the test; when the queue is full the swarm waits for the test to read.
    pub fn spawn<B>(
        swarm: Swarm<B>,
        events: usize,
        execute: impl FnMut(&mut Swarm<B>, C) + Send + 'static,
    ) -> Self
    where
        B: NetworkBehaviour<ToSwarm = E> + Send + 'static,
    {
        Self::spawn_with(swarm, events, execute, |event| match event {
            SwarmEvent::Behaviour(event) => Some(event),
            _ => None,
        })
    }

    /// Like [`spawn`](Self::spawn), queuing for the test what `keep` makes of each swarm event
    /// (`Some` to keep every one: connections, dials and listeners too).
    pub fn spawn_with<B>(
        mut swarm: Swarm<B>,
        events: usize,
        mut execute: impl FnMut(&mut Swarm<B>, C) + Send + 'static,
        mut keep: impl FnMut(SwarmEvent<B::ToSwarm>) -> Option<E> + Send + 'static,
    ) -> Self
    where
        B: NetworkBehaviour + Send + 'static,
    {
        let (command_tx, mut commands) = mpsc::channel(COMMANDS);
        let (events_tx, events) = mpsc::channel(events);
        let peer_id = *swarm.local_peer_id();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    command = commands.recv() => match command {
                        None => break,
                        Some(command) => execute(&mut swarm, command),
                    },
                    event = swarm.select_next_some() => {
                        if let Some(event) = keep(event) {
                            if events_tx.send(event).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Running {
            peer_id,
            commands: command_tx,
            events,
            task: Some(task),
        }
    }

    /// Stops the swarm and waits (up to [`STEP`](crate::STEP)) until it is gone, and with it
    /// its listeners and connections.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = tokio::time::timeout(crate::STEP, task).await;
        }
    }

    /// Sends the command `make` builds around a reply channel and awaits the answer, failing
    /// the test if it takes longer than [`STEP`](crate::STEP).
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> C) -> T {
        let (reply, answer) = oneshot::channel();
        within("node command", async {
            self.commands.send(make(reply)).await.expect("node runs");
            answer.await.expect("node answers")
        })
        .await
    }

    /// The next event, failing the test if none comes within [`STEP`](crate::STEP).
    pub async fn next_event(&mut self) -> E {
        within("next event", self.events.recv())
            .await
            .expect("node runs")
    }

    /// The next event if one comes within `wait`.
    pub async fn event_within(&mut self, wait: Duration) -> Option<E> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Every event the node reports during `window`.
    pub async fn events_during(&mut self, window: Duration) -> Vec<E> {
        let deadline = tokio::time::Instant::now() + window;
        let mut events = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            events.push(event);
        }
        events
    }
}
