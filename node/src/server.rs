//! Assembly: the node as a function. [`serve`] takes a validated
//! configuration, two bound listeners and a shutdown future; it opens the
//! keys, the store and the peer clients, builds the shared state
//! ([`Node`]), runs the gRPC listeners and the revocation delivery task,
//! and on shutdown drains and flushes. Tests start it on `127.0.0.1:0`;
//! process start-up is [`crate::process`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::blocking::{self, TaskFailed};
use crate::config::NodeConfig;
use crate::federation::Federation;
use crate::grpc::{self, Listener};
use crate::membership::Membership;
use crate::probes::ProbeState;
use crate::service::{BoundAddrs, Node};
use crate::signing::SigningError;
use crate::storage::StorageError;
use crate::storage::verify::{FullCheck, spawn_full_check};
use crate::tls::{self, BudgetLayer, BufferBudget, HandshakePolicy, TlsError};
use crate::trust::Trust;

mod open;
use open::open_store;

/// The listeners of a node, already bound.
#[derive(Debug)]
pub struct Listeners {
    pub peer: TcpListener,
    pub admin: TcpListener,
    /// Plain HTTP: `/metrics`, `/livez`, `/readyz` (`listen.metrics`).
    pub metrics: Option<TcpListener>,
    /// The discovery service's mTLS listener (`discovery.listen`).
    pub discovery: Option<TcpListener>,
}

