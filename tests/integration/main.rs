//! End-to-end tests: the `kms-responder` binary against the Google Cloud mock
//! started in-process on port 0, exactly as a user runs it against Google.
//! One test binary; modules by topic.

mod support;

mod cli;
mod faults;
mod fuzz_corpus;
mod gaps;
mod hostile;
mod investigate;
mod respond;
mod tty;
mod usage;
