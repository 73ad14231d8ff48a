//! Why a build failed, as a learner reads it: the failing instruction, the first error,
//! a hint for the usual causes, and the end of the log.

use std::path::Path;
use std::time::Duration;

use crate::buildkit;
use crate::error::BuildFailure;

impl BuildFailure {
    pub fn without_log(error: String, hint: String) -> BuildFailure {
        BuildFailure {
            // The first line is the heading a learner's report replaces with its own.
            report: format!("the build failed.\n  error:       {error}\n  hint:        {hint}"),
            instruction: None,
            error,
            hint,
        }
    }

    /// A build stopped at its time limit: the instruction that was still running.
    pub(super) fn timed_out(
        what: &str,
        command: &str,
        log: &str,
        log_path: &str,
        limit: Duration,
    ) -> BuildFailure {
        let running = buildkit::running_instructions(log);
        let instruction = running.last().cloned();
        let error = format!(
            "the build was still running after {} s, and was stopped{}",
            limit.as_secs(),
            instruction
                .as_deref()
                .map(|running| format!(" during {running}"))
                .unwrap_or_default()
        );
        let hint = "does that instruction wait for something that never comes (a `sleep`, \
                    a prompt, a network the build cannot reach)? A slow machine can allow \
                    more: PING_BUILD_TIMEOUT=SECONDS"
            .to_string();
        let report = format!(
            "{what}: the build was stopped.\n  command:     {command}\n  instruction: {}\n  \
             error:       {error}\n  hint:        {hint}\n{}",
            instruction.as_deref().unwrap_or("(none had started)"),
            log_tail(log, log_path)
        );
        BuildFailure {
            instruction,
            error,
            hint,
            report,
        }
    }

    pub(super) fn from_log(
        what: &str,
        command: &str,
        log: &str,
        log_path: &str,
        dockerfile: Option<&Path>,
    ) -> BuildFailure {
        let error =
            buildkit::first_error(log).unwrap_or_else(|| "(no error line; see the log)".into());
        // A parse error names a line, not an instruction: show that line.
        let instruction = buildkit::failing_instruction(log).or_else(|| {
            let number: usize = error
                .split_once("line ")?
                .1
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            let path = dockerfile?;
            let text = std::fs::read_to_string(path).ok()?;
            let line = text.lines().nth(number.checked_sub(1)?)?;
            Some(format!("line {number} of {}: {line}", path.display()))
        });
        let hint = build_hint(instruction.as_deref().unwrap_or(""), &error).to_string();
        let report = format!(
            "{what}: the build failed.\n  command:     {}\n  instruction: {}\n  error:       {error}\n  \
             hint:        {hint}\n{}",
            command,
            instruction
                .as_deref()
                .unwrap_or("(none: the Dockerfile could not be read or parsed; see the error)"),
            log_tail(log, log_path)
        );
        BuildFailure {
            instruction,
            error,
            hint,
            report,
        }
    }
}

/// The last lines of a build log, under a heading that says where all of it is.
fn log_tail(log: &str, log_path: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let tail_start = lines.len().saturating_sub(25);
    format!(
        "--- last lines of the build log (all of it: {log_path}) ---\n{}",
        lines[tail_start..].join("\n")
    )
}

/// A hint for the usual ways a build fails, read from the failing instruction and error.
fn build_hint(instruction: &str, error: &str) -> &'static str {
    let error = error.to_lowercase();
    let instruction = instruction.to_lowercase();
    if error.contains("parse error") || error.contains("unknown instruction") {
        "Docker could not read the Dockerfile: look at the line the error names (a misspelt \
         instruction, or a line continued without a trailing backslash)"
    } else if instruction.contains("copy --from")
        && (error.contains("not found") || error.contains("no such file or directory"))
    {
        "the path does not exist in the stage you copy from: where did that stage's build put \
         the binary? (`cargo build --release` writes target/release/ping; with a --target, \
         target/<triple>/release/ping; and what is in a cache mount is gone when its RUN ends: \
         copy the binary out in the same RUN)"
    } else if error.contains("cannot stat") && error.contains("target/") {
        "cargo's target/ is not there: a cache mount exists only during the RUN that mounts it, \
         so copy the binary out of it in that same RUN"
    } else if instruction.contains("copy") && error.contains("not found") {
        "the build context has no such file: is it spelt right, and does the \
         Dockerfile.dockerignore next to your Dockerfile let it through?"
    } else if error.contains("pull access denied")
        || error.contains("failed to resolve source metadata")
        || error.contains("not found: manifest unknown")
    {
        "a FROM image is neither local nor pullable: check its name, or prepare the base images \
         with steps/00-base-images/prepare.sh --offline"
    } else if error.contains("certificate") {
        "HTTPS inside the build is not trusted: see the book's *Before you start*, TLS-inspecting \
         proxies"
    } else if error.contains("target may not be installed")
        || error.contains("can't find crate for `core`")
    {
        "the Rust target is not installed in the build stage: add it with `rustup target add` \
         before the first `cargo build` (step 06 derives it from `uname -m`)"
    } else if instruction.contains("cargo") {
        "cargo failed: the error line above is cargo's own; the build log has the rest"
    } else {
        "read the error next to the failing instruction; the whole log is in the file named below"
    }
}
