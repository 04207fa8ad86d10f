//! Tests of the API layer.
#![expect(clippy::unwrap_used)]
