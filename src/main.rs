//! The ping service: `GET /ping` answers `PONG`. Every workshop step puts
//! this one binary into a Docker image; `ping healthcheck` checks a running one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use salvo::conn::TcpListener;
use salvo::fuse::FuseConfig;
use salvo::prelude::*;

const DEFAULT_PORT: u16 = 8080;

// ANCHOR: global_allocator
/// Step 12: every allocation goes to mimalloc, which gives each thread its own
/// free lists, instead of musl's malloc, which serializes them behind a lock.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
// ANCHOR_END: global_allocator

// ANCHOR: limits
/// Worker threads when PING_WORKERS is unset: two, or one on one CPU. tokio's
/// default, a worker per CPU of the host, needs 65 threads on 64 CPUs: more
/// than `--pids-limit 64` allows, and the runtime aborts at start.
const MAX_DEFAULT_WORKERS: usize = 2;
/// The most PING_WORKERS may ask for.
const MAX_WORKERS: usize = 16;
/// A client has this long to send a request head. Slowloris is cut off after
/// it, and so is a connection that sends nothing, or nothing more after its
/// last answer: this is the idle keep-alive timeout too.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an answer may wait to be written. A client that sends requests
/// and reads none of the answers fills the kernel's buffers, then every write
/// waits: after this long the connection is closed. An answer is a few bytes,
/// so a client that takes 10 s to make room for one is gone or hostile.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's listen queue. One
/// costs about 15 KiB idle (hyper's 8 KiB read and write buffers), 20 KiB
/// with an unfinished 8 KiB head: 2,048 of those fit in `--memory 64m`.
const MAX_CONNECTIONS: usize = 2048;
/// Open files besides the connections: the listener, standard output and
/// error, tokio's epoll and wakers, the signal pipe. Each connection is one
/// more, so the service needs MAX_CONNECTIONS + SPARE_FILES open files.
const SPARE_FILES: usize = 64;
/// The request line and headers together: a longer head gets 431. 8 KiB is
/// hyper's smallest limit and its first read buffer: no head makes it grow.
const HEAD_LIMIT: usize = 8 * 1024;
/// Headers in one request (hyper's default, stated): 101 get 431.
const MAX_HEADERS: usize = 100;
/// Connections the kernel completes and queues before the service accepts them
/// (`ss -ltn` shows it). salvo's default, 128, drops the rest of a burst: each
/// of those clients waits a second to retry. 4,096 is Linux's own default cap.
const LISTEN_BACKLOG: u32 = 4096;
// ANCHOR_END: limits

// ANCHOR: router
#[handler]
async fn ping() -> &'static str {
    "PONG"
}

/// The routes: salvo answers 404 for other paths, 405 for other methods.
/// HEAD is GET without the body (hyper drops it): `curl -I` gets 200.
fn router() -> Router {
    Router::new().push(Router::with_path("ping").get(ping).head(ping))
}
// ANCHOR_END: router

/// A setting from the environment: None when unset; bytes that are not UTF-8 are an
/// error, not "unset" (a default would hide the typo).
fn setting(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(raw) => Ok(Some(raw)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => {
            Err(format!("{name} is not text (UTF-8): {raw:?}"))
        }
    }
}

/// The port to listen on: `PORT` from the environment, else 8080.
fn port() -> Result<u16, String> {
    let usage = format!("Unset it to use {DEFAULT_PORT}, or set e.g. PORT=8080.");
    match setting("PORT").map_err(|error| format!("{error}. {usage}"))? {
        None => Ok(DEFAULT_PORT),
        Some(raw) => match raw.trim().parse::<u16>() {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(format!(
                "PORT must be a port number from 1 to 65535, got {raw:?}. {usage}"
            )),
        },
    }
}

/// Worker threads: `PING_WORKERS` from the environment, else `default_workers` of the
/// CPUs the container may use (its cgroup quota, its cpuset).
fn workers() -> Result<usize, String> {
    let usage = format!("Unset it for {MAX_DEFAULT_WORKERS} (or 1 on one CPU).");
    match setting("PING_WORKERS").map_err(|error| format!("{error}. {usage}"))? {
        None => {
            let cpus = std::thread::available_parallelism().map_or(1, |cpus| cpus.get());
            Ok(default_workers(cpus))
        }
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(workers) if (1..=MAX_WORKERS).contains(&workers) => Ok(workers),
            _ => Err(format!(
                "PING_WORKERS must be a number from 1 to {MAX_WORKERS}, got {raw:?}. {usage}"
            )),
        },
    }
}

/// Workers for `cpus` CPUs: one per CPU, at most MAX_DEFAULT_WORKERS.
fn default_workers(cpus: usize) -> usize {
    cpus.clamp(1, MAX_DEFAULT_WORKERS)
}

