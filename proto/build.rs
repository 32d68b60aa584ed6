//! Compiles `credshare/v1/*.proto` with protox (pure Rust), so a fresh
//! machine needs no system `protoc`.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "credshare/v1/records.proto",
    "credshare/v1/consent.proto",
    "credshare/v1/log.proto",
    "credshare/v1/assessment.proto",
    "credshare/v1/membership.proto",
    "credshare/v1/peer.proto",
    "credshare/v1/admin.proto",
    "credshare/v1/audit.proto",
    "credshare/v1/discovery.proto",
    "credshare/v1/witness.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Reflection serves this descriptor set.
    std::fs::write(out.join("credshare_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
