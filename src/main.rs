//! The ping service: `GET /ping` answers `PONG`. Every workshop step puts
//! this one binary into a Docker image; `ping healthcheck` checks a running one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use salvo::conn::TcpListener;
use salvo::prelude::*;

const DEFAULT_PORT: u16 = 8080;

// ANCHOR: router
#[handler]
async fn ping() -> &'static str {
    "PONG"
}

/// The routes: salvo answers 404 for other paths, 405 for other methods.
fn router() -> Router {
    Router::new().push(Router::with_path("ping").get(ping))
}
// ANCHOR_END: router

/// The port to listen on: `PORT` from the environment, else 8080.
fn port() -> Result<u16, String> {
    match std::env::var("PORT") {
        Err(_) => Ok(DEFAULT_PORT),
        Ok(raw) => match raw.trim().parse::<u16>() {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(format!(
                "PORT must be a port number from 1 to 65535, got {raw:?}. \
                 Unset it to use {DEFAULT_PORT}, or set e.g. PORT=8080."
            )),
        },
    }
}

fn main() -> ExitCode {
    let port = match port() {
        Ok(port) => port,
        Err(message) => {
            eprintln!("ping: {message}");
            return ExitCode::from(2);
        }
    };
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve(port),
        Some("healthcheck") => healthcheck(port),
        Some(other) => {
            eprintln!("ping: unknown command {other:?}. Usage: ping [serve | healthcheck]");
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn serve(port: u16) -> ExitCode {
    // 0.0.0.0, not 127.0.0.1: a container's loopback is unreachable from outside it.
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let acceptor = match TcpListener::new(addr).try_bind().await {
        Ok(acceptor) => acceptor,
        Err(error) => {
            eprintln!(
                "ping: cannot listen on {addr}: {error}. Is another process using port {port}?"
            );
            return ExitCode::FAILURE;
        }
    };
    let server = Server::new(acceptor);

    // ANCHOR: shutdown
    // In a container this process is PID 1, and the kernel ignores SIGTERM for
    // a PID 1 that installed no handler: `docker stop` would wait 10 s, then
    // kill it. The handlers are installed here, before "listening" is printed:
    // a stop that arrives as soon as the service is up must find them.
    let stop = shutdown_signal();
    let handle = server.handle();
    tokio::spawn(async move {
        stop.await;
        // Finish the requests in flight, then return from `serve`.
        handle.stop_graceful(Duration::from_secs(5));
    });

    // ANCHOR_END: shutdown
    println!("ping: listening on http://{addr}");
    server.serve(router()).await;
    println!("ping: stopped");
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
            eprintln!("ping: unhealthy, /ping did not answer 200 PONG");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("ping: unhealthy, cannot reach 127.0.0.1:{port}: {error}");
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
