//! The plain-HTTP listener for operators' tooling (`listen.metrics`):
//! `/metrics` (Prometheus text format), `/livez` and `/readyz`. No TLS and
//! nothing secret: figures and reasons only, never a key or a record. It
//! starts before the query log is verified, so `/livez` answers at once and
//! `/readyz` says "starting" until the node serves.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::service::Node;

/// What the probe listener serves from: the node, once it exists.
#[derive(Debug, Default)]
pub struct ProbeState {
    node: OnceLock<Arc<Node>>,
}

impl ProbeState {
    /// The node is built and has passed its start-up check.
    pub fn serving(&self, node: Arc<Node>) {
        let _ = self.node.set(node);
    }

    fn respond(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
        }
        match req.uri().path() {
            "/livez" => text(StatusCode::OK, "ok\n".into()),
            "/readyz" => match self.node.get().map(|n| n.readiness()) {
                None => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: starting (verifying the query log)\n".into(),
                ),
                Some(Ok(())) => text(StatusCode::OK, "ok\n".into()),
                Some(Err(why)) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {why}\n"),
                ),
            },
            "/metrics" => match self.node.get() {
                Some(node) => metrics(node.metrics.encode()),
                None => metrics("# TYPE credshare_ready gauge\ncredshare_ready 0\n# EOF\n".into()),
            },
            _ => text(
                StatusCode::NOT_FOUND,
                "/metrics, /livez or /readyz\n".into(),
            ),
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn metrics(body: String) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::OK, body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    response
}

/// Serves HTTP/1.1 on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, state: Arc<ProbeState>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "metrics listener: accept failed");
                // Out of file descriptors, say: do not spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let response = state.respond(&req);
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "metrics listener: connection ended");
            }
        });
    }
}
