//! The service's timeouts, tried on the wire: a slow client (slowloris), an idle
//! keep-alive connection, and a client that reads none of its answers are each cut off
//! in time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::http_limits::{HEADER_TIMEOUT, PATIENCE, QUEUE_PATIENCE, WRITE_STALL_TIMEOUT};
use crate::error::Harness;
use crate::error::{Error, Result, found};
use crate::running::Running;

/// Slowloris: a request head sent one header every half second, never finished. The
/// service must close the connection within HEADER_TIMEOUT (and a second), and answer
/// `/ping` meanwhile. Returns when it closed it.
pub(super) async fn slow_client_is_cut_off(running: &Running, address: &str) -> Result<Duration> {
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
pub(super) async fn write_stall_is_cut_off(running: &Running, address: &str) -> Result<Duration> {
    let failed =
        |error: std::io::Error| Error::Harness(format!("a client that never reads: {error}"));
    let address: std::net::SocketAddr = address
        .parse()
        .harness_with(|| format!("the address {address}"))?;
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
