//! One measured phase of a bench: client loops run until told to stop, and
//! their counts and latencies are gathered into [`Phase`] figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::quantile;

/// Figures of one phase.
pub(super) struct Phase {
    pub(super) ok: u64,
    pub(super) errors: u64,
    pub(super) seconds: f64,
    latencies_us: Vec<u64>,
}

impl Phase {
    pub(super) fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    pub(super) fn pct(&self, p: f64) -> f64 {
        quantile(&self.latencies_us, p) as f64 / 1000.0
    }
}

/// Lets `workers` (each returning its successes, errors and latencies in
/// µs) run for `duration`, raises `stop`, and sums what they measured since
/// `started`.
pub(super) async fn finish_phase(
    workers: Vec<JoinHandle<(u64, u64, Vec<u64>)>>,
    stop: Arc<AtomicBool>,
    started: Instant,
    duration: Duration,
) -> Phase {
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut phase = Phase {
        ok: 0,
        errors: 0,
        seconds: 0.0,
        latencies_us: Vec::new(),
    };
    for w in workers {
        if let Ok((ok, errors, lat)) = w.await {
            phase.ok += ok;
            phase.errors += errors;
            phase.latencies_us.extend(lat);
        }
    }
    phase.seconds = started.elapsed().as_secs_f64();
    phase.latencies_us.sort_unstable();
    phase
}
