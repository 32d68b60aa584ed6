//! The bench's figures: what was measured, and the same quantities for
//! today's fan-out to every member, computed from measured unit costs (the
//! bytes of a holder's and a non-holder's answer, the bytes of a log entry
//! on a real node). Per-million figures scale the measured rates.

use serde::Serialize;

use super::assess::Assessed;
use super::enrol::Enrolment;
use super::population::{Population, REAL};
use crate::commands::bench::quantile;

const MILLION: f64 = 1e6;

/// Log entries and data-directory bytes added during the assessments: the
/// service's, then each real holder's.
pub(super) struct LogGrowth {
    pub service: (u64, u64),
    pub holders: Vec<(u64, u64)>,
}

impl LogGrowth {
    /// The difference of two [`super::growth_marks`].
    pub(super) fn between(before: &[(u64, u64)], after: &[(u64, u64)]) -> Self {
        let mut deltas = before
            .iter()
            .zip(after)
            .map(|(b, a)| (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1)));
        let service = deltas.next().unwrap_or_default();
        Self {
            service,
            holders: deltas.collect(),
        }
    }
}

/// Entries and bytes per million assessments.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct PerMillion {
    pub entries: f64,
    pub bytes: f64,
}

impl PerMillion {
    /// "2.00 M, 1.12 GB".
    fn text(&self) -> String {
        format!("{}, {}", count(self.entries), bytes(self.bytes))
    }
}

/// A real holder's measured log growth: the entries it logged as a
/// holder (the bench sends the requesters' queries itself, so no
/// requester node logs an outgoing entry), at the three nodes' pooled
/// bytes per entry.
#[derive(Debug, Clone, Serialize)]
pub(super) struct NodeGrowth {
    pub institution: String,
    pub entries: u64,
    pub per_million: PerMillion,
}

/// Targeted assessment, measured.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Targeted {
    pub assessments: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Members queried per assessment (holders other than the requester).
    pub queried_per_assessment: f64,
    pub no_holder_share: f64,
    pub discovery_bytes_per_assessment: f64,
    /// Real holders' answers measured; simulated ones at the same mean.
    pub query_bytes_per_assessment: f64,
    pub bytes_per_assessment: f64,
    pub service_cpu_ms_per_assessment: f64,
    pub discovery_log_entries_per_assessment: f64,
    pub discovery_log: PerMillion,
    /// Mean over all members: each query is one entry at the holder and
    /// one at the requester.
    pub node_log_mean: PerMillion,
    pub real_nodes: Vec<NodeGrowth>,
}

/// Today's fan-out to every member, computed.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FanOut {
    pub queried_per_assessment: f64,
    pub non_holder_answer_bytes: f64,
    pub holder_answer_bytes: f64,
    pub bytes_per_assessment: f64,
    pub node_log_mean: PerMillion,
    pub all_logs_entries_per_million: f64,
}

/// Every figure of a run.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Figures {
    pub bench: &'static str,
    pub members: usize,
    pub lending_members: usize,
    pub borrowers: usize,
    pub relationships: u64,
    pub enrolment: Enrolment,
    pub enrolment_pseudonyms_per_second: f64,
    pub enrolment_bytes_per_pseudonym: f64,
    pub enrolment_service_cpu_us_per_pseudonym: f64,
    /// Bytes a log entry adds to a real node's data directory.
    pub node_bytes_per_entry: f64,
    pub discovery_bytes_per_entry: f64,
    pub targeted: Targeted,
    pub fan_out: FanOut,
}

/// The measured unit costs the per-million and fan-out figures scale.
struct Units {
    /// Assessments measured.
    m: f64,
    members: f64,
    /// Members queried per assessment (holders other than the requester).
    queried: f64,
    holder_answer_bytes: f64,
    node_bytes_per_entry: f64,
    discovery_bytes_per_entry: f64,
}

impl Units {
    fn new(population: &Population, a: &Assessed, growth: &LogGrowth) -> Self {
        let m = a.assessments.max(1) as f64;
        let (entries, bytes) = growth
            .holders
            .iter()
            .fold((0, 0), |(e, b), (de, db)| (e + de, b + db));
        Self {
            m,
            members: population.members.len() as f64,
            queried: (a.real_queries + a.simulated_queries) as f64 / m,
            holder_answer_bytes: a.real_query_bytes as f64 / a.real_queries.max(1) as f64,
            node_bytes_per_entry: bytes as f64 / entries.max(1) as f64,
            discovery_bytes_per_entry: growth.service.1 as f64 / growth.service.0.max(1) as f64,
        }
    }
}

