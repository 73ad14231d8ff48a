//! What a container printed, read through Docker's API: the start of stdout (what the
//! service says as it starts), or the end of both streams (why it stopped).

use crate::docker;
use crate::error::{Harness, Result};

/// What a container printed that the harness reads: enough for a failure message or a
/// line it waits for, however much a chatty entrypoint prints.
const OUTPUT_LIMIT: usize = 64 << 10;

/// One of a container's output streams.
#[derive(Clone, Copy)]
pub(super) enum Stream {
    Stdout,
    Stderr,
}

/// Which part of a long output to keep: the first lines (what the service says as it
/// starts), or the last (why it stopped).
#[derive(Clone, Copy)]
pub(super) enum Keep {
    Head,
    Tail,
}

/// Up to OUTPUT_LIMIT bytes of what container `id` printed on `stream`, read through
/// Docker's API without blocking a thread.
pub(super) async fn output(id: &str, stream: Stream, keep: Keep) -> Result<String> {
    use futures::StreamExt as _;
    use testcontainers::bollard::query_parameters::LogsOptions;
    let options = LogsOptions {
        stdout: matches!(stream, Stream::Stdout),
        stderr: matches!(stream, Stream::Stderr),
        // The last lines only: Docker sends them, not the whole log, to be cut here.
        tail: match keep {
            Keep::Head => "all".into(),
            Keep::Tail => "200".into(),
        },
        ..LogsOptions::default()
    };
    let api = docker::api()?;
    let mut chunks = api.logs(id, Some(options));
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        bytes.extend_from_slice(&chunk.harness("docker logs")?.into_bytes());
        if bytes.len() > OUTPUT_LIMIT && matches!(keep, Keep::Head) {
            bytes.truncate(OUTPUT_LIMIT);
            break;
        }
    }
    if bytes.len() > OUTPUT_LIMIT {
        bytes.drain(..bytes.len() - OUTPUT_LIMIT);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The end of what a container printed on stdout and on stderr, for failure messages.
pub(super) async fn logs(id: &str) -> String {
    let mut shown = String::new();
    for (name, stream) in [("stdout", Stream::Stdout), ("stderr", Stream::Stderr)] {
        let text = output(id, stream, Keep::Tail).await.unwrap_or_default();
        if !text.trim().is_empty() {
            shown.push_str(&format!("--- container {name} ---\n{}\n", text.trim_end()));
        }
    }
    if shown.is_empty() {
        "(the container printed nothing)".into()
    } else {
        shown.trim_end().to_string()
    }
}
