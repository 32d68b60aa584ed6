//! federation (filled in below).
