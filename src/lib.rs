
pub mod gcp;