/// A line on standard output that never panics: a log collector that went away
/// (a closed pipe) must not turn a graceful stop into an abort.
fn say(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The same on standard error.
fn complain(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn main() -> ExitCode {
    let usage_error = |message: String| {
        complain(format_args!("ping: {message}"));
        ExitCode::from(2)
    };
    let port = match port() {
        Ok(port) => port,
        Err(message) => return usage_error(message),
    };
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => match workers() {
            Ok(workers) => serve(port, workers),
            Err(message) => usage_error(message),
        },
        // The health check runs no server: PING_WORKERS is not its business.
        Some("healthcheck") => healthcheck(port),
        Some(other) => usage_error(format!(
            "unknown command {other:?}. Usage: ping [serve | healthcheck]"
        )),
    }
}

// ANCHOR: open_files
/// The connections the service can hold: MAX_CONNECTIONS, once the soft
/// open-files limit is raised to fit them. Docker Engine 25+ and containerd
/// 2 give a container 1,024 open files (soft) and 524,288 (hard): past about
/// 1,000 connections `accept` would fail, silently. Raising the soft limit up
/// to the hard one needs no privilege (Go's runtime does it at start; Rust's
/// std does not). Under a lower hard limit the cap is lowered to fit, and
/// the start line says so.
fn connection_cap() -> usize {
    let needed = (MAX_CONNECTIONS + SPARE_FILES) as libc::rlim_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct given.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if !read || limit.rlim_cur >= needed {
        return MAX_CONNECTIONS;
    }
    limit.rlim_cur = needed.min(limit.rlim_max);
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        // Not raised: what the soft limit leaves.
        limit.rlim_cur = needed.min(limit.rlim_cur);
    }
    (limit.rlim_cur as usize)
        .saturating_sub(SPARE_FILES)
        .clamp(1, MAX_CONNECTIONS)
}
// ANCHOR_END: open_files

// ANCHOR: runtime
/// Runs the server on `workers` threads and at most one blocking-pool thread:
/// with the main thread, `workers + 2` at most, whatever the host.
fn serve(port: u16, workers: usize) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(1)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(listen_and_serve(port)),
        Err(error) => {
            complain(format_args!(
                "ping: cannot start {workers} worker threads: {error}"
            ));
            ExitCode::FAILURE
        }
    }
}
// ANCHOR_END: runtime

async fn listen_and_serve(port: u16) -> ExitCode {
    // 0.0.0.0, not 127.0.0.1: a container's loopback is unreachable from outside it.
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let acceptor = match TcpListener::new(addr)
        .backlog(LISTEN_BACKLOG)
        .try_bind()
        .await
    {
        Ok(acceptor) => acceptor,
        Err(error) => {
            complain(format_args!(
                "ping: cannot listen on {addr}: {error}. Is another process using port {port}?"
            ));
            return ExitCode::FAILURE;
        }
    };
    // ANCHOR: server
    let fuse = FuseConfig::default()
        .with_http1_header_timeout(HEADER_TIMEOUT)
        .with_write_stall_timeout(WRITE_STALL_TIMEOUT);
    let connections = connection_cap();
    let mut server = Server::new(acceptor)
        .fuse_config(fuse)
        .max_connections(connections);
    server
        .http1_mut()
        .max_buf_size(HEAD_LIMIT)
        .max_headers(MAX_HEADERS);
    // ANCHOR_END: server

    // ANCHOR: shutdown
    // In a container this process is PID 1, and the kernel ignores SIGTERM for
    // a PID 1 that installed no handler: `docker stop` would wait 10 s, then
    // kill it. The handlers are installed here, before "listening" is printed:
    // a stop that arrives as soon as the service is up must find them.
    let stop = shutdown_signal();
    let handle = server.handle();
    tokio::spawn(async move {
        stop.await;
        say(format_args!(
            "ping: stopping, finishing the requests in flight"
        ));
        // Finish the requests in flight, then return from `serve`.
        handle.stop_graceful(Duration::from_secs(5));
    });

    // ANCHOR_END: shutdown
    if connections < MAX_CONNECTIONS {
        say(format_args!(
            "ping: listening on http://{addr}, at most {connections} connections: the \
             open-files limit is too low for {MAX_CONNECTIONS} (docker run --ulimit nofile=4096)"
        ));
    } else {
        say(format_args!(
            "ping: listening on http://{addr}, at most {connections} connections"
        ));
    }
    server.serve(router()).await;
    say(format_args!("ping: stopped"));
    ExitCode::SUCCESS
}

/// Installs the SIGTERM (`docker stop`) and SIGINT (Ctrl-C) handlers now; the returned
/// future resolves on the first of them.
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install the SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// `ping healthcheck`: asks our own /ping. Scratch images have no curl, so the
/// binary checks itself with a plain HTTP/1.0 request over std's TcpStream.
fn healthcheck(port: u16) -> ExitCode {
    match ask_ping(port) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            complain(format_args!(
                "ping: unhealthy, /ping did not answer 200 PONG"
            ));
            ExitCode::FAILURE
        }
        Err(error) => {
            complain(format_args!(
                "ping: unhealthy, cannot reach 127.0.0.1:{port}: {error}"
            ));
            ExitCode::FAILURE
        }
    }
}

fn ask_ping(port: u16) -> std::io::Result<bool> {
    let timeout = Duration::from_secs(2);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = Vec::new();
    stream.take(4096).read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status_ok = response.starts_with("HTTP/1.1 200 ") || response.starts_with("HTTP/1.0 200 ");
    Ok(status_ok && response.ends_with("\r\n\r\nPONG"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default is bounded whatever the host: tokio's own would be a worker per CPU.
    #[test]
    fn default_workers_are_bounded_for_any_cpu_count() {
        for (cpus, workers) in [(0, 1), (1, 1), (2, 2), (64, 2), (256, 2)] {
            assert_eq!(default_workers(cpus), workers, "{cpus} CPUs");
        }
    }
}
