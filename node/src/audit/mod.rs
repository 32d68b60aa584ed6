//! audit (filled in below).
