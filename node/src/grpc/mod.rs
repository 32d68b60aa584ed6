//! grpc (filled in below).
