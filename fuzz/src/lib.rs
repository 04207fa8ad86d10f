//! The fuzz targets' bodies, as plain functions: the libFuzzer binaries in `fuzz_targets/` call
//! them, and so does the in-process corpus run of `cargo test` (`tests/integration/fuzz_corpus.rs`
//! includes `bodies.rs` directly), so both check exactly the same properties.

pub mod bodies;