fn per_million(entries_per_assessment: f64, bytes_per_entry: f64) -> PerMillion {
    PerMillion {
        entries: entries_per_assessment * MILLION,
        bytes: entries_per_assessment * MILLION * bytes_per_entry,
    }
}

impl Targeted {
    fn new(a: &Assessed, growth: &LogGrowth, u: &Units) -> Self {
        let m = u.m;
        let query_bytes = u.queried * u.holder_answer_bytes;
        let discovery_entries = growth.service.0 as f64 / m;
        Self {
            assessments: a.assessments,
            per_second: m / a.seconds.max(1e-9),
            p50_ms: quantile(&a.latencies_us, 0.5) as f64 / 1000.0,
            p99_ms: quantile(&a.latencies_us, 0.99) as f64 / 1000.0,
            queried_per_assessment: u.queried,
            no_holder_share: a.no_holder as f64 / m,
            discovery_bytes_per_assessment: a.discovery_bytes as f64 / m,
            query_bytes_per_assessment: query_bytes,
            bytes_per_assessment: a.discovery_bytes as f64 / m + query_bytes,
            service_cpu_ms_per_assessment: a.service_cpu_seconds * 1000.0 / m,
            discovery_log_entries_per_assessment: discovery_entries,
            discovery_log: per_million(discovery_entries, u.discovery_bytes_per_entry),
            node_log_mean: per_million(2.0 * u.queried / u.members, u.node_bytes_per_entry),
            real_nodes: REAL
                .iter()
                .zip(&growth.holders)
                .map(|(inst, (entries, _))| NodeGrowth {
                    institution: (*inst).to_owned(),
                    entries: *entries,
                    // One node's data directory grows in steps of sled's
                    // segments: its bytes use the pooled bytes per entry.
                    per_million: per_million(*entries as f64 / m, u.node_bytes_per_entry),
                })
                .collect(),
        }
    }
}

impl FanOut {
    /// Every other member asked: the holders answer as measured, the rest
    /// as the measured non-holder; each query one entry at both ends.
    fn new(u: &Units, non_holder_answer_bytes: f64) -> Self {
        let others = u.members - 1.0;
        Self {
            queried_per_assessment: others,
            non_holder_answer_bytes,
            holder_answer_bytes: u.holder_answer_bytes,
            bytes_per_assessment: u.queried * u.holder_answer_bytes
                + (others - u.queried) * non_holder_answer_bytes,
            node_log_mean: per_million(2.0 * others / u.members, u.node_bytes_per_entry),
            all_logs_entries_per_million: 2.0 * others * MILLION,
        }
    }
}

impl Figures {
    pub(super) fn new(
        population: &Population,
        enrolment: Enrolment,
        a: &Assessed,
        growth: LogGrowth,
        non_holder_answer_bytes: f64,
    ) -> Self {
        let u = Units::new(population, a, &growth);
        let elements = enrolment.elements.max(1) as f64;
        Self {
            bench: "discovery",
            members: population.members.len(),
            lending_members: population.lending_members(),
            borrowers: population.borrowers.len(),
            relationships: population.relationships(),
            enrolment_pseudonyms_per_second: elements / enrolment.seconds.max(1e-9),
            enrolment_bytes_per_pseudonym: enrolment.bytes as f64 / elements,
            enrolment_service_cpu_us_per_pseudonym: enrolment.service_cpu_seconds * 1e6 / elements,
            enrolment,
            node_bytes_per_entry: u.node_bytes_per_entry,
            discovery_bytes_per_entry: u.discovery_bytes_per_entry,
            targeted: Targeted::new(a, &growth, &u),
            fan_out: FanOut::new(&u, non_holder_answer_bytes),
        }
    }

