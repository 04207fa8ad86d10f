//! Every question the interactive mode asks goes through [`Prompter`]: the
//! terminal implementation uses dialoguer; tests script the answers.
//!
//! Ctrl-C, Escape or `q` at a prompt is [`PromptError::Interrupted`]: the
//! caller stops, and since every question comes before the first change,
//! nothing has been done.

use std::collections::VecDeque;
use std::io::ErrorKind;

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The operator pressed Ctrl-C, Escape or `q`.
    #[error("stopped by the operator")]
    Interrupted,
    /// The terminal failed (or a scripted prompter ran out of answers).
    #[error("cannot ask: {0}")]
    Failed(String),
}

/// The questions of the interactive mode.
pub trait Prompter {
    /// Shows text (what will change, what it will break).
    fn show(&mut self, text: &str);
    /// Yes or no.
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool, PromptError>;
    /// Any number of `items` (indices), `defaults` pre-selected.
    fn choose(
        &mut self,
        question: &str,
        items: &[String],
        defaults: &[bool],
    ) -> Result<Vec<usize>, PromptError>;
    /// A line of text (e.g. the key id, typed to confirm destruction).
    fn text(&mut self, question: &str) -> Result<String, PromptError>;
}

/// The terminal: dialoguer on stderr, so stdout keeps only the report.
#[derive(Debug, Default)]
pub struct TerminalPrompter;

fn from_dialoguer(e: dialoguer::Error) -> PromptError {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == ErrorKind::Interrupted {
        PromptError::Interrupted
    } else {
        PromptError::Failed(io.to_string())
    }
}

impl Prompter for TerminalPrompter {
    fn show(&mut self, text: &str) {
        eprintln!("{text}");
    }

    fn confirm(&mut self, question: &str, default: bool) -> Result<bool, PromptError> {
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .wait_for_newline(true)
            .interact_opt()
            .map_err(from_dialoguer)?
            .ok_or(PromptError::Interrupted)
    }

    fn choose(
        &mut self,
        question: &str,
        items: &[String],
        defaults: &[bool],
    ) -> Result<Vec<usize>, PromptError> {
        dialoguer::MultiSelect::new()
            .with_prompt(format!("{question} (space toggles, enter accepts)"))
            .items(items)
            .defaults(defaults)
            .interact_opt()
            .map_err(from_dialoguer)?
            .ok_or(PromptError::Interrupted)
    }

    fn text(&mut self, question: &str) -> Result<String, PromptError> {
        dialoguer::Input::<String>::new()
            .with_prompt(question)
            .allow_empty(true)
            .interact_text()
            .map_err(from_dialoguer)
    }
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// For `choose`: these indices.
    Pick(Vec<usize>),
    /// For `choose`: the defaults as offered.
    Defaults,
    /// For `text`.
    Text(String),
    /// Ctrl-C at this question.
    Interrupt,
}

/// Answers from a script, in order; records everything shown and asked.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: VecDeque<Answer>,
    /// Everything shown, and every question (prefixed `? `), in order.
    pub transcript: Vec<String>,
}

impl ScriptedPrompter {
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> ScriptedPrompter {
        ScriptedPrompter {
            answers: answers.into_iter().collect(),
            transcript: Vec::new(),
        }
    }

    /// Answers not used.
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }

    /// The questions asked, in order.
    pub fn questions(&self) -> Vec<&str> {
        self.transcript
            .iter()
            .filter_map(|t| t.strip_prefix("? "))
            .collect()
    }

    fn next(&mut self, question: &str) -> Result<Answer, PromptError> {
        self.transcript.push(format!("? {question}"));
        match self.answers.pop_front() {
            Some(Answer::Interrupt) => Err(PromptError::Interrupted),
            Some(a) => Ok(a),
            None => Err(PromptError::Failed(format!(
                "no scripted answer for {question:?}"
            ))),
        }
    }
}

impl Prompter for ScriptedPrompter {
    fn show(&mut self, text: &str) {
        self.transcript.push(text.to_owned());
    }

    fn confirm(&mut self, question: &str, _default: bool) -> Result<bool, PromptError> {
        match self.next(question)? {
            Answer::Yes => Ok(true),
            Answer::No => Ok(false),
            other => Err(PromptError::Failed(format!(
                "scripted {other:?} for the yes/no question {question:?}"
            ))),
        }
    }

    fn choose(
        &mut self,
        question: &str,
        items: &[String],
        defaults: &[bool],
    ) -> Result<Vec<usize>, PromptError> {
        self.transcript
            .extend(items.iter().map(|i| format!("  [ ] {i}")));
        match self.next(question)? {
            Answer::Pick(picked) if picked.iter().all(|i| *i < items.len()) => Ok(picked),
            Answer::Defaults => Ok(defaults
                .iter()
                .enumerate()
                .filter(|(_, d)| **d)
                .map(|(i, _)| i)
                .collect()),
            other => Err(PromptError::Failed(format!(
                "scripted {other:?} for the choice {question:?}"
            ))),
        }
    }

    fn text(&mut self, question: &str) -> Result<String, PromptError> {
        match self.next(question)? {
            Answer::Text(t) => Ok(t),
            other => Err(PromptError::Failed(format!(
                "scripted {other:?} for the question {question:?}"
            ))),
        }
    }
}
