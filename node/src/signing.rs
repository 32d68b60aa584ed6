//! DSSE signing.
