//! The typed calls of [`Client`]: one method per route, sending its [`api`] body and reading
//! its [`api`] answer. A 2xx answer that does not read as its type is
//! [`ClientError::UnexpectedAnswer`], naming the route and what serde found.
//!
//! Each call is cancel-safe in that dropping it drops its connection; a `POST` or `DELETE`
//! already sent may still have taken effect on the node.

use hyper::Method;
use serde::de::DeserializeOwned;

use super::{Client, ClientError};
use crate::api;

impl Client {
    /// `GET /v1/status`: the node's ID, addresses, seq, topics, counts and drops.
    pub async fn status(&self) -> Result<api::Status, ClientError> {
        self.read(Method::GET, "/v1/status", None::<&()>).await
    }

    /// `GET /v1/peers`: every node known, connected or not, sorted by node ID.
    pub async fn peers(&self) -> Result<Vec<api::Peer>, ClientError> {
        self.read(Method::GET, "/v1/peers", None::<&()>).await
    }

    /// `GET /v1/static-peers`: the static peers and who is connected at each address.
    pub async fn static_peers(&self) -> Result<Vec<api::StaticPeer>, ClientError> {
        self.read(Method::GET, "/v1/static-peers", None::<&()>)
            .await
    }

    /// `GET /v1/routes`: every node this node has a route to, nearest first.
    pub async fn routes(&self) -> Result<Vec<api::Route>, ClientError> {
        self.read(Method::GET, "/v1/routes", None::<&()>).await
    }

    /// `POST /v1/request`: a request to one node, and its reply.
    pub async fn request(&self, body: &api::RequestBody) -> Result<api::Reply, ClientError> {
        self.read(Method::POST, "/v1/request", Some(body)).await
    }

    /// `POST /v1/send-topic`: a request to one follower of a topic (another on failure), and
    /// the reply.
    pub async fn send_topic(&self, body: &api::TopicBody) -> Result<api::Reply, ClientError> {
        self.read(Method::POST, "/v1/send-topic", Some(body)).await
    }

    /// `POST /v1/multicast`: a message to every follower of a topic.
    pub async fn multicast(&self, body: &api::TopicBody) -> Result<api::Multicast, ClientError> {
        self.read(Method::POST, "/v1/multicast", Some(body)).await
    }

    /// `POST /v1/broadcast`: a message to every node.
    pub async fn broadcast(
        &self,
        body: &api::BroadcastBody,
    ) -> Result<api::Broadcast, ClientError> {
        self.read(Method::POST, "/v1/broadcast", Some(body)).await
    }

    /// `POST /v1/subscribe`: follow a topic.
    pub async fn subscribe(
        &self,
        body: &api::SubscribeBody,
    ) -> Result<api::Subscription, ClientError> {
        self.read(Method::POST, "/v1/subscribe", Some(body)).await
    }

    /// `POST /v1/unsubscribe`: stop following a topic.
    pub async fn unsubscribe(
        &self,
        body: &api::SubscribeBody,
    ) -> Result<api::Subscription, ClientError> {
        self.read(Method::POST, "/v1/unsubscribe", Some(body)).await
    }

    /// `POST /v1/peers`: add a static peer; the node dials it at once and keeps it connected.
    pub async fn add_peer(&self, body: &api::AddrBody) -> Result<api::PeerAdded, ClientError> {
        self.read(Method::POST, "/v1/peers", Some(body)).await
    }

    /// `DELETE /v1/peers`: remove a static peer and disconnect the node there.
    pub async fn remove_peer(&self, body: &api::AddrBody) -> Result<api::PeerRemoved, ClientError> {
        self.read(Method::DELETE, "/v1/peers", Some(body)).await
    }

    /// `method path` with `body` as JSON; the 2xx answer read as `T`.
    async fn read<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<T, ClientError> {
        let route = format!("{method} {path}");
        let body = body.map(super::encode).transpose()?;
        let answer = self.send(method, path, body).await?.into_result()?;
        serde_json::from_value(answer)
            .map_err(|source| ClientError::UnexpectedAnswer { route, source })
    }
}
