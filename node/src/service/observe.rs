//! The metrics gauges, refreshed on a timer so that a scrape never scans
//! the store: store figures and free space, the revocation outbox, peer
//! reachability, certificate, CRL and manifest expiry, readiness.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::Node;
use super::health::certificate_expiries;
use crate::blocking;
use crate::metrics::{CertLabels, IssuerLabel, PeerLabel};

/// How often the gauges are refreshed.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(15);
/// How often the store figures (record, borrower and consent counts, the
/// store's size on disk) are refreshed. The record counts are kept by the
/// writer, but consents are counted by a scan of their keys, which at every
/// refresh would keep a scan running beside the node's own work. The log
/// size, outbox, free space, peers and trust are refreshed every
/// [`REFRESH_INTERVAL`].
pub const FIGURES_INTERVAL: Duration = Duration::from_secs(300);

/// What one refresh read from the store.
struct Stored {
    figures: Option<crate::storage::StoreFigures>,
    log_size: u64,
    outbox: Vec<crate::storage::OutboxItem>,
    free: Option<u64>,
}

impl Node {
    /// Sets every gauge from the store (with its figures), the peers and
    /// the trust in force.
    pub async fn refresh_metrics(&self) {
        self.refresh(true).await;
    }

    /// Sets the gauges; reads the store figures only with `figures`.
    async fn refresh(&self, figures: bool) {
        let store = self.store.clone();
        let dir = self.config.data_dir.clone();
        let stored = blocking::run(move || {
            let figures = figures.then(|| store.figures()).transpose()?;
            Ok::<_, crate::storage::StorageError>(Stored {
                figures,
                log_size: store.log_size()?,
                outbox: store.outbox()?,
                free: fs2::available_space(&dir).ok(),
            })
        });
        let (stored, peers) = tokio::join!(stored, self.federation.health());
        match stored {
            Ok(stored) => self.set_store_gauges(stored),
            Err(e) => tracing::warn!(error = %e, "metrics: store figures unavailable"),
        }
        match self.witness_evidence().await {
            Ok((_, entries)) => {
                self.metrics.witness.evidence.set(entries as i64);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: witness evidence unavailable"),
        }
        self.metrics.peer_up.clear();
        for peer in peers {
            let label = PeerLabel {
                peer: peer.institution_id,
            };
            self.metrics
                .peer_up
                .get_or_create(&label)
                .set(i64::from(peer.reachable));
            if !peer.reachable {
                self.metrics.peer_check_failures.get_or_create(&label).inc();
            }
        }
        self.refresh_trust_metrics(SystemTime::now());
    }

    fn set_store_gauges(&self, stored: Stored) {
        let m = &self.metrics;
        if let Some(figures) = stored.figures {
            m.records.set(gauge(figures.record_versions));
            m.borrowers.set(gauge(figures.borrowers));
            m.consents.set(gauge(figures.consents));
            m.store_bytes.set(gauge(figures.bytes_on_disk));
        }
        m.log_entries.set(gauge(stored.log_size));
        m.free_bytes.set(stored.free.map_or(-1, gauge));
        let mut pending: HashMap<String, i64> = HashMap::new();
        for item in stored.outbox {
            *pending.entry(item.peer).or_default() += 1;
        }
        m.outbox_pending.clear();
        for (peer, n) in pending {
            m.outbox_pending.get_or_create(&PeerLabel { peer }).set(n);
        }
    }

    fn refresh_trust_metrics(&self, now: SystemTime) {
        let m = &self.metrics;
        let state = self.trust.current();
        m.certificate_expiry.clear();
        for c in certificate_expiries(&state) {
            let labels = CertLabels {
                kind: c.kind.into(),
                subject: c.subject,
            };
            m.certificate_expiry
                .get_or_create(&labels)
                .set(seconds_until(c.not_after, now));
        }
        m.crl_next_update.clear();
        for crl in &state.crls {
            if let Some(next) = crl.next_update {
                let labels = IssuerLabel {
                    issuer: crl.issuer.clone(),
                };
                m.crl_next_update
                    .get_or_create(&labels)
                    .set(seconds_until(next, now));
            }
        }
        if let Some(manifest) = self.membership.current() {
            m.membership_expiry
                .set(seconds_until(manifest.expires_at(), now));
        }
        m.ready.set(i64::from(self.readiness().is_ok()));
    }

    /// Refreshes the gauges now and every [`REFRESH_INTERVAL`] until `stop`,
    /// with the store figures now and every [`FIGURES_INTERVAL`].
    pub fn spawn_metrics_refresh(self: &Arc<Self>, mut stop: watch::Receiver<bool>) {
        let node = self.clone();
        tokio::spawn(async move {
            let mut counted: Option<std::time::Instant> = None;
            loop {
                let count = counted.is_none_or(|t| t.elapsed() >= FIGURES_INTERVAL);
                if count {
                    counted = Some(std::time::Instant::now());
                }
                node.refresh(count).await;
                tokio::select! {
                    _ = tokio::time::sleep(REFRESH_INTERVAL) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Seconds from `now` to `t`, negative when `t` has passed.
fn seconds_until(t: SystemTime, now: SystemTime) -> f64 {
    match t.duration_since(now) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}
