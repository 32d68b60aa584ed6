use super::*;
use crate::domain::borrower::KeyGeneration;

fn sample(dir: &Path) -> String {
    for f in [
        "secret",
        "ca.crt",
        "node.crt",
        "node.key",
        "signer.crt",
        "signer.key",
    ] {
        std::fs::write(dir.join(f), b"x").unwrap();
    }
    let d = dir.display();
    format!(
        r#"
institution = "BANK-A"
data_dir = "{d}/data"
consortium_secret_file = "{d}/secret"
[listen]
peer = "127.0.0.1:7443"
admin = "127.0.0.1:7444"
[tls]
ca_cert = "{d}/ca.crt"
cert = "{d}/node.crt"
key = "{d}/node.key"
[signer]
cert = "{d}/signer.crt"
key = "{d}/signer.key"
[[peers]]
institution = "BANK-B"
address = "127.0.0.1:8443"
"#
    )
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

/// The error a config that must be refused is refused with, as text.
fn refusal(text: &str, env: Vec<(String, String)>) -> String {
    NodeConfig::from_toml(text, "t", env)
        .unwrap_err()
        .to_string()
}

#[test]
fn valid_config_loads_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let c = NodeConfig::from_toml(&sample(dir.path()), "t", no_env()).unwrap();
    assert_eq!(c.institution.as_str(), "BANK-A");
    assert_eq!(c.storage.cache_capacity_mb, 64);
    assert_eq!(c.log_origin(), "credshare.example/BANK-A/query-log");
}

#[test]
fn env_overrides_apply_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        (
            "CREDSHARE_LISTEN__PEER".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        ("CREDSHARE_STORAGE__CACHE_CAPACITY_MB".into(), "128".into()),
        ("CREDSHARE_LOG__FORMAT".into(), "json".into()),
        ("CREDSHARE_CONFIG".into(), "ignored".into()),
        ("CREDSHARE_CERTS".into(), "ignored".into()),
        ("CREDSHARE_PEER_SERVICE_HOST".into(), "ignored".into()),
        ("OTHER".into(), "ignored".into()),
    ];
    let c = NodeConfig::from_toml(&sample(dir.path()), "t", env).unwrap();
    assert_eq!(c.listen.peer.port(), 0);
    assert_eq!(c.storage.cache_capacity_mb, 128);
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample(dir.path());
    let cases = [
        (base.replace("BANK-A", "bank a"), "institution"),
        (base.replace("7443", "notaport"), "listen.peer"),
        (
            base.replace("/secret", "/missing"),
            "consortium_secret_file",
        ),
        (
            format!("{base}\n[storage]\ncache_capacity_mb = 0\n"),
            "storage.cache_capacity_mb",
        ),
        (
            base.replace("\"BANK-B\"", "\"BANK-A\""),
            "peers[0].institution",
        ),
        (format!("{base}\nbogus = 1\n"), "bogus"),
    ];
    for (text, key) in cases {
        let err = refusal(&text, no_env());
        assert!(err.contains(key), "{err:?} should name {key}");
    }
}

#[test]
fn bad_env_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("CREDSHARE_STORAGE__MAX_BATCH".to_string(), "0".to_string())];
    let err = NodeConfig::from_toml(&sample(dir.path()), "t", env).unwrap_err();
    assert!(err.to_string().contains("storage.max_batch"), "{err}");
}

#[test]
fn zone_rates_and_schedule_come_from_config_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let c = NodeConfig::from_toml(&sample(dir.path()), "t", no_env()).unwrap();
    assert_eq!(c.business_time_zone.name(), "Asia/Shanghai");
    assert_eq!(c.assessment.base_currency, "CNY");
    let env = vec![
        (
            "CREDSHARE_BUSINESS_TIME_ZONE".to_string(),
            "UTC".to_string(),
        ),
        (
            "CREDSHARE_ASSESSMENT__RATES".into(),
            r#"{ USD = "7.1000" }"#.into(),
        ),
        (
            "CREDSHARE_ASSESSMENT__RATES_AS_OF".into(),
            "2026-11-30".into(),
        ),
        (
            "CREDSHARE_VISITS__WRITTEN_OFF_INTERVAL_DAYS".into(),
            "0".into(),
        ),
    ];
    let c = NodeConfig::from_toml(&sample(dir.path()), "t", env).unwrap();
    assert_eq!(c.business_time_zone.name(), "UTC");
    assert_eq!(c.assessment.rates["USD"], "7.1000");
    assert_eq!(c.assessment.rates_as_of, "2026-11-30");
    assert_eq!(c.visits.written_off_interval_days, 0);
}

