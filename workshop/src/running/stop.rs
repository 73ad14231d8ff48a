//! Pausing a running container, and stopping it: timed, with its exit code, and with
//! a request in flight that a graceful server answers before it exits.

use std::time::{Duration, Instant};

use super::Running;
use super::output::{Keep, Stream, output};
use crate::docker;
use crate::error::{Error, Harness, Result};

impl Running {
    /// `docker pause`: the service's processes are frozen, the kernel still completes
    /// connections to it and queues them, up to its listen backlog.
    pub async fn pause(&self) -> Result<()> {
        docker::api()?
            .pause_container(self.id())
            .await
            .harness_with(|| format!("docker pause {}", self.id()))
    }

    /// `docker unpause`.
    pub async fn unpause(&self) -> Result<()> {
        docker::api()?
            .unpause_container(self.id())
            .await
            .harness_with(|| format!("docker unpause {}", self.id()))
    }

    /// `docker stop`, timed, with the exit code.
    pub async fn stop(&self) -> Result<Stopped> {
        let id = self.id().to_string();
        let took = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            docker::ok(&["stop", &id]).map(|_| started.elapsed())
        })
        .await
        .harness("docker stop")??;
        let exit_code = self.state().await?.exit_code.unwrap_or(-1);
        Ok(Stopped { took, exit_code })
    }

    /// Sends half a request, runs `docker stop`, finishes the request, and returns the
    /// answer to it with what the stop did. A graceful server answers it before exiting.
    /// Ordered by events, not pauses: the rest of the request is sent only once the
    /// service has read the first half and has said that SIGTERM arrived.
    pub async fn stop_with_a_request_in_flight(&self) -> Result<InFlightStop> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.url.trim_start_matches("http://").to_string();
        let failed =
            |error: std::io::Error| Error::Harness(format!("a request to {address}: {error}"));
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(failed)?;
        stream
            .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n")
            .await
            .map_err(failed)?;
        self.wait_until_everything_sent_is_read(Duration::from_secs(10))
            .await?;

        let stop = self.stop();
        let finish = async {
            let signalled = self
                .wait_for_log_line(STOPPING, Duration::from_secs(5))
                .await;
            let _ = stream.write_all(b"Connection: close\r\n\r\n").await;
            let mut answer = String::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
                    .await;
            (signalled, answer)
        };
        let (stopped, (signalled, answer)) = tokio::join!(stop, finish);
        Ok(InFlightStop {
            signalled,
            answer,
            stopped: stopped?,
        })
    }

    /// Waits until the container has printed a line starting with `line`: whether it did.
    async fn wait_for_log_line(&self, line: &str, within: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            let printed = output(self.id(), Stream::Stdout, Keep::Head).await;
            if printed
                .unwrap_or_default()
                .lines()
                .any(|printed| printed.starts_with(line))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

/// What the service prints when SIGTERM (or SIGINT) arrives: src/main.rs.
pub const STOPPING: &str = "ping: stopping";

/// A `docker stop` with a request in flight: whether the service said SIGTERM arrived,
/// the answer the request got, and how the container stopped.
#[derive(Debug)]
pub struct InFlightStop {
    pub signalled: bool,
    pub answer: String,
    pub stopped: Stopped,
}

/// What `docker stop` did: how long it took and how the container exited.
#[derive(Debug)]
pub struct Stopped {
    pub took: Duration,
    pub exit_code: i64,
}
