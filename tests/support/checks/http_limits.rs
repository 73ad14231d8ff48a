//! The HTTP limits the service holds (src/main.rs), tried against a locked-down
//! container byte by byte: requests a client library would refuse to send, a slow
//! client, thousands of idle connections. Every loop is bounded in count and time, and
//! every connection goes to the container's port on this machine's loopback.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::super::error::{Error, Result, found};
use super::super::image::Image;
use super::super::results::LimitsResult;
use super::super::running::Running;
use super::Passed;
use super::container::start_locked_down;

/// How long a client has to send a request head (src/main.rs's HEADER_TIMEOUT).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The idle connections held open at once.
pub const IDLE_CONNECTIONS: usize = 2000;
/// How long any one exchange may take before the check gives up on it.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long the client may take to make the burst of connections, and how long the
/// kernel's queue for the paused service may go without growing before the check stops
/// waiting for it (they arrive through docker-proxy, which makes its own to the container).
const QUEUE_PATIENCE: Duration = Duration::from_secs(60);
const NO_PROGRESS: Duration = Duration::from_secs(5);
/// Rounds of holding connections whose measurement may be thrown away because the
/// machine took longer than the header timeout to take it (see `hold_connections`).
const ROUNDS: usize = 3;

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
        "HEAD 200; {}; a slow client cut off after {:.1} s while /ping answered; /ping answered \
         with {n} idle connections ({} MiB) and with {n} unfinished 8 KiB heads ({} MiB; {} MiB \
         without them)",
        REFUSED
            .iter()
            .map(|refused| format!("{}: {}", refused.what, refused.status))
            .collect::<Vec<_>>()
            .join("; "),
        held.slow_client_cut_s,
        mib(held.idle_kb),
        mib(held.unfinished_heads_kb),
        mib(held.without_kb),
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
    let cut_after = slow_client_is_cut_off(running, &address).await?;
    raise_open_files_limit(IDLE_CONNECTIONS as u64 + 256)?;
    let without_kb = running.memory().await?.cgroup_kb;
    let idle_kb = hold_connections(running, &address, &[]).await?;
    let unfinished_heads_kb = hold_connections(running, &address, &unfinished_head()).await?;
    Ok(LimitsResult {
        slow_client_cut_s: cut_after.as_secs_f64(),
        connections: IDLE_CONNECTIONS,
        without_kb,
        idle_kb,
        unfinished_heads_kb,
        ..LimitsResult::default()
    })
}

/// Sends `request` on a new connection and reads until the service closes it.
async fn exchange(address: &str, request: &[u8]) -> Result<String> {
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

fn first_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("nothing")
}

