//! An authenticated client that opens streams and never finishes them: the
//! node's memory stays bounded (`network.max_buffered_bytes_per_connection`,
//! HTTP/2 windows) and a connection without open streams is closed after
//! `network.idle_timeout_seconds`. Real nodes, a raw HTTP/2 client over
//! real mTLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use credshare_e2e::{Consortium, NodeProcess, NodeSpec, admin_client, channel, status};
use credshare_node::tls::TlsMaterial;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The message length each attacking stream announces: the default
/// `limits.max_message_bytes`, so the node accepts the prefix.
const ANNOUNCED: usize = 4 * 1024 * 1024;
/// The cap the test holds the node to: the connection's budget
/// (`network.max_buffered_bytes_per_connection`, 16 MiB), its HTTP/2
/// connection window (1 MiB), and room for allocator slack and the 256
/// streams' bookkeeping.
const RSS_CAP: u64 = 64 * 1024 * 1024;

/// A raw HTTP/2 connection over mTLS, its driver task, and when it closed.
struct RawConnection {
    send: h2::client::SendRequest<Bytes>,
    driver: JoinHandle<Instant>,
}

async fn raw_connect(material: &TlsMaterial, addr: SocketAddr) -> RawConnection {
    let connector = tokio_rustls::TlsConnector::from(material.client_config().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(addr.ip().to_string()).unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (send, connection) = h2::client::handshake(tls).await.unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
        Instant::now()
    });
    RawConnection { send, driver }
}

