//! deploy/ as written: every YAML file parses, every Kubernetes manifest has
//! an apiVersion and kind, the PrometheusRule carries the same alert groups
//! as deploy/prometheus-alerts.yml, the Grafana dashboard is JSON, the
//! ConfigMap sets log.origin and probes use /readyz and /livez; and when
//! `kubectl` is installed, both kustomizations render (skipped with a
//! message otherwise).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

fn load(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_manifest_parses_and_says_what_it_is() {
    let mut files = Vec::new();
    yaml_files(&deploy(), &mut files);
    assert!(files.len() >= 12, "{files:?}");
    for file in &files {
        let docs = load(file);
        assert!(!docs.is_empty(), "{} is empty", file.display());
        if file.components().any(|c| c.as_os_str() == "kubernetes") {
            for doc in docs.iter().filter(|d| !d.is_null()) {
                assert!(
                    doc["apiVersion"].as_str().is_some(),
                    "{}: no apiVersion",
                    file.display()
                );
                assert!(
                    doc["kind"].as_str().is_some(),
                    "{}: no kind",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn alerts_dashboard_probes_and_origin_agree() {
    let d = deploy();
    let alerts = load(&d.join("prometheus-alerts.yml")).remove(0);
    let rule = load(&d.join("kubernetes/monitoring/prometheusrule.yaml")).remove(0);
    assert_eq!(
        rule["spec"]["groups"], alerts["groups"],
        "PrometheusRule differs from prometheus-alerts.yml"
    );
    let dashboard = std::fs::read(d.join("grafana/credshare-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_slice(&dashboard).unwrap();
    assert!(dashboard["panels"].as_array().unwrap().len() >= 10);

    let set = load(&d.join("kubernetes/statefulset.yaml")).remove(0);
    let node = &set["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        node["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        node["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/livez")
    );
    let pdb = load(&d.join("kubernetes/poddisruptionbudget.yaml")).remove(0);
    assert_eq!(
        pdb["spec"]["maxUnavailable"].as_i64(),
        Some(1),
        "a PDB of 0 blocks drains"
    );
    let config = load(&d.join("kubernetes/configmap.yaml")).remove(0);
    let toml = config["data"]["node.toml"].as_str().unwrap();
    assert!(
        toml.lines()
            .any(|l| l.trim_start().starts_with("origin = ")),
        "log.origin unset"
    );
    assert!(toml.contains("metrics = \"0.0.0.0:9464\""));
    let compose = std::fs::read_to_string(d.join("compose.yaml")).unwrap();
    assert!(compose.contains("GET /readyz"));
    let unit = std::fs::read_to_string(d.join("systemd/credshare-node.service")).unwrap();
    assert!(unit.contains("/readyz"));
}

#[test]
fn discovery_manifests_configure_the_service_and_its_key() {
    let d = deploy().join("kubernetes/discovery");
    let config = load(&d.join("configmap.yaml")).remove(0);
    let toml = config["data"]["discovery.toml"].as_str().unwrap();
    let discovery = toml.split("[discovery]").nth(1).expect("[discovery]");
    assert!(
        discovery.contains("listen = \"0.0.0.0:7450\""),
        "{discovery}"
    );
    assert!(
        discovery.contains("key_file = \"/etc/credshare/oprf/oprf.key\""),
        "{discovery}"
    );
    assert!(
        toml.lines()
            .any(|l| l.trim_start().starts_with("origin = ")),
        "log.origin unset"
    );
    let set = load(&d.join("statefulset.yaml")).remove(0);
    let pod = &set["spec"]["template"]["spec"];
    let node = &pod["containers"][0];
    assert_eq!(set["spec"]["replicas"].as_i64(), Some(1));
    assert_eq!(
        node["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    let ports: Vec<i64> = node["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert!(ports.contains(&7450), "{ports:?}");
    // The key reaches the service as a 0600 file (it refuses group-readable ones).
    let init = pod["initContainers"][0]["command"].as_vec().unwrap();
    let init: Vec<&str> = init.iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(&init[..3], ["/usr/bin/install", "-m", "0600"]);
    assert_eq!(init[4], "/etc/credshare/oprf/oprf.key");
}

#[test]
fn kustomizations_render_when_kubectl_is_installed() {
    let d = deploy();
    for dir in [
        "kubernetes",
        "kubernetes/monitoring",
        "kubernetes/discovery",
    ] {
        let out = match Command::new("kubectl")
            .arg("kustomize")
            .arg(d.join(dir))
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                eprintln!("SKIPPED: kubectl is not installed ({e}); cannot render deploy/{dir}");
                return;
            }
        };
        assert!(
            out.status.success(),
            "kubectl kustomize deploy/{dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = YamlLoader::load_from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert!(
            rendered.len() >= 2,
            "deploy/{dir} rendered {} objects",
            rendered.len()
        );
    }
}