#[test]
fn bad_zone_rates_and_schedule_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample(dir.path());
    let cases = [
        (
            "CREDSHARE_BUSINESS_TIME_ZONE",
            "Mars/Olympus",
            "business_time_zone",
        ),
        (
            "CREDSHARE_VISITS__FIRST_VISIT_DAYS",
            "0",
            "visits.first_visit_days",
        ),
        (
            "CREDSHARE_VISITS__NORMAL_INTERVAL_DAYS",
            "4000",
            "visits.normal_interval_days",
        ),
        (
            "CREDSHARE_VISITS__FOCUSED_VISIT_CHANNELS",
            r#"["TELEPATHY"]"#,
            "visits.focused_visit_channels",
        ),
        (
            "CREDSHARE_ASSESSMENT__RATES",
            r#"{ USD = "seven" }"#,
            "assessment.rates",
        ),
        (
            "CREDSHARE_ASSESSMENT__BASE_CURRENCY",
            "RMB",
            "assessment.base_currency",
        ),
    ];
    for (var, value, key) in cases {
        let env = vec![(var.to_string(), value.to_string())];
        let err = refusal(&base, env);
        assert!(
            err.contains(key),
            "{var}={value}: {err:?} should name {key}"
        );
    }
}

#[test]
fn unknown_config_variables_stop_the_node_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample(dir.path());
    let cases = [
        ("CREDSHARE_LISTEN_PEER", "CREDSHARE_LISTEN__PEER"),
        ("CREDSHARE_LISTN__PEER", "unknown config section `listn`"),
        (
            "CREDSHARE_LISTEN__PEERS",
            "unknown config key `listen.peers`",
        ),
        (
            "CREDSHARE_POLICY__MAX_SCOPES",
            "unknown config key `policy.max_scopes`",
        ),
        ("CREDSHARE_LOG", "is a section"),
        ("CREDSHARE_INSTITUTION__X", "is a key, not a section"),
    ];
    for (var, says) in cases {
        let env = vec![(var.to_string(), "x".to_string())];
        let err = refusal(&base, env);
        assert!(err.contains(var), "{var}: {err:?} should name it");
        assert!(err.contains(says), "{var}: {err:?} should say {says:?}");
    }
}

#[test]
fn cli_and_harness_variables_are_not_config_keys() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        "CERTS",
        "SECRET",
        "CRL",
        "ADMIN_ADDR",
        "CONFIG",
        "PEER_SERVICE_HOST",
    ]
    .map(|v| (format!("CREDSHARE_{v}"), "x".to_string()));
    NodeConfig::from_toml(&sample(dir.path()), "t", env).unwrap();
}

#[test]
fn buffer_limits_and_idle_timeout_are_checked_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample(dir.path());
    let c = NodeConfig::from_toml(&base, "t", no_env()).unwrap();
    assert_eq!(c.network.idle_timeout_seconds, 300);
    assert_eq!(c.network.max_buffered_bytes_per_connection, 16 << 20);
    assert_eq!(c.network.max_buffered_bytes, 256 << 20);
    let cases = [
        (
            "[network]\nmax_buffered_bytes_per_connection = 1048576\n",
            "network.max_buffered_bytes_per_connection",
            "limits.max_message_bytes (4194304)",
        ),
        (
            "[network]\nmax_buffered_bytes = 8388608\n",
            "network.max_buffered_bytes",
            "at least network.max_buffered_bytes_per_connection",
        ),
        (
            "[network]\ninitial_stream_window_bytes = 100\n",
            "network.initial_stream_window_bytes",
            "65535..=2147483647",
        ),
        (
            "[network]\ninitial_connection_window_bytes = 4294967295\n",
            "network.initial_connection_window_bytes",
            "65535..=2147483647",
        ),
        (
            "[network]\nidle_timeout_seconds = 0\n",
            "network.idle_timeout_seconds",
            "at least 1",
        ),
    ];
    for (section, key, message) in cases {
        let err = refusal(&format!("{base}\n{section}"), no_env());
        assert!(
            err.contains(key) && err.contains(message),
            "{err:?} should name {key}: {message}"
        );
    }
}

