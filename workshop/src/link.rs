//! A slow link on this machine: a TCP proxy on loopback that carries what a server sends
//! at a set bandwidth, each way delayed by half a round trip, so that pulling an image
//! through it takes as long as it would over such a network. Nothing leaves loopback.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::error::{Harness, Result};

/// The link the book's pull times assume: a home or office line, 50 Mbit/s down, 20 ms
/// round trip.
pub const BITS_PER_SECOND: u64 = 50_000_000;
pub const ROUND_TRIP: Duration = Duration::from_millis(20);

/// A proxy on 127.0.0.1 in front of `upstream`, stopped when dropped.
pub struct SlowLink {
    pub address: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl SlowLink {
    /// Starts the proxy: every connection to `address` goes to `upstream`; what comes
    /// back shares `bits_per_second` with every other connection (one line), and each
    /// direction waits half of `round_trip`.
    pub async fn start(
        upstream: SocketAddr,
        bits_per_second: u64,
        round_trip: Duration,
    ) -> Result<SlowLink> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .harness("a port for the slow link")?;
        let address = listener.local_addr().harness("the slow link's address")?;
        let line = Arc::new(Mutex::new(Instant::now()));
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let line = Arc::clone(&line);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let half = round_trip / 2;
                    tokio::join!(
                        relay(client_read, server_write, half, None),
                        relay(
                            server_read,
                            client_write,
                            half,
                            Some((line, bits_per_second))
                        ),
                    );
                });
            }
        });
        Ok(SlowLink { address, accepting })
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Copies `from` to `to` as a link carries it: each chunk leaves once the shared line
/// (if `paced`, at its bandwidth) has sent what came before it, and arrives `delay`
/// later. Reading and writing are apart, so the delay is a pipe's length, not a pause
/// between chunks: one connection can fill the line. What waits in between is bounded
/// (IN_FLIGHT chunks), so a reader that stops stops the sender.
async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    paced: Option<(Arc<Mutex<Instant>>, u64)>,
) {
    const IN_FLIGHT: usize = 64;
    let (sent, mut arriving) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reading = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let mut leaves = Instant::now();
            if let Some((line, bits_per_second)) = &paced {
                let takes = Duration::from_secs_f64(read as f64 * 8.0 / *bits_per_second as f64);
                let Ok(mut free_at) = line.lock() else { break };
                leaves = (*free_at).max(leaves) + takes;
                *free_at = leaves;
            }
            if sent
                .send((leaves + delay, buffer[..read].to_vec()))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let writing = async move {
        while let Some((arrives, chunk)) = arriving.recv().await {
            tokio::time::sleep_until(arrives).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reading, writing);
}