fn grpc_request(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("https://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// The gRPC prefix of an uncompressed message of `len` bytes.
fn prefix(len: usize) -> Bytes {
    let mut p = vec![0u8];
    p.extend_from_slice(&(len as u32).to_be_bytes());
    Bytes::from(p)
}

/// `(VmRSS, VmHWM)` of a process, bytes.
fn memory(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

const MIB: f64 = 1024.0 * 1024.0;

/// What became of one attacking stream.
enum Outcome {
    /// Refused with this gRPC status code; the bytes it had sent.
    Refused(String, u64),
    /// Still open, its message unfinished, `u64` bytes pushed.
    Open(h2::SendStream<Bytes>, u64),
}

/// Opens a stream announcing [`ANNOUNCED`] bytes and pushes all but the
/// last byte, as fast as flow control lets it, until the node refuses.
async fn attack_stream(mut send: h2::client::SendRequest<Bytes>, addr: SocketAddr) -> Outcome {
    send = send.ready().await.unwrap();
    let request = grpc_request(addr, "/grpc.health.v1.Health/Check");
    let (response, mut body) = send.send_request(request, false).unwrap();
    body.send_data(prefix(ANNOUNCED), false).unwrap();
    let zeros = Bytes::from(vec![0u8; 64 * 1024]);
    let mut pushed = 5u64;
    let mut left = ANNOUNCED - 1;
    while left > 0 {
        body.reserve_capacity(left.min(zeros.len()));
        let granted = match std::future::poll_fn(|cx| body.poll_capacity(cx)).await {
            Some(Ok(n)) if n > 0 => n.min(left),
            _ => break,
        };
        if body.send_data(zeros.slice(..granted), false).is_err() {
            break;
        }
        pushed += granted as u64;
        left -= granted;
    }
    if left > 0 {
        // Refused: the node answered and reset the stream.
        let code = match response.await {
            Ok(r) => r
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_else(|| "no grpc-status".into()),
            Err(e) => format!("reset: {e}"),
        };
        return Outcome::Refused(code, pushed);
    }
    Outcome::Open(body, pushed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_messages_on_256_streams_keep_memory_under_the_cap() {
    let c = Consortium::new().unwrap();
    let b = NodeProcess::start(&c, &NodeSpec::new("BANK-B")).unwrap();
    let pid = b.pid().unwrap();
    let admin_tls = c.tls("BANK-B", "admin").unwrap();
    let mut admin = admin_client(&admin_tls, b.admin_addr).await.unwrap();
    status(&mut admin).await.unwrap();
    let (base_rss, base_hwm) = memory(pid);

    // Any consortium identity may call Health: a regulator's connection.
    let regulator = c.tls("REG-1", "regulator").unwrap();
    let raw = raw_connect(&regulator, b.peer_addr).await;
    let attacks: Vec<_> = (0..256)
        .map(|_| tokio::spawn(attack_stream(raw.send.clone(), b.peer_addr)))
        .collect();
    let (mut open, mut refused, mut held, mut pushed_refused) =
        (Vec::new(), Vec::new(), 0u64, 0u64);
    for attack in attacks {
        let outcome = tokio::time::timeout(Duration::from_secs(120), attack)
            .await
            .expect("an attacking stream neither finished pushing nor was refused")
            .unwrap();
        match outcome {
            Outcome::Open(stream, pushed) => {
                held += pushed;
                open.push(stream);
            }
            Outcome::Refused(code, pushed) => {
                pushed_refused += pushed;
                refused.push(code);
            }
        }
    }
    let (rss, hwm) = memory(pid);
    // Legitimate calls on other connections still succeed meanwhile, also
    // one carrying a 3 MiB message (a health check of an unknown service:
    // NOT_FOUND once it has arrived whole).
    status(&mut admin).await.unwrap();
    let big = HealthCheckRequest {
        service: "x".repeat(3 * 1024 * 1024),
    };
    let err = HealthClient::new(channel(&regulator, b.peer_addr).await.unwrap())
        .check(big)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    eprintln!(
        "FIGURE: 256 streams announcing 4 MiB each on one connection: {} refused (RESOURCE_EXHAUSTED) after {:.1} MiB pushed in all, {} not refused when they had pushed all but the last byte ({:.1} MiB); node VmRSS {:.1} -> {:.1} MiB (+{:.1}), VmHWM {:.1} -> {:.1} MiB; cap baseline + {} MiB",
        refused.len(),
        pushed_refused as f64 / MIB,
        open.len(),
        held as f64 / MIB,
        base_rss as f64 / MIB,
        rss as f64 / MIB,
        (rss.saturating_sub(base_rss)) as f64 / MIB,
        base_hwm as f64 / MIB,
        hwm as f64 / MIB,
        RSS_CAP / 1024 / 1024,
    );
    // Every refusal is RESOURCE_EXHAUSTED (8). (How many bytes the streams
    // not yet refused hold is the client's view only: the node reads a
    // chunk, and so opens the window for the next, before it refuses it.
    // What the node holds is measured by its memory.)
    assert!(!refused.is_empty(), "no stream was refused");
    assert!(refused.iter().all(|c| c == "8"), "{refused:?}");
    assert!(
        rss < base_rss + RSS_CAP,
        "VmRSS {rss} against a baseline of {base_rss}"
    );
    assert!(
        hwm < base_hwm.max(base_rss) + RSS_CAP,
        "VmHWM {hwm} against a baseline of {base_hwm}"
    );
    // The refusals name the connection's identity in the (debug) log.
    let log = b.log();
    assert!(
        log.lines()
            .any(|l| l.contains("buffered request bytes over budget")
                && l.contains("regulator:REG-1 from 127.0.0.1:")),
        "{log}"
    );
    drop(open);
    drop(raw);
}

/// Starts a health check whose request message never ends: a stream that
/// stays open.
fn unfinished_call(conn: &mut RawConnection, addr: SocketAddr) -> h2::SendStream<Bytes> {
    let request = grpc_request(addr, "/grpc.health.v1.Health/Check");
    let (_, mut body) = conn.send.send_request(request, false).unwrap();
    body.send_data(prefix(10), false).unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_open_streams_is_closed_after_the_idle_timeout() {
    let c = Consortium::new().unwrap();
    let mut spec = NodeSpec::new("BANK-B");
    spec.env = vec![("CREDSHARE_NETWORK__IDLE_TIMEOUT_SECONDS".into(), "2".into())];
    let b = NodeProcess::start(&c, &spec).unwrap();
    let node_tls = c.tls("BANK-A", "node").unwrap();

    // A stream open for three idle timeouts keeps its connection.
    let mut busy = raw_connect(&node_tls, b.peer_addr).await;
    busy.send = busy.send.ready().await.unwrap();
    let mut pending = unfinished_call(&mut busy, b.peer_addr);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        !busy.driver.is_finished(),
        "a connection with an open stream was closed"
    );
    // The stream ends; the connection then idles and is closed.
    pending.send_data(Bytes::from(vec![0u8; 10]), true).unwrap();
    let ended = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(30), busy.driver)
        .await
        .expect("the idle connection was not closed")
        .unwrap();
    let after = closed.duration_since(ended);
    assert!(after >= Duration::from_secs(2), "closed after {after:?}");
    eprintln!(
        "FIGURE: idle timeout 2 s: connection closed {} ms after its last stream ended",
        after.as_millis()
    );

    // A connection that never opens a stream is closed too, and a tonic
    // client whose connection was closed reconnects on its next call.
    let idle = raw_connect(&node_tls, b.peer_addr).await;
    let mut admin = admin_client(&c.tls("BANK-B", "admin").unwrap(), b.admin_addr)
        .await
        .unwrap();
    status(&mut admin).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), idle.driver)
        .await
        .expect("a connection without any stream was not closed")
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    status(&mut admin).await.unwrap();
    // Closed quietly: a debug line each, no warning or error.
    let log = b.log();
    assert!(log.contains("idle connection closed"), "{log}");
    assert!(!log.contains(" WARN ") && !log.contains(" ERROR "), "{log}");
}