#[test]
fn the_discovery_section_loads_and_names_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("oprf.key"), b"x").unwrap();
    let key = dir.path().join("oprf.key").display().to_string();
    let env = |extra: &[(&str, &str)]| {
        let mut v = vec![
            (
                "CREDSHARE_DISCOVERY__LISTEN".to_owned(),
                "127.0.0.1:7450".to_owned(),
            ),
            ("CREDSHARE_DISCOVERY__KEY_FILE".to_owned(), key.clone()),
        ];
        v.retain(|(var, _)| !extra.iter().any(|(k, _)| var.ends_with(&format!("__{k}"))));
        v.extend(
            extra
                .iter()
                .map(|(k, x)| (format!("CREDSHARE_DISCOVERY__{k}"), (*x).to_owned())),
        );
        v
    };
    let base = sample(dir.path());
    let c = NodeConfig::from_toml(&base, "t", env(&[("PORTFOLIOS", "{BANK-B = 7}")])).unwrap();
    let d = c.discovery.expect("a discovery section");
    assert_eq!((d.portfolio("BANK-B"), d.portfolio("BANK-C")), (7, 0));
    assert_eq!(
        (d.window_seconds, d.receipt_ttl_seconds, d.enrolment_factor),
        (86_400, 300, 2)
    );
    assert!(
        NodeConfig::from_toml(&base, "t", no_env())
            .unwrap()
            .discovery
            .is_none()
    );
    let cases = [
        (
            vec![("PURPOSE_BUDGETS", "{bogus = 1}")],
            "discovery.purpose_budgets.bogus",
        ),
        (vec![("WINDOW_SECONDS", "5")], "discovery.window_seconds"),
        (
            vec![("RECEIPT_TTL_SECONDS", "0")],
            "discovery.receipt_ttl_seconds",
        ),
        (
            vec![("KEY_FILE", "/nonexistent/oprf.key")],
            "discovery.key_file",
        ),
    ];
    for (extra, key) in cases {
        let err = refusal(&base, env(&extra));
        assert!(err.contains(key), "{err:?} should name {key}");
    }
}

#[test]
fn witness_settings_have_defaults_bounds_and_a_quorum_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample(dir.path());
    let c = NodeConfig::from_toml(&base, "t", no_env()).unwrap();
    assert_eq!(c.witness.submit_interval_ms, 1000);
    assert!(c.witness.submit);
    assert_eq!(
        [1, 2, 3, 10].map(|n| c.witness.quorum_for(n)),
        [0, 0, 1, 1],
        "1 from three members on"
    );
    let env = vec![("CREDSHARE_WITNESS__QUORUM".to_owned(), "2".to_owned())];
    let c = NodeConfig::from_toml(&base, "t", env).unwrap();
    assert_eq!(c.witness.quorum_for(3), 2);
    for (section, key) in [
        (
            "[witness]\nsubmit_interval_ms = 49\n",
            "witness.submit_interval_ms",
        ),
        (
            "[witness]\nsubmit_interval_ms = 3600001\n",
            "witness.submit_interval_ms",
        ),
        ("[witness]\nquorum = 101\n", "witness.quorum"),
    ] {
        let err = refusal(&format!("{base}\n{section}"), no_env());
        assert!(err.contains(key), "{err:?} should name {key}");
    }
}

#[test]
fn generation_one_needs_the_consortium_secret_and_an_oprf_generation_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample(dir.path());
    let c = NodeConfig::from_toml(&base, "t", no_env()).unwrap();
    assert_eq!(c.borrower_keys.generation, KeyGeneration::HMAC);
    let no_secret: String = base
        .lines()
        .filter(|l| !l.starts_with("consortium_secret_file"))
        .collect::<Vec<_>>()
        .join("\n");
    let err = refusal(&no_secret, no_env());
    assert!(err.contains("consortium_secret_file"), "{err}");
    assert!(err.contains("generation 1"), "{err}");
    let env = vec![("CREDSHARE_BORROWER_KEYS__GENERATION".into(), "2".into())];
    let c = NodeConfig::from_toml(&no_secret, "t", env).unwrap();
    assert_eq!(c.borrower_keys.generation, KeyGeneration::FIRST_OPRF);
    assert!(c.consortium_secret_file.is_none());
    let zero = format!("{no_secret}\n[borrower_keys]\ngeneration = 0\n");
    let err = refusal(&zero, no_env());
    assert!(err.contains("at least 1"), "{err}");
}
