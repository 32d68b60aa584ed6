//! storage (filled in below).