impl Listeners {
    /// Binds every listen address of `config`.
    pub async fn bind(config: &NodeConfig) -> std::io::Result<Self> {
        let metrics = match config.listen.metrics {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let discovery = match &config.discovery {
            Some(d) => Some(TcpListener::bind(d.listen).await?),
            None => None,
        };
        Ok(Self {
            peer: TcpListener::bind(config.listen.peer).await?,
            admin: TcpListener::bind(config.listen.admin).await?,
            metrics,
            discovery,
        })
    }
}

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration names unusable trust material or contradicts the
    /// store (the process exits with the configuration exit code).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("signer: {0}")]
    Signing(#[from] SigningError),
    #[error("{0}")]
    Startup(String),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Task(#[from] TaskFailed),
}

/// Runs the node until `shutdown` resolves, then stops accepting, drains
/// in-flight calls (bounded by `limits.shutdown_grace_seconds`) and flushes.
pub async fn serve(
    config: NodeConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let config = Arc::new(config);
    let trust = {
        let config = config.clone();
        blocking::run(move || Trust::load(config).map_err(|e| ServeError::Config(e.to_string())))
            .await?
    };
    let trust = Arc::new(trust);
    let addrs = bound_addrs(&listeners)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    // Probes answer from the start: live at once, ready once the node serves.
    let probes = Arc::new(ProbeState::default());
    if let Some(http) = listeners.metrics {
        tokio::spawn(crate::probes::serve(http, probes.clone(), stop_rx.clone()));
    }
    let node = Arc::new(assemble(config.clone(), trust.clone(), addrs, stop_rx.clone()).await?);
    let mut serving: Vec<_> =
        spawn_listeners(&node, &trust, [listeners.peer, listeners.admin], &stop_rx).into();
    serving.extend(spawn_discovery(&node, &trust, listeners.discovery, &stop_rx).await?);
    spawn_tasks(&node, &config, stop_rx);
    probes.serving(node.clone());
    if let Some(path) = &config.listen.ready_file {
        write_ready_file(path, &addrs)?;
    }
    tracing::info!(
        institution = %config.institution,
        peer = %addrs.peer,
        admin = %addrs.admin,
        metrics = ?addrs.metrics,
        discovery = ?addrs.discovery,
        "credshare node serving"
    );
    shutdown.await;
    tracing::info!("shutdown requested: draining in-flight calls");
    let _ = stop_tx.send(true);
    drain(
        serving,
        Duration::from_secs(config.limits.shutdown_grace_seconds),
    )
    .await?;
    let store = node.store.clone();
    blocking::run(move || store.close()).await?;
    tracing::info!("credshare node stopped");
    Ok(())
}

/// The addresses the listeners are bound to.
fn bound_addrs(listeners: &Listeners) -> std::io::Result<BoundAddrs> {
    Ok(BoundAddrs {
        peer: listeners.peer.local_addr()?,
        admin: listeners.admin.local_addr()?,
        metrics: listeners
            .metrics
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?,
        discovery: listeners
            .discovery
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?,
    })
}

/// Starts the peer and admin gRPC listeners (in that order), sharing one
/// budget of bytes buffered for unfinished request messages.
fn spawn_listeners(
    node: &Arc<Node>,
    trust: &Arc<Trust>,
    [peer, admin]: [TcpListener; 2],
    stop: &watch::Receiver<bool>,
) -> [tokio::task::JoinHandle<Result<(), ServeError>>; 2] {
    let budget = node.config.network.buffer_budget();
    [(Listener::Peer, peer), (Listener::Admin, admin)].map(|(kind, tcp)| {
        let policy: Arc<dyn HandshakePolicy> = trust.clone();
        let (node, budget, stop) = (node.clone(), budget.clone(), stop.clone());
        tokio::spawn(async move {
            let routes = grpc::routes(node.clone(), kind).await?;
            let name = match kind {
                Listener::Peer => "peer",
                Listener::Admin => "admin",
            };
            run_listener(node, name, routes, tcp, policy, budget, stop).await
        })
    })
}

/// With `[discovery]`: opens the discovery service (key, directory
/// counts, the budget window replayed from the log) and starts its listener.
async fn spawn_discovery(
    node: &Arc<Node>,
    trust: &Arc<Trust>,
    tcp: Option<TcpListener>,
    stop: &watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<Result<(), ServeError>>>, ServeError> {
    let Some(tcp) = tcp else {
        return Ok(None);
    };
    let config = node.config.discovery.clone().ok_or_else(|| {
        ServeError::Startup("discovery listener bound without [discovery]".into())
    })?;
    let opened = node.clone();
    let discovery = blocking::run(move || {
        crate::discovery::Discovery::open(opened, config).map_err(ServeError::Config)
    })
    .await?;
    let routes = grpc::discovery_routes(node.clone(), Arc::new(discovery)).await;
    let policy: Arc<dyn HandshakePolicy> = trust.clone();
    let budget = node.config.network.buffer_budget();
    Ok(Some(tokio::spawn(run_listener(
        node.clone(),
        "discovery",
        routes,
        tcp,
        policy,
        budget,
        stop.clone(),
    ))))
}

/// Starts the node's periodic tasks; they end when `stop` turns true.
fn spawn_tasks(node: &Arc<Node>, config: &NodeConfig, stop: watch::Receiver<bool>) {
    node.spawn_oversight_rebuild(stop.clone());
    node.spawn_retention(stop.clone());
    node.spawn_delivery(
        Duration::from_millis(config.limits.outbox_retry_ms),
        stop.clone(),
    );
    node.spawn_upkeep(
        Duration::from_secs(config.limits.refused_log_interval_seconds),
        stop.clone(),
    );
    node.spawn_membership_watcher(
        Duration::from_secs(u64::from(config.membership.poll_seconds)),
        stop.clone(),
    );
    node.spawn_trust_watcher(
        Duration::from_secs(u64::from(config.tls.reload_interval_seconds)),
        stop.clone(),
    );
    node.spawn_witnessing(stop.clone());
    node.spawn_metrics_refresh(stop);
}

/// Opens the store (verifying the log's newest part) and the peer
/// clients, builds the shared state around the loaded trust, and starts
/// the background check of the whole log (stopped by `stop`).
async fn assemble(
    config: Arc<NodeConfig>,
    trust: Arc<Trust>,
    addrs: BoundAddrs,
    stop: watch::Receiver<bool>,
) -> Result<Node, ServeError> {
    let (store, committer, verify) = open_store(&config, trust.signer_slot()).await?;
    let membership = Arc::new(load_membership(&config, &trust)?);
    let peers = membership.peers().unwrap_or_else(|| config.peers.clone());
    let federation = Federation::new(trust.current().client_config.clone(), &peers)?;
    blocking::run(move || {
        let verified = committer.latest();
        let started = std::time::Instant::now();
        let node = Node::new(
            config, store, committer, trust, federation, membership, addrs,
        )?;
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "node state assembled (oversight counts rebuilt in the background)"
        );
        node.metrics
            .startup_verify_seconds
            .set(verify.as_secs_f64());
        spawn_full_check(FullCheck {
            store: node.store.clone(),
            size: verified.size,
            root: verified.root,
            gauges: node.metrics.log_verify.clone(),
            stop,
        })?;
        Ok(node)
    })
    .await
}

/// The membership manifest configured (newest of its file and the copy
/// adopted before), or none; an unusable one is a configuration error.
fn load_membership(config: &NodeConfig, trust: &Trust) -> Result<Membership, ServeError> {
    let own = config.institution.clone();
    if config.membership.manifest_file.is_none() {
        return Ok(Membership::disabled(own));
    }
    let membership = Membership::load(&config.membership, own, &config.data_dir, &trust.verifier())
        .map_err(|e| ServeError::Config(e.to_string()))?;
    if let Some(m) = membership.current() {
        tracing::info!(
            version = m.version(),
            members = m.body.members.len(),
            "membership manifest in force"
        );
    }
    Ok(membership)
}

/// Waits for the listeners to finish their in-flight calls, at most `grace`.
async fn drain(
    serving: Vec<tokio::task::JoinHandle<Result<(), ServeError>>>,
    grace: Duration,
) -> Result<(), ServeError> {
    match tokio::time::timeout(grace, futures::future::join_all(serving)).await {
        Ok(results) => {
            for r in results {
                r.map_err(|e| ServeError::Startup(e.to_string()))??;
            }
        }
        Err(_) => tracing::warn!(
            grace_seconds = grace.as_secs(),
            "calls still running after the grace period"
        ),
    }
    Ok(())
}

/// Serves one listener: its accepted connections, within the connection
/// limits and the node-wide `budget` of buffered request bytes.
async fn run_listener(
    node: Arc<Node>,
    name: &'static str,
    routes: tonic::service::Routes,
    tcp: TcpListener,
    policy: Arc<dyn HandshakePolicy>,
    budget: Arc<BufferBudget>,
    stop: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let limits = node.config.limits.clone();
    let network = node.config.network.clone();
    let incoming =
        tls::accept_authenticated(tcp, policy, stop.clone(), name, network.accept_limits());
    let mut stop_signal = stop;
    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(Duration::from_secs(
            network.keepalive_interval_seconds,
        )))
        .http2_keepalive_timeout(Some(Duration::from_secs(network.keepalive_timeout_seconds)))
        .http2_max_header_list_size(network.max_header_list_bytes)
        .initial_stream_window_size(network.initial_stream_window_bytes)
        .initial_connection_window_size(network.initial_connection_window_bytes)
        .http2_adaptive_window(Some(false))
        .tcp_nodelay(true)
        .layer(BudgetLayer::new(budget))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop_signal.wait_for(|stop| *stop).await;
        })
        .await?;
    Ok(())
}

fn write_ready_file(path: &std::path::Path, addrs: &BoundAddrs) -> std::io::Result<()> {
    // Write then rename, so a watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(addrs)?)?;
    std::fs::rename(tmp, path)
}