    /// The figures for people.
    pub(super) fn text(&self) -> String {
        let t = &self.targeted;
        let mut s = format!(
            "\ncredshare bench discovery: {} members ({} lending; 3 real nodes), {} borrowers, {} lending relationships\n",
            self.members, self.lending_members, self.borrowers, self.relationships
        );
        s.push_str(&format!(
            "  enrolment: {} pseudonyms by {} members in {:.1} s ({:.0}/s), {:.0} bytes and {:.0} µs of service CPU per pseudonym\n",
            self.enrolment.elements,
            self.enrolment.members,
            self.enrolment.seconds,
            self.enrolment_pseudonyms_per_second,
            self.enrolment_bytes_per_pseudonym,
            self.enrolment_service_cpu_us_per_pseudonym
        ));
        s.push_str(&format!(
            "  {} targeted assessments: {:.0}/s; holders queried per assessment {:.2}; no holder {:.1} %\n",
            t.assessments,
            t.per_second,
            t.queried_per_assessment,
            t.no_holder_share * 100.0
        ));
        s.push_str(&format!(
            "  {:<44} {:>18} {:>18}\n",
            "per assessment / per million assessments", "targeted", "fan-out to all"
        ));
        for (name, targeted, fan_out) in self.rows() {
            s.push_str(&format!("  {name:<44} {targeted:>18} {fan_out:>18}\n"));
        }
        for n in &t.real_nodes {
            s.push_str(&format!(
                "  real node {:<8} logged {:>6} entries as a holder: {} entries, {} per million assessments\n",
                n.institution,
                n.entries,
                count(n.per_million.entries),
                bytes(n.per_million.bytes)
            ));
        }
        s.push_str(&format!(
            "  bytes: protobuf + gRPC frame, both ways (no TLS/HTTP/2); log bytes: data-directory growth per entry (nodes {:.0}, service {:.0})\n",
            self.node_bytes_per_entry, self.discovery_bytes_per_entry
        ));
        s
    }

    fn rows(&self) -> Vec<(&'static str, String, String)> {
        let (t, f) = (&self.targeted, &self.fan_out);
        vec![
            (
                "members queried",
                format!("{:.2}", t.queried_per_assessment),
                format!("{:.0}", f.queried_per_assessment),
            ),
            (
                "latency p50 / p99",
                format!("{:.1} / {:.1} ms", t.p50_ms, t.p99_ms),
                "not measured".into(),
            ),
            (
                "bytes on the wire (discovery + queries)",
                format!(
                    "{} + {}",
                    bytes(t.discovery_bytes_per_assessment),
                    bytes(t.query_bytes_per_assessment)
                ),
                bytes(f.bytes_per_assessment),
            ),
            (
                "discovery service CPU",
                format!("{:.2} ms", t.service_cpu_ms_per_assessment),
                "-".into(),
            ),
            (
                "discovery log, per million",
                t.discovery_log.text(),
                "-".into(),
            ),
            (
                "each node's log (mean), per million",
                t.node_log_mean.text(),
                f.node_log_mean.text(),
            ),
            (
                "entries in all members' logs, per million",
                count(2.0 * t.queried_per_assessment * MILLION),
                count(f.all_logs_entries_per_million),
            ),
        ]
    }
}

/// A count in k, M or G.
fn count(n: f64) -> String {
    scaled(n, "")
}

/// A size in kB, MB or GB.
fn bytes(n: f64) -> String {
    scaled(n, "B")
}

/// `n` with a decimal prefix before `unit` ("1.25 M", "3.4 kB", "12 B").
fn scaled(n: f64, unit: &str) -> String {
    let (value, prefix, places) = match n {
        n if n >= 1e9 => (n / 1e9, "G", 2),
        n if n >= 1e6 => (n / 1e6, "M", 2),
        n if n >= 1e3 => (n / 1e3, "k", 1),
        n => (n, "", 0),
    };
    let text = format!("{value:.places$} {prefix}{unit}");
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::{bytes, count};

    #[test]
    fn counts_and_sizes_take_a_decimal_prefix() {
        assert_eq!(count(12.0), "12");
        assert_eq!(count(3_400.0), "3.4 k");
        assert_eq!(count(2_500_000.0), "2.50 M");
        assert_eq!(count(1e9), "1.00 G");
        assert_eq!(bytes(12.0), "12 B");
        assert_eq!(bytes(3_400.0), "3.4 kB");
        assert_eq!(bytes(2_500_000.0), "2.50 MB");
        assert_eq!(bytes(1.5e9), "1.50 GB");
    }
}
