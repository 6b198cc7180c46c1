//! A misbehaving peer speaking the sync protocol with raw frames: it sends whatever bytes a test
//! gives it and answers fetches with records a test makes up.

use std::{io, time::Duration};

use bytes::Bytes;
use fisco_p2p_sync as sync;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::{
    identity::Keypair,
    request_response::{self, ProtocolSupport},
    swarm::SwarmEvent,
    Multiaddr, PeerId, StreamProtocol,
};
use tokio::{sync::mpsc, task::JoinHandle};

use super::wire;

/// Largest frame the attacker reads.
const MAX_READ: u64 = 1024 * 1024;

/// Answers a fetch for these owners (PeerId bytes).
pub type Serve = fn(&Keypair, &[Bytes]) -> wire::Response;

#[derive(Debug)]
pub enum Outcome {
    Connected(PeerId),
    /// The raw response frame to a request the attacker sent.
    Answered(Vec<u8>),
    /// A request the attacker sent failed (stream reset, timeout, ...).
    Failed(String),
    /// The attacker answered a fetch.
    ServedFetch,
}

enum Command {
    Dial(Multiaddr),
    Send { to: PeerId, frame: Vec<u8> },
}

pub struct Attacker {
    pub id: PeerId,
    commands: mpsc::Sender<Command>,
    outcomes: mpsc::Receiver<Outcome>,
    task: JoinHandle<()>,
}

impl Attacker {
    /// Starts the attacker in its own task, listening on a memory address.
    pub async fn spawn(keypair: Keypair, serve: Serve) -> Self {
        let protocols = [(
            StreamProtocol::new(sync::PROTOCOL_NAME),
            ProtocolSupport::Full,
        )];
        let behaviour = request_response::Behaviour::with_codec(
            RawCodec,
            protocols,
            request_response::Config::default(),
        );
        let mut swarm = super::swarm(&keypair, behaviour);
        super::listen(&mut swarm).await;
        let (commands, mut command_rx) = mpsc::channel(16);
        let (outcome_tx, outcomes) = mpsc::channel(64);
        let id = *swarm.local_peer_id();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    command = command_rx.recv() => match command {
                        Some(Command::Dial(addr)) => swarm.dial(addr).unwrap(),
                        Some(Command::Send { to, frame }) => {
                            swarm.behaviour_mut().send_request(&to, frame);
                        }
                        None => return,
                    },
                    event = swarm.select_next_some() => {
                        let outcome = match event {
                            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                                Some(Outcome::Connected(peer_id))
                            }
                            SwarmEvent::Behaviour(event) => {
                                on_event(swarm.behaviour_mut(), &keypair, serve, event)
                            }
                            _ => None,
                        };
                        if let Some(outcome) = outcome {
                            let _ = outcome_tx.try_send(outcome);
                        }
                    }
                }
            }
        });
        Attacker {
            id,
            commands,
            outcomes,
            task,
        }
    }

    pub async fn dial(&self, addr: Multiaddr) {
        self.command(Command::Dial(addr)).await;
    }

    /// Sends `frame` as a request on the sync protocol, byte for byte.
    pub async fn send(&self, to: PeerId, frame: Vec<u8>) {
        self.command(Command::Send { to, frame }).await;
    }

    async fn command(&self, command: Command) {
        tokio::time::timeout(Duration::from_secs(5), self.commands.send(command))
            .await
            .expect("the attacker task takes commands")
            .unwrap();
    }

    /// The next outcome matching `wanted`, skipping others; panics after `within`.
    pub async fn expect<T>(
        &mut self,
        within: Duration,
        mut wanted: impl FnMut(Outcome) -> Option<T>,
    ) -> T {
        let wait = async {
            loop {
                let outcome = self.outcomes.recv().await.expect("attacker task alive");
                if let Some(found) = wanted(outcome) {
                    return found;
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .expect("the attacker saw the expected outcome in time")
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn on_event(
    behaviour: &mut request_response::Behaviour<RawCodec>,
    keypair: &Keypair,
    serve: Serve,
    event: request_response::Event<Vec<u8>, Vec<u8>>,
) -> Option<Outcome> {
    match event {
        request_response::Event::Message { message, .. } => match message {
            request_response::Message::Request {
                request, channel, ..
            } => {
                let (response, outcome) = match wire::decode::<wire::Request>(&request) {
                    wire::Request::Announce { .. } => (wire::Response::Ack, None),
                    wire::Request::Fetch(owners) => {
                        (serve(keypair, &owners), Some(Outcome::ServedFetch))
                    }
                };
                let _ = behaviour.send_response(channel, wire::frame(&response));
                outcome
            }
            request_response::Message::Response { response, .. } => {
                Some(Outcome::Answered(response))
            }
        },
        request_response::Event::OutboundFailure { error, .. } => {
            Some(Outcome::Failed(error.to_string()))
        }
        _ => None,
    }
}

/// Reads a request frame's body; writes and reads everything else raw.
#[derive(Debug, Clone)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut prefix = [0u8; 4];
        io.read_exact(&mut prefix).await?;
        let len = u64::from(u32::from_be_bytes(prefix)).min(MAX_READ);
        let mut body = Vec::new();
        io.take(len).read_to_end(&mut body).await?;
        Ok(body)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut frame = Vec::new();
        io.take(MAX_READ).read_to_end(&mut frame).await?;
        Ok(frame)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        frame: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&frame).await?;
        io.flush().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        frame: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&frame).await?;
        io.flush().await
    }
}
