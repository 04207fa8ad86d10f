//! kms-responder: investigate and respond to "New Cloud KMS Key Created"
//! (Lacework `GCPNewKMSKey`) alerts on Google Cloud, through Google's
//! official Rust clients.
//!
//! Layers: [`input`], [`audit`], [`keyname`], [`logfilter`] and [`evidence`]
//! are the pure core; [`gcp`] is the only module that knows the SDK;
//! [`investigate`] orchestrates reads; [`assess`] turns evidence into findings and a verdict; [`render`] writes; [`commands`] is the
//! command glue (the only place `anyhow` is used).

pub mod assess;
pub mod audit;
pub mod case;
pub mod cli;
pub mod commands;
pub mod evidence;
pub mod exit;
pub mod findings;
pub mod gcp;
pub mod input;
pub mod investigate;
pub mod keyname;
pub mod logfilter;
pub mod playbook;
pub mod render;
pub mod respond;
pub mod sanitize;
