use super::*;

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

#[test]
fn valid_config_loads_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let c = NodeConfig::from_toml(&sample(dir.path()), "t", no_env()).unwrap();
    assert_eq!(c.institution.as_str(), "BANK-A");
    assert_eq!(c.storage.cache_capacity_mb, 256);
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
        ("CREDSHARE_STORAGE__CACHE_CAPACITY_MB".into(), "64".into()),
        ("CREDSHARE_LOG__FORMAT".into(), "json".into()),
        ("CREDSHARE_CONFIG".into(), "ignored".into()),
        ("CREDSHARE_CERTS".into(), "ignored".into()),
        ("CREDSHARE_PEER_SERVICE_HOST".into(), "ignored".into()),
        ("OTHER".into(), "ignored".into()),
    ];
    let c = NodeConfig::from_toml(&sample(dir.path()), "t", env).unwrap();
    assert_eq!(c.listen.peer.port(), 0);
    assert_eq!(c.storage.cache_capacity_mb, 64);
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
        let err = NodeConfig::from_toml(&text, "t", no_env())
            .unwrap_err()
            .to_string();
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
