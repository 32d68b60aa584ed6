//! domain (filled in below).
