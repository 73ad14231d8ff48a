//! The HTTP limits the service holds (src/main.rs), tried against a locked-down
//! container byte by byte: requests a client library would refuse to send, a slow
//! client, a client that reads none of its answers, thousands of idle connections and
//! more than the service's cap. Every loop is bounded in count and time, and every
//! connection goes to the container's port on this machine's loopback.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::super::error::{Error, Result, found};
use super::super::image::Image;
use super::super::results::LimitsResult;
use super::super::running::Running;
use super::Passed;
use super::container::start_locked_down;

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
    // Two waits for the header timeout, on two connections: side by side, the slow
    // client's finding first.
    let (slow_client, keep_alive) = tokio::join!(
        slow_client_is_cut_off(running, &address),
        idle_keep_alive_is_closed(&address),
    );
    let (cut_after, keep_alive_closed) = (slow_client?, keep_alive?);
    let stall_cut = write_stall_is_cut_off(running, &address).await?;
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

/// A keep-alive connection that got its answer and sends nothing more: the service must
/// close it within HEADER_TIMEOUT (and a second), since waiting for the next request is
/// waiting for a head. Returns how long after the answer it closed. Needs only the
/// service's address (`host:port`).
pub async fn idle_keep_alive_is_closed(address: &str) -> Result<Duration> {
    let failed = |error: std::io::Error| Error::Harness(format!("a keep-alive client: {error}"));
    let mut stream = TcpStream::connect(address).await.map_err(failed)?;
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n\r\n")
        .await
        .map_err(failed)?;
    let mut answer = Vec::new();
    let mut buffer = [0; 1024];
    let read_answer = async {
        while !answer.ends_with(b"\r\n\r\nPONG") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
            }
        }
    };
    let _ = tokio::time::timeout(PATIENCE, read_answer).await;
    if !answer.ends_with(b"\r\n\r\nPONG") {
        return found(
            format!(
                "GET /ping on a keep-alive connection got {:?}",
                String::from_utf8_lossy(&answer)
            ),
            "HTTP/1.1 keeps a connection open after the answer: does the service answer on it?",
        );
    }
    let answered = Instant::now();
    let limit = HEADER_TIMEOUT + Duration::from_secs(1);
    match tokio::time::timeout(limit, stream.read(&mut buffer)).await {
        Ok(Ok(0) | Err(_)) => Ok(answered.elapsed()),
        Ok(Ok(read)) => found(
            format!("an idle keep-alive connection was sent {read} bytes it never asked for"),
            "after its answer the service has nothing to send until the next request",
        ),
        Err(_) => found(
            format!(
                "a keep-alive connection left idle after its answer was still open after \
                 {limit:?}"
            ),
            "the wait for the next request is a wait for a head: is HEADER_TIMEOUT in \
             src/main.rs applied to it?",
        ),
    }
}

