//! Who may hold a connection slot while the accept loop works: a total cap
//! and a per-IP cap on open connections (pending and established), and the
//! once-per-interval log of refused or failed handshakes (a port scan or a
//! flood of probes costs one WARN line per interval, with a count).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limits of one listener's accept loop.
#[derive(Debug, Clone)]
pub struct AcceptLimits {
    /// Open connections at once, all clients.
    pub max_connections: usize,
    /// Open connections at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Longest wait for a client's first byte; no handshake slot is held
    /// meanwhile.
    pub first_byte_timeout: Duration,
    /// Longest a TLS handshake may take once it started.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once.
    pub max_pending_handshakes: usize,
    /// At most one WARN line per this interval about failed handshakes.
    pub failure_log_interval: Duration,
    /// An authenticated connection without any open stream this long is
    /// closed.
    pub idle_timeout: Duration,
}

/// The connection caps of one listener.
#[derive(Debug)]
pub struct Admission {
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
}

/// One admitted connection's place; freed on drop.
#[derive(Debug)]
pub struct Slot {
    _total: OwnedSemaphorePermit,
    ip: IpAddr,
    admission: Arc<Admission>,
}

impl Admission {
    pub fn new(limits: &AcceptLimits) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip: limits.max_connections_per_ip,
        })
    }

    /// A slot for a connection from `ip`, or why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "connection limit reached")?;
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let open = per_ip.entry(ip).or_insert(0);
        if *open >= self.max_per_ip {
            return Err("per-address connection limit reached");
        }
        *open += 1;
        Ok(Slot {
            _total: total,
            ip,
            admission: self.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_ip = self
            .admission
            .per_ip
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(open) = per_ip.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Failed or refused connections, logged at most once per interval.
#[derive(Debug)]
pub struct FailureLog {
    listener: &'static str,
    interval: Duration,
    state: Mutex<(u64, Option<Instant>)>,
}

impl FailureLog {
    pub fn new(listener: &'static str, interval: Duration) -> Self {
        Self {
            listener,
            interval,
            state: Mutex::new((0, None)),
        }
    }

    /// Counts one failure; logs the count (with this failure as the
    /// example) when the interval since the last line has passed.
    pub fn record(&self, remote: std::net::SocketAddr, reason: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        let due = state.1.is_none_or(|last| last.elapsed() >= self.interval);
        if due {
            let count = std::mem::take(&mut state.0);
            state.1 = Some(Instant::now());
            drop(state);
            tracing::warn!(
                listener = self.listener,
                failed = count,
                example_remote = %remote,
                example = %reason.escape_debug(),
                "TLS handshake refused: connections failed or refused before authentication, counted since the last such line"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> AcceptLimits {
        AcceptLimits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            first_byte_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            max_pending_handshakes: 1,
            failure_log_interval: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn caps_per_ip_and_in_total_are_freed_on_drop() {
        let a = Admission::new(&limits(3, 2));
        let one: IpAddr = "127.0.0.2".parse().unwrap();
        let two: IpAddr = "127.0.0.1".parse().unwrap();
        let s1 = a.admit(one).unwrap();
        let _s2 = a.admit(one).unwrap();
        assert!(a.admit(one).is_err(), "per-IP cap");
        let _s3 = a.admit(two).unwrap();
        assert!(a.admit(two).is_err(), "total cap");
        drop(s1);
        assert!(a.admit(one).is_ok());
    }
}