/// Slowloris: a request head sent one header every half second, never finished. The
/// service must close the connection within HEADER_TIMEOUT (and a second), and answer
/// `/ping` meanwhile. Returns when it closed it.
async fn slow_client_is_cut_off(running: &Running, address: &str) -> Result<Duration> {
    let failed = |error: std::io::Error| Error::Harness(format!("a slow client: {error}"));
    let started = Instant::now();
    let stream = TcpStream::connect(address).await.map_err(failed)?;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n")
        .await
        .map_err(failed)?;
    let closed = async {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        started.elapsed()
    };
    let dribble = async {
        let mut answered_meanwhile = false;
        for header in 0.. {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if started.elapsed() > HEADER_TIMEOUT + PATIENCE {
                break;
            }
            if writer
                .write_all(format!("X-Slow-{header}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
            if !answered_meanwhile {
                answered_meanwhile = running
                    .get("/ping")
                    .await
                    .is_ok_and(|answer| answer == (200, "PONG".into()));
            }
        }
        answered_meanwhile
    };
    let cut_after = tokio::select! {
        cut_after = closed => cut_after,
        _ = tokio::time::sleep(HEADER_TIMEOUT + PATIENCE) => {
            return found(
                format!(
                    "a client sending its request head a header at a time was still connected \
                     after {:?}",
                    HEADER_TIMEOUT + PATIENCE
                ),
                "is the header-read timeout (HEADER_TIMEOUT in src/main.rs) applied to the server?",
            );
        }
    };
    // The dribbling stops at the next write after the close; whether /ping answered.
    let answered = dribble.await;
    if cut_after > HEADER_TIMEOUT + Duration::from_secs(1) {
        return found(
            format!(
                "a slow client was cut off after {:.1} s, not within {HEADER_TIMEOUT:?}",
                cut_after.as_secs_f64()
            ),
            "is HEADER_TIMEOUT in src/main.rs the timeout the server applies?",
        );
    }
    if !answered {
        return found(
            "while a slow client held a connection, GET /ping got no PONG",
            "one slow client must not hold up the others",
        );
    }
    Ok(cut_after)
}

/// A request head that stops short of its end, as long as the head limit allows.
fn unfinished_head() -> Vec<u8> {
    let mut head = b"GET /ping HTTP/1.1
Host: ping
X-Padding: "
        .to_vec();
    head.resize(8000, b'a');
    head
}

/// Holds IDLE_CONNECTIONS connections at once, each sent `sent` (nothing: idle ones),
/// and asks for `/ping` while the service holds them: it must answer, and the container
/// must not have been OOM-killed under `--memory 64m`. Returns the container's memory
/// while they were held, in kB, once the service has closed them all again.
///
/// Ordered by events, not by how fast this machine is: the connections are made while
/// the service is paused, so the kernel queues them (the listen backlog) and no header
/// timeout has started; the service then accepts them all at once when it is unpaused.
/// A round whose reading took longer than the header timeout after that (a very busy
/// machine) cannot show them held at once: it is thrown away and tried again.
async fn hold_connections(running: &Running, address: &str, sent: &[u8]) -> Result<Option<u64>> {
    let mut slow = Vec::new();
    for _ in 0..ROUNDS {
        match hold_once(running, address, sent).await? {
            Held::All(memory_kb) => return Ok(memory_kb),
            Held::TooSlow(took) => {
                slow.push(format!("{:.1} s", took.as_secs_f64()));
                wait_until_all_closed(running).await?;
            }
        }
    }
    Err(Error::Harness(format!(
        "in {ROUNDS} rounds this machine took {} from unpausing the service to reading its \
         memory and asking /ping: longer than the service's {HEADER_TIMEOUT:?} header timeout, \
         so the {IDLE_CONNECTIONS} connections were not all held at once. Run the check again \
         on a less busy machine",
        slow.join(", ")
    )))
}

enum Held {
    /// All were held while the memory was read and `/ping` answered: that memory, kB.
    All(Option<u64>),
    /// The reading took this long after unpausing, past the header timeout.
    TooSlow(Duration),
}

async fn hold_once(running: &Running, address: &str, sent: &[u8]) -> Result<Held> {
    running.pause().await?;
    let queued = open_while_paused(running, address, sent).await;
    running.unpause().await?;
    let unpaused = Instant::now();
    let held = queued?;
    // Held: each one accepted by the service and what it sent read.
    let count = loop {
        let sockets = running.sockets().await?;
        let open = sockets.iter().filter(|socket| !socket.listening).count();
        let all_read = sockets.iter().all(|socket| socket.unread == 0);
        if (open >= IDLE_CONNECTIONS && all_read) || unpaused.elapsed() > HEADER_TIMEOUT {
            break open;
        }
    };
    let memory_kb = running.memory().await?.cgroup_kb;
    let answer = running.get("/ping").await;
    let took = unpaused.elapsed();
    drop(held);
    let state = running.state().await?;
    if state.oom_killed == Some(true) || state.running != Some(true) {
        return found(
            format!(
                "with {count} connections open the container stopped (OOM-killed: {})",
                state.oom_killed == Some(true)
            ),
            "what does each connection cost, and is the connection cap (MAX_CONNECTIONS in \
             src/main.rs) applied?",
        );
    }
    if took > HEADER_TIMEOUT {
        return Ok(Held::TooSlow(took));
    }
    if !matches!(&answer, Ok((200, body)) if body == "PONG") {
        return found(
            format!("with {count} connections open, GET /ping got {answer:?}"),
            "is the connection cap (MAX_CONNECTIONS in src/main.rs) above the connections held?",
        );
    }
    if count < IDLE_CONNECTIONS {
        return Err(Error::Harness(format!(
            "only {count} of {IDLE_CONNECTIONS} connections reached the service"
        )));
    }
    // The service closes them within HEADER_TIMEOUT: wait for it, so the next measurement
    // starts from none.
    wait_until_all_closed(running).await?;
    Ok(Held::All(memory_kb))
}

/// Makes IDLE_CONNECTIONS connections to the paused service, each sent `sent`, and waits
/// until the kernel has queued them all for it to accept.
async fn open_while_paused(
    running: &Running,
    address: &str,
    sent: &[u8],
) -> Result<Vec<TcpStream>> {
    let connecting = (0..IDLE_CONNECTIONS).map(|_| async {
        let mut stream = TcpStream::connect(address).await?;
        stream.write_all(sent).await?;
        Ok::<_, std::io::Error>(stream)
    });
    let opened = tokio::time::timeout(QUEUE_PATIENCE, futures::future::join_all(connecting))
        .await
        .map_err(|_| {
            Error::Harness(format!(
                "{IDLE_CONNECTIONS} connections to {address} were not made in {QUEUE_PATIENCE:?}"
            ))
        })?;
    let mut held = Vec::with_capacity(IDLE_CONNECTIONS);
    for stream in opened {
        held.push(stream.map_err(|error| {
            Error::Harness(format!(
                "opening connection {} of {IDLE_CONNECTIONS}: {error}",
                held.len() + 1
            ))
        })?);
    }
    // Every connection past the listen backlog is dropped by the kernel (the proxy's SYN
    // is retried after a second, then three, then seven): the queue stops growing.
    let (mut most, mut grew) = (0, Instant::now());
    loop {
        let queued = running
            .sockets()
            .await?
            .iter()
            .filter(|socket| socket.listening)
            .map(|socket| socket.unread)
            .sum::<u64>();
        if queued >= IDLE_CONNECTIONS as u64 {
            return Ok(held);
        }
        if queued > most {
            (most, grew) = (queued, Instant::now());
        } else if grew.elapsed() > NO_PROGRESS {
            return found(
                format!(
                    "while the service was paused the kernel queued {queued} of a burst of \
                     {IDLE_CONNECTIONS} new connections and then no more for {NO_PROGRESS:?}: \
                     its listen backlog is full, and every other client waits a second or more \
                     to try again"
                ),
                "is the listen backlog (LISTEN_BACKLOG in src/main.rs) set on the listener, \
                 above the connections of a burst?",
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until the service holds no connection.
async fn wait_until_all_closed(running: &Running) -> Result<()> {
    let started = Instant::now();
    while running
        .sockets()
        .await?
        .iter()
        .any(|socket| !socket.listening)
        && started.elapsed() < HEADER_TIMEOUT + PATIENCE
    {}
    Ok(())
}

/// Lets this process hold `files` open files, up to its hard limit.
fn raise_open_files_limit(files: u64) -> Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(Error::Harness("getrlimit(RLIMIT_NOFILE) failed".into()));
        }
        if limit.rlim_cur >= files {
            return Ok(());
        }
        if limit.rlim_max < files {
            return Err(Error::Harness(format!(
                "this process may open {} files, {files} needed: raise `ulimit -n`",
                limit.rlim_max
            )));
        }
        limit.rlim_cur = files;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(Error::Harness("setrlimit(RLIMIT_NOFILE) failed".into()));
        }
    }
    Ok(())
}
