//! Many connections at once against the service's cap: thousands held idle or with
//! unfinished heads while `/ping` still answers within the memory limit, and more than
//! the cap, the rest waiting in the kernel's queue.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::http_limits::{
    HEADER_TIMEOUT, IDLE_CONNECTIONS, MAX_CONNECTIONS, NO_PROGRESS, PAST_THE_CAP, PATIENCE,
    QUEUE_PATIENCE, exchange, first_line,
};
use crate::error::Harness;
use crate::error::{Error, Result, found};
use crate::running::Running;

/// Rounds of holding connections whose measurement may be thrown away because the
/// machine took longer than the header timeout to take it (see `hold_connections`).
const ROUNDS: usize = 3;

/// A request head that stops short of its end, as long as the head limit allows.
pub(super) fn unfinished_head() -> Vec<u8> {
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
pub(super) async fn hold_connections(
    running: &Running,
    address: &str,
    sent: &[u8],
) -> Result<Option<u64>> {
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
    let (mut most, mut grew) = (0, Instant::now());
    let count = loop {
        let sockets = running.sockets().await?;
        let open = sockets.iter().filter(|socket| !socket.listening).count();
        let all_read = sockets.iter().all(|socket| socket.unread == 0);
        if (open >= IDLE_CONNECTIONS && all_read) || unpaused.elapsed() > HEADER_TIMEOUT {
            break open;
        }
        let waiting: u64 = sockets
            .iter()
            .filter(|socket| socket.listening)
            .map(|socket| socket.unread)
            .sum();
        let accepted = open.saturating_sub(waiting as usize);
        if accepted > most {
            (most, grew) = (accepted, Instant::now());
        } else if waiting > 0 && grew.elapsed() > STALLED {
            drop(held);
            // Open files to spare: the service stopped taking connections by its own cap.
            let limit = running.open_files_limit().await.ok();
            let files_to_spare = limit
                .as_deref()
                .and_then(|soft| soft.parse::<usize>().ok())
                .is_some_and(|soft| soft > accepted + 64)
                || limit.as_deref() == Some("unlimited");
            let hint = if files_to_spare {
                format!(
                    "it had open files to spare: is MAX_CONNECTIONS in src/main.rs still \
                     {MAX_CONNECTIONS}, and is it the cap the server is given?"
                )
            } else {
                "each connection is an open file: is the service's open-files limit (1,024 \
                 soft on most hosts) raised to fit MAX_CONNECTIONS when it starts?"
                    .to_string()
            };
            return found(
                format!(
                    "the service took {accepted} of {IDLE_CONNECTIONS} connections and then \
                     stopped taking more, {waiting} of them waiting in its listen queue: it \
                     holds fewer connections than its cap{}",
                    limit
                        .map(|soft| format!(" (its open-files limit: {soft})"))
                        .unwrap_or_default()
                ),
                hint,
            );
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

/// How long the service may take no connection from its queue before the check says it
/// stopped taking them: it takes thousands a second.
const STALLED: Duration = Duration::from_secs(1);

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
        held.push(
            stream.harness_with(|| format!("opening connection {} of {count}", held.len() + 1))?,
        );
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
pub(super) struct PastTheCap {
    /// The most it served at once.
    pub(super) served: usize,
    pub(super) memory_kb: Option<u64>,
    /// How long a `/ping` made while they were all open took to be answered.
    pub(super) ping_after: Duration,
}

/// MAX_CONNECTIONS and PAST_THE_CAP more, made at once while the service is paused: it
/// must serve no more than its cap (the rest wait in the kernel's queue, which holds
/// them), stay alive within its memory limit, and answer a `/ping` made meanwhile once
/// the header timeout has freed a slot.
pub(super) async fn past_the_cap(running: &Running, address: &str) -> Result<PastTheCap> {
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
pub(super) fn raise_open_files_limit(files: u64) -> Result<()> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // None is no limit at all.
    if limit.current.is_none_or(|current| current >= files) {
        return Ok(());
    }
    if let Some(maximum) = limit.maximum.filter(|maximum| *maximum < files) {
        return Err(Error::Harness(format!(
            "this process may open {maximum} files, {files} needed: raise `ulimit -n`"
        )));
    }
    let raised = Rlimit {
        current: Some(files),
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).harness("setrlimit(RLIMIT_NOFILE)")
}