/// A client that sends requests and reads none of the answers (a small receive buffer,
/// never read): once the buffers between it and the service are full, every answer
/// waits to be written, and the service stops reading. It must close the connection
/// within WRITE_STALL_TIMEOUT of that. Returns how long after this client's own writes
/// stalled the service's end was gone.
async fn write_stall_is_cut_off(running: &Running, address: &str) -> Result<Duration> {
    let failed =
        |error: std::io::Error| Error::Harness(format!("a client that never reads: {error}"));
    let address: std::net::SocketAddr = address
        .parse()
        .map_err(|error| Error::Harness(format!("the address {address}: {error}")))?;
    let socket = TcpSocket::new_v4().map_err(failed)?;
    socket.set_recv_buffer_size(4096).map_err(failed)?;
    let mut stream = socket.connect(address).await.map_err(failed)?;
    let requests = b"GET /ping HTTP/1.1\r\nHost: ping\r\n\r\n".repeat(1000);
    let started = Instant::now();
    let mut sent = 0;
    // Until a write waits a second: nothing reads on the other side any more.
    loop {
        match tokio::time::timeout(Duration::from_secs(1), stream.write_all(&requests)).await {
            Ok(Ok(())) => sent += requests.len(),
            Ok(Err(_)) | Err(_) => break,
        }
        if started.elapsed() > QUEUE_PATIENCE {
            return Err(Error::Harness(format!(
                "{} MB of pipelined requests went through in {QUEUE_PATIENCE:?} without a \
                 stall: something between this client and the service reads them",
                sent / 1_000_000
            )));
        }
    }
    let stalled = Instant::now();
    let limit = WRITE_STALL_TIMEOUT + PATIENCE;
    loop {
        let sockets = running.sockets().await?;
        if sockets.iter().all(|socket| socket.listening) {
            drop(stream);
            return Ok(stalled.elapsed());
        }
        if stalled.elapsed() > limit {
            return found(
                format!(
                    "a client that sent {} MB of requests and read none of the answers was \
                     still connected {limit:?} after its writes stalled",
                    sent / 1_000_000
                ),
                "an answer nobody reads waits forever: is the write-stall timeout \
                 (WRITE_STALL_TIMEOUT in src/main.rs) applied to the server?",
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    let queued = open_while_paused(running, address, sent, IDLE_CONNECTIONS).await;
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
    survived(running, &format!("with {count} connections open")).await?;
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

/// The container is still running after `what` ("with 2000 connections open"): neither
/// stopped nor OOM-killed under its memory limit.
async fn survived(running: &Running, what: &str) -> Result<()> {
    let state = running.state().await?;
    if state.oom_killed == Some(true) || state.running != Some(true) {
        return found(
            format!(
                "{what} the container stopped (OOM-killed: {})",
                state.oom_killed == Some(true)
            ),
            "what does each connection cost, and does the connection cap (MAX_CONNECTIONS in \
             src/main.rs) times that fit the memory limit?",
        );
    }
    Ok(())
}

/// Makes `count` connections to the paused service, each sent `sent`, and waits until
/// the kernel has queued them all for it to accept.
async fn open_while_paused(
    running: &Running,
    address: &str,
    sent: &[u8],
    count: usize,
) -> Result<Vec<TcpStream>> {
    let connecting = (0..count).map(|_| async {
        let mut stream = TcpStream::connect(address).await?;
        stream.write_all(sent).await?;
        Ok::<_, std::io::Error>(stream)
    });
    let opened = tokio::time::timeout(QUEUE_PATIENCE, futures::future::join_all(connecting))
        .await
        .map_err(|_| {
            Error::Harness(format!(
                "{count} connections to {address} were not made in {QUEUE_PATIENCE:?}"
            ))
        })?;
    let mut held = Vec::with_capacity(count);
    for stream in opened {
        held.push(stream.map_err(|error| {
            Error::Harness(format!(
                "opening connection {} of {count}: {error}",
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
        if queued >= count as u64 {
            return Ok(held);
        }
        if queued > most {
            (most, grew) = (queued, Instant::now());
        } else if grew.elapsed() > NO_PROGRESS {
            return found(
                format!(
                    "while the service was paused the kernel queued {queued} of a burst of \
                     {count} new connections and then no more for {NO_PROGRESS:?}: \
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

/// Waits until the service holds no connection: once the clients have closed theirs, or
/// the header timeout has closed them, none may stay.
async fn wait_until_all_closed(running: &Running) -> Result<()> {
    let started = Instant::now();
    loop {
        let sockets = running.sockets().await?;
        let open = sockets.iter().filter(|socket| !socket.listening).count();
        if open == 0 {
            return Ok(());
        }
        if started.elapsed() > HEADER_TIMEOUT + PATIENCE {
            return found(
                format!(
                    "{open} connections were still open {:?} after their clients closed them or \
                     went quiet",
                    HEADER_TIMEOUT + PATIENCE
                ),
                "a connection whose client left, or that sends nothing, must be closed: is \
                 HEADER_TIMEOUT in src/main.rs applied to the server?",
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the service did with more connections than its cap.
struct PastTheCap {
    /// The most it served at once.
    served: usize,
    memory_kb: Option<u64>,
    /// How long a `/ping` made while they were all open took to be answered.
    ping_after: Duration,
}

/// MAX_CONNECTIONS and PAST_THE_CAP more, made at once while the service is paused: it
/// must serve no more than its cap (the rest wait in the kernel's queue, which holds
/// them), stay alive within its memory limit, and answer a `/ping` made meanwhile once
/// the header timeout has freed a slot.
async fn past_the_cap(running: &Running, address: &str) -> Result<PastTheCap> {
    let count = MAX_CONNECTIONS + PAST_THE_CAP;
    running.pause().await?;
    let queued = open_while_paused(running, address, &[], count).await;
    running.unpause().await?;
    let unpaused = Instant::now();
    let held = queued?;
    // A /ping made now waits in the queue behind the ones over the cap.
    let ping = async {
        let asked = Instant::now();
        let answer = exchange(
            address,
            b"GET /ping HTTP/1.1\r\nHost: ping\r\nConnection: close\r\n\r\n",
        )
        .await;
        (answer, asked.elapsed())
    };
    // Until the header timeout closes the first of them, the service serves as many as it
    // accepts: the connections open minus the ones still in the listening socket's queue.
    let watch = async {
        let (mut served, mut memory_kb) = (0, None);
        while unpaused.elapsed() < HEADER_TIMEOUT && served <= MAX_CONNECTIONS {
            let sockets = running.sockets().await?;
            let waiting: u64 = sockets
                .iter()
                .filter(|socket| socket.listening)
                .map(|socket| socket.unread)
                .sum();
            let open = sockets.iter().filter(|socket| !socket.listening).count();
            let now = open.saturating_sub(waiting as usize);
            served = served.max(now);
            if memory_kb.is_none() && now >= MAX_CONNECTIONS {
                memory_kb = running.memory().await?.cgroup_kb;
            }
        }
        Ok::<_, Error>((served, memory_kb))
    };
    let ((answer, ping_after), watched) = tokio::join!(ping, watch);
    let (served, memory_kb) = watched?;
    if served > MAX_CONNECTIONS {
        return found(
            format!(
                "of {count} connections made at once the service served {served}, more than \
                 its cap of {MAX_CONNECTIONS}"
            ),
            "connections over the cap must wait in the kernel's queue: is the connection cap \
             (MAX_CONNECTIONS in src/main.rs) applied to the server?",
        );
    }
    drop(held);
    survived(running, &format!("with {count} connections made at once")).await?;
    match answer {
        Ok(answer) if answer.ends_with("\r\n\r\nPONG") => {}
        Ok(answer) => {
            return found(
                format!(
                    "with the service at its cap, GET /ping got {:?}",
                    first_line(&answer)
                ),
                "a connection over the cap waits for a slot, then is served like any other",
            );
        }
        Err(error) => {
            return found(
                format!("with the service at its cap, GET /ping was never answered: {error}"),
                "the header timeout frees the idle connections' slots: is it applied?",
            );
        }
    }
    wait_until_all_closed(running).await?;
    Ok(PastTheCap {
        served,
        memory_kb,
        ping_after,
    })
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
