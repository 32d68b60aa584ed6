//! `credshare.v1`: the wire contract of credshare (docs/design.md §6).
//!
//! Generated at build time from `proto/credshare/v1/*.proto` by protox and
//! tonic-prost-build; no system `protoc` is needed.
#![forbid(unsafe_code)]
#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Messages and services of package `credshare.v1`.
pub mod v1 {
    tonic::include_proto!("credshare.v1");
}

/// Encoded `FileDescriptorSet` of every credshare proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("credshare_descriptor");
