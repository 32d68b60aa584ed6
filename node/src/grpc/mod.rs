//! gRPC services: thin handlers that authorize the caller, convert the
//! request, make one domain call and build the response.
//!
//! * [`peer`] — `PeerService`, for other nodes.
//! * [`admin`] — `AdminService`, for this institution's admins.
//! * [`audit`] — `AuditService`, for regulators (and own admins).
//! * [`discovery`] — `DiscoveryService`, the discovery service's own listener.
//! * [`witness`] — `WitnessService`, peers' checkpoints to cosign.
//! * [`auth`] — the access rules, enforced by one tower layer.
//! * [`convert`] — wire requests into use-case inputs and domain types.
//! * [`health`] — `grpc.health.v1` following the store's health.
//! * [`undecodable`] — `INVALID_ARGUMENT` for requests that do not decode.
//! * [`status`] — the one mapping from errors to `tonic::Status`.

#[macro_use]
mod service_impl;

pub mod admin;
pub mod audit;
pub mod auth;
pub mod convert;
pub mod discovery;
pub mod health;
pub mod peer;
pub mod status;
pub mod undecodable;
pub mod witness;

use std::sync::Arc;

use credshare_proto::v1 as pb;
use tonic::service::Routes;

use crate::service::Node;
use auth::{AccessRule, Authorized};

type PeerServer = pb::peer_service_server::PeerServiceServer<peer::PeerApi>;
type AdminServer = pb::admin_service_server::AdminServiceServer<admin::AdminApi>;

/// Which listener a router is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Other nodes and regulators.
    Peer,
    /// This institution's admins.
    Admin,
}

/// The services of one listener, each behind its access rule, plus
/// `grpc.health.v1` and server reflection.
pub async fn routes(
    node: Arc<Node>,
    listener: Listener,
) -> Result<Routes, tonic_reflection::server::Error> {
    let limit = node.config.limits.max_message_bytes;
    let own = node.institution().clone();
    let node_ref = node.clone();
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(credshare_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let audit =
        pb::audit_service_server::AuditServiceServer::new(audit::AuditApi::new(node.clone()))
            .max_decoding_message_size(limit);
    reporter
        .set_serving::<pb::audit_service_server::AuditServiceServer<audit::AuditApi>>()
        .await;
    let mut builder = Routes::builder();
    builder
        .add_service(health)
        // Reflection maps the whole API: admins and regulators only.
        .add_service(Authorized::new(
            reflection,
            AccessRule::Auditor(own.clone()),
        ))
        .add_service(
            Authorized::new(audit, AccessRule::Auditor(own.clone()))
                .members_only(node.membership.clone()),
        );
    let served = match listener {
        Listener::Peer => add_peer_services(&mut builder, node, limit),
        Listener::Admin => {
            let admin =
                pb::admin_service_server::AdminServiceServer::new(admin::AdminApi::new(node))
                    .max_decoding_message_size(limit);
            builder.add_service(Authorized::new(admin, AccessRule::OwnAdmin(own)));
            <AdminServer as tonic::server::NamedService>::NAME
        }
    };
    health::follow_store(
        reporter.clone(),
        node_ref.committer.health(),
        node_ref.store.dir().to_owned(),
        vec![served],
    );
    spawn_health_follower(Arc::downgrade(&node_ref), reporter);
    Ok(builder.routes())
}

/// `PeerService` and `WitnessService`, for member nodes only; returns the
/// name health reports for the peer listener.
fn add_peer_services(
    builder: &mut tonic::service::RoutesBuilder,
    node: Arc<Node>,
    limit: usize,
) -> &'static str {
    let members = node.membership.clone();
    let witness = pb::witness_service_server::WitnessServiceServer::new(witness::WitnessApi::new(
        node.clone(),
    ))
    .max_decoding_message_size(limit);
    builder
        .add_service(Authorized::new(witness, AccessRule::PeerNode).members_only(members.clone()));
    let peer = pb::peer_service_server::PeerServiceServer::new(peer::PeerApi::new(node))
        .max_decoding_message_size(limit);
    builder.add_service(Authorized::new(peer, AccessRule::PeerNode).members_only(members));
    <PeerServer as tonic::server::NamedService>::NAME
}

/// The discovery listener's services: `DiscoveryService`, `AuditService`
/// over the discovery log (regulators), and gRPC health.
pub async fn discovery_routes(
    node: Arc<Node>,
    discovery: Arc<crate::discovery::Discovery>,
) -> Routes {
    let limit = node.config.limits.max_message_bytes;
    let own = node.institution().clone();
    let (reporter, health) = tonic_health::server::health_reporter();
    let api = pb::discovery_service_server::DiscoveryServiceServer::new(
        discovery::DiscoveryApi::new(discovery),
    )
    .max_decoding_message_size(limit);
    reporter
        .set_serving::<pb::discovery_service_server::DiscoveryServiceServer<discovery::DiscoveryApi>>()
        .await;
    let audit =
        pb::audit_service_server::AuditServiceServer::new(audit::AuditApi::new(node.clone()))
            .max_decoding_message_size(limit);
    let mut builder = Routes::builder();
    builder
        .add_service(health)
        .add_service(Authorized::new(audit, AccessRule::Auditor(own)))
        .add_service(
            Authorized::new(api, AccessRule::Discovery).members_only(node.membership.clone()),
        );
    spawn_health_follower(Arc::downgrade(&node), reporter);
    builder.routes()
}

/// Keeps the overall `grpc.health.v1` status (service `""`) equal to the
/// node's readiness (`/readyz`), until the node is dropped.
fn spawn_health_follower(
    node: std::sync::Weak<Node>,
    reporter: tonic_health::server::HealthReporter,
) {
    use tonic_health::ServingStatus;
    tokio::spawn(async move {
        let mut last = None;
        while let Some(node) = node.upgrade() {
            let ready = node.readiness().is_ok();
            drop(node);
            if last != Some(ready) {
                let status = if ready {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                reporter.set_service_status("", status).await;
                last = Some(ready);
            }
            tokio::time::sleep(HEALTH_FOLLOW_INTERVAL).await;
        }
    });
}

/// How often the gRPC health status follows readiness.
const HEALTH_FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
