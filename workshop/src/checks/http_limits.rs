//! The HTTP limits the service holds (src/main.rs), tried against a locked-down
//! container byte by byte: requests a client library would refuse to send, a slow
//! client, a client that reads none of its answers, thousands of idle connections and
//! more than the service's cap. Every loop is bounded in count and time, and every
//! connection goes to the container's port on this machine's loopback.
//!
//! Here: the limits, the check, and the requests the service must refuse; its timeouts
//! are tried in http_timeouts.rs, its connections in http_connections.rs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Passed;
use super::container::start_locked_down;
use super::http_connections::{
    hold_connections, past_the_cap, raise_open_files_limit, unfinished_head,
};
use super::http_timeouts::{
    idle_keep_alive_is_closed, slow_client_is_cut_off, write_stall_is_cut_off,
};
use crate::error::{Error, Result, found};
use crate::image::Image;
use crate::results::LimitsResult;
use crate::running::Running;

/// How long a client has to send a request head (src/main.rs's HEADER_TIMEOUT).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an answer may wait to be written (src/main.rs's WRITE_STALL_TIMEOUT).
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the service serves at once (src/main.rs's MAX_CONNECTIONS).
pub const MAX_CONNECTIONS: usize = 2048;
/// The idle connections held open at once: fewer than the cap, so `/ping` is served.
pub const IDLE_CONNECTIONS: usize = 2000;
/// Connections made at once beyond the cap: they must wait in the kernel's queue.
pub const PAST_THE_CAP: usize = 200;
/// How long any one exchange may take before the check gives up on it.
pub(super) const PATIENCE: Duration = Duration::from_secs(10);
/// How long the client may take to make the burst of connections, and how long the
/// kernel's queue for the paused service may go without growing before the check stops
/// waiting for it (they arrive through docker-proxy, which makes its own to the container).
pub(super) const QUEUE_PATIENCE: Duration = Duration::from_secs(60);
pub(super) const NO_PROGRESS: Duration = Duration::from_secs(5);

/// A request the service must refuse, and the status it refuses it with.
struct Refused {
    what: &'static str,
    request: fn() -> Vec<u8>,
    status: u16,
}

const REFUSED: &[Refused] = &[
    Refused {
        what: "101 headers",
        request: || {
            let mut request = b"GET /ping HTTP/1.1\r\nHost: ping\r\n".to_vec();
            for header in 1..101 {
                request.extend(format!("X-Header-{header}: {header}\r\n").bytes());
            }
            request.extend(b"\r\n");
            request
        },
        status: 431,
    },
    Refused {
        what: "a 70 kB path",
        request: || format!("GET /{} HTTP/1.1\r\nHost: ping\r\n\r\n", "a".repeat(70_000)).into(),
        status: 431,
    },
    Refused {
        what: "two different Content-Length headers",
        request: || {
            b"POST /ping HTTP/1.1\r\nHost: ping\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec()
        },
        status: 400,
    },
];

pub async fn holds_http_limits(image: &Image) -> Result<Passed> {
    let running = start_locked_down(image).await?;
    let held = try_limits(&running).await?;
    let mib = |kb: Option<u64>| kb.map_or("?".into(), |kb| format!("{:.1}", kb as f64 / 1024.0));
    Ok(Some(format!(
        "HEAD 200; {}; a slow client cut off after {:.1} s while /ping answered; an idle \
         keep-alive connection closed after {:.1} s; a client reading none of its answers cut \
         off {:.1} s after its writes stalled; /ping answered with {n} idle connections ({} MiB) \
         and with {n} unfinished 8 KiB heads ({} MiB; {} MiB without them); of {} connections at \
         once it served {} and queued the rest ({} MiB), and /ping answered after {:.1} s",
        REFUSED
            .iter()
            .map(|refused| format!("{}: {}", refused.what, refused.status))
            .collect::<Vec<_>>()
            .join("; "),
        held.slow_client_cut_s,
        held.idle_keep_alive_closed_s,
        held.write_stall_cut_s,
        mib(held.idle_kb),
        mib(held.unfinished_heads_kb),
        mib(held.without_kb),
        MAX_CONNECTIONS + PAST_THE_CAP,
        held.past_the_cap_served,
        mib(held.past_the_cap_kb),
        held.past_the_cap_ping_s,
        n = held.connections,
    )))
}

/// Tries every limit on a running, locked-down container; what it measured on the way.
/// `threads` and `memory_limit_bytes` are for the caller to fill in.
pub async fn try_limits(running: &Running) -> Result<LimitsResult> {
    let address = running.url.trim_start_matches("http://").to_string();
    let head = exchange(
        &address,
        b"HEAD /ping HTTP/1.1\r\nHost: ping\r\nConnection: close\r\n\r\n",
    )
    .await?;
    if status_of(&head) != Some(200) || !head.ends_with("\r\n\r\n") {
        return found(
            format!("HEAD /ping answered {head:?}"),
            "HEAD is GET without the body: does the router answer HEAD on /ping?",
        );
    }
    for refused in REFUSED {
        let answer = exchange(&address, &(refused.request)()).await?;
        if status_of(&answer) != Some(refused.status) {
            return found(
                format!(
                    "{} got {:?}, not {}",
                    refused.what,
                    first_line(&answer),
                    refused.status
                ),
                "are the head limits of src/main.rs (HEAD_LIMIT, MAX_HEADERS) applied to the server?",
            );
        }
    }
    // The cap the service says it holds: lowered to fit a low open-files limit, or
    // changed in the source, it is a finding about the service, said at once.
    let said = running.logs().await;
    if let Some(cap) = said
        .lines()
        .find_map(|line| {
            line.split_once(", at most ")?
                .1
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .filter(|cap| *cap < MAX_CONNECTIONS)
    {
        let soft = running
            .open_files_limit()
            .await
            .unwrap_or_else(|_| "?".into());
        return found(
            format!(
                "the service says it holds at most {cap} connections, not {MAX_CONNECTIONS} (its \
                 open-files limit: {soft}):\n{said}"
            ),
            if said.contains("open-files limit is too low") {
                "each connection is an open file: does the service raise its soft open-files \
                 limit to fit MAX_CONNECTIONS when it starts, and does the container's hard \
                 limit allow it (`--ulimit nofile=…`)?"
                    .to_string()
            } else {
                // Not lowered to fit the open-files limit: the source's own cap.
                format!("is MAX_CONNECTIONS in src/main.rs still {MAX_CONNECTIONS}?")
            },
        );
    }
    // An unfinished head as long as the check holds 2,000 of: within the head limit, the
    // service must wait for the rest, not refuse it (a lowered HEAD_LIMIT).
    let head = unfinished_head();
    if let Ok(answer) =
        tokio::time::timeout(std::time::Duration::from_secs(1), exchange(&address, &head)).await
    {
        return found(
            format!(
                "an unfinished head of {} bytes got {:?} at once: the service refuses heads \
                 within hyper's 8 KiB",
                head.len(),
                first_line(&answer?)
            ),
            "is HEAD_LIMIT in src/main.rs still 8 KiB?",
        );
    }
    // Three waits for the service's timeouts, on three connections: side by side (each
    // its own client; none shares a connection or a limit with another), the slow
    // client's finding first.
    let (slow_client, keep_alive, stall) = tokio::join!(
        slow_client_is_cut_off(running, &address),
        idle_keep_alive_is_closed(&address),
        write_stall_is_cut_off(running, &address),
    );
    let (cut_after, keep_alive_closed, stall_cut) = (slow_client?, keep_alive?, stall?);
    raise_open_files_limit((MAX_CONNECTIONS + PAST_THE_CAP) as u64 + 256)?;
    let without_kb = running.memory().await?.cgroup_kb;
    let idle_kb = hold_connections(running, &address, &[]).await?;
    let unfinished_heads_kb = hold_connections(running, &address, &unfinished_head()).await?;
    let past = past_the_cap(running, &address).await?;
    Ok(LimitsResult {
        slow_client_cut_s: cut_after.as_secs_f64(),
        idle_keep_alive_closed_s: keep_alive_closed.as_secs_f64(),
        write_stall_cut_s: stall_cut.as_secs_f64(),
        connections: IDLE_CONNECTIONS,
        without_kb,
        idle_kb,
        unfinished_heads_kb,
        past_the_cap_made: MAX_CONNECTIONS + PAST_THE_CAP,
        past_the_cap_served: past.served,
        past_the_cap_kb: past.memory_kb,
        past_the_cap_ping_s: past.ping_after.as_secs_f64(),
        ..LimitsResult::default()
    })
}

/// Sends `request` on a new connection and reads until the service closes it.
pub(super) async fn exchange(address: &str, request: &[u8]) -> Result<String> {
    let failed = |error: std::io::Error| Error::Harness(format!("a request to {address}: {error}"));
    let talk = async {
        let mut stream = TcpStream::connect(address).await.map_err(failed)?;
        // The service may answer and close before it has read everything: not an error.
        let _ = stream.write_all(request).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(PATIENCE, talk).await.map_err(|_| {
        Error::Harness(format!(
            "{address} neither answered nor closed within {PATIENCE:?}"
        ))
    })?
}

fn status_of(answer: &str) -> Option<u16> {
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

pub(super) fn first_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("nothing")
}
