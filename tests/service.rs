//! The ping service itself, without Docker: the built binary, run as a process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;

/// A running `ping` on a free port, killed on drop.
struct Service {
    child: Child,
    port: u16,
    /// Kept open: ping prints "stopped" when it ends (`close_stdout` tries the other case).
    stdout: Option<BufReader<ChildStdout>>,
}

impl Service {
    /// Starts ping on a port nothing else holds, and returns once *this* ping listens.
    ///
    /// A port that was free a moment ago can be taken by a parallel test before ping binds it;
    /// probing the port would then reach the other test's server. So wait for ping's own
    /// "listening on" line instead, and try another port if ping says the port is taken.
    fn start() -> Service {
        let mut refused = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(cargo_bin("ping"))
                .env("PORT", port.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the ping binary");
            let mut stdout = BufReader::new(child.stdout.take().expect("ping's stdout"));
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read ping's stdout");
            if line.starts_with("ping: listening on") {
                return Service {
                    child,
                    port,
                    stdout: Some(stdout),
                };
            }
            // No line: ping ended before listening. Only a taken port is worth another try.
            let mut stderr = String::new();
            let _ = child
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut stderr));
            let status = child.wait().expect("wait for ping");
            assert!(
                stderr.contains("cannot listen"),
                "ping did not start on port {port} ({status}): {line}{stderr}"
            );
            refused.push(stderr);
        }
        panic!("ping could not listen on 5 free ports: {refused:?}");
    }

    /// Closes the reading end of ping's stdout, as a log collector that died would.
    fn close_stdout(&mut self) {
        self.stdout = None;
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends `signal` at once (no `kill` process in between: the tests are about timing).
    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for the process to exit; None if it is still running after `limit`.
    fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let response = client().get(url).send().await.expect("request");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn get_ping_answers_pong() {
    let service = Service::start();
    assert_eq!(get(&service.url("/ping")).await, (200, "PONG".to_string()));
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let service = Service::start();
    assert_eq!(get(&service.url("/")).await.0, 404);
    assert_eq!(get(&service.url("/pong")).await.0, 404);
}

#[tokio::test]
async fn other_methods_on_ping_are_405() {
    let service = Service::start();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = client()
            .request(method.clone(), service.url("/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} /ping");
    }
}

#[tokio::test]
async fn a_malformed_request_gets_400_and_the_server_keeps_serving() {
    let service = Service::start();
    let mut stream = TcpStream::connect(("127.0.0.1", service.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"THIS IS NOT HTTP\r\n\r\n").unwrap();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "expected a 400 answer, got {answer:?} ({read:?})"
    );
    assert_eq!(get(&service.url("/ping")).await, (200, "PONG".to_string()));
}

#[test]
fn sigterm_stops_it_with_exit_code_0_within_a_second() {
    let mut service = Service::start();
    service.signal(libc::SIGTERM);
    let status = service
        .exit_within(Duration::from_secs(1))
        .expect("ping still runs 1 s after SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

/// `docker stop` can come the moment the service is up: its handlers must already be
/// installed when it says it listens, or SIGTERM kills it (or, as PID 1, is ignored).
#[test]
fn a_sigterm_right_after_it_says_it_listens_still_stops_it_cleanly() {
    for attempt in 1..=30 {
        let mut service = Service::start();
        service.signal(libc::SIGTERM);
        let status = service
            .exit_within(Duration::from_secs(1))
            .expect("ping still runs 1 s after SIGTERM");
        assert_eq!(
            status.code(),
            Some(0),
            "attempt {attempt}: {status} after a SIGTERM sent as soon as ping said it listens"
        );
    }
}

#[test]
fn sigint_stops_it_with_exit_code_0_within_a_second() {
    let mut service = Service::start();
    service.signal(libc::SIGINT);
    let status = service
        .exit_within(Duration::from_secs(1))
        .expect("ping still runs 1 s after SIGINT");
    assert_eq!(status.code(), Some(0), "exit status after SIGINT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_in_flight_when_sigterm_arrives_still_completes() {
    let mut service = Service::start();
    // Open a connection and send half a request, so the server has work in flight.
    let mut stream = TcpStream::connect(("127.0.0.1", service.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    service.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(b"Connection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("PONG"),
        "got {answer:?}"
    );
    assert_eq!(
        service
            .exit_within(Duration::from_secs(2))
            .and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn healthcheck_exits_0_against_a_live_service() {
    let service = Service::start();
    assert_cmd::Command::cargo_bin("ping")
        .unwrap()
        .arg("healthcheck")
        .env("PORT", service.port.to_string())
        .timeout(Duration::from_secs(10))
        .assert()
        .success();
}

#[test]
fn healthcheck_exits_1_when_nothing_listens() {
    // Bound but not listening: the port stays ours (no parallel test can serve on it), and
    // a connection to it is refused.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = held.local_addr().unwrap().port();
    assert_cmd::Command::cargo_bin("ping")
        .unwrap()
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("unhealthy"));
}

#[test]
fn healthcheck_exits_1_when_something_else_answers() {
    // A server that answers every request with 404, like a wrong service on the port.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    });
    assert_cmd::Command::cargo_bin("ping")
        .unwrap()
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1);
}

#[test]
fn an_invalid_port_is_refused_with_a_clear_message() {
    for bad in ["eighty", "70000", "0", ""] {
        assert_cmd::Command::cargo_bin("ping")
            .unwrap()
            .env("PORT", bad)
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "PORT must be a port number from 1 to 65535",
            ));
    }
}

#[test]
fn an_invalid_worker_count_is_refused_with_a_clear_message() {
    for bad in ["many", "0", "17", ""] {
        assert_cmd::Command::cargo_bin("ping")
            .unwrap()
            .env("PING_WORKERS", bad)
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "PING_WORKERS must be a number from 1 to 16",
            ));
    }
}

#[test]
fn a_port_in_use_is_refused_with_a_clear_message() {
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    assert_cmd::Command::cargo_bin("ping")
        .unwrap()
        .env("PORT", port.to_string())
        .timeout(Duration::from_secs(10))
        .assert()
        .failure()
        .stderr(predicates::str::contains(format!(
            "cannot listen on 0.0.0.0:{port}"
        )));
}

#[test]
fn an_unknown_command_is_refused_with_usage() {
    assert_cmd::Command::cargo_bin("ping")
        .unwrap()
        .arg("pong")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "Usage: ping [serve | healthcheck]",
        ));
}

/// Bytes that are not UTF-8 are a mistake to name, not a reason to use the default.
#[test]
fn settings_that_are_not_text_are_refused_not_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let not_text = std::ffi::OsStr::from_bytes(b"80\xff");
    for (name, says) in [
        ("PORT", "PORT is not text"),
        ("PING_WORKERS", "PING_WORKERS is not text"),
    ] {
        assert_cmd::Command::cargo_bin("ping")
            .unwrap()
            .env(name, not_text)
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(predicates::str::contains(says));
    }
}

/// Docker reads exit code 1 as unhealthy and 2 as reserved: the health check must not
/// fail over a setting only the server uses.
#[test]
fn healthcheck_ignores_the_worker_count() {
    let service = Service::start();
    assert_cmd::Command::cargo_bin("ping")
        .unwrap()
        .arg("healthcheck")
        .env("PORT", service.port.to_string())
        .env("PING_WORKERS", "0")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(0);
}

/// A log collector that died leaves stdout a pipe with no reader: SIGTERM must still end
/// in a graceful stop (exit 0), not in a panic on the broken pipe (SIGABRT).
#[test]
fn sigterm_stops_it_cleanly_when_nobody_reads_its_output() {
    let mut service = Service::start();
    service.close_stdout();
    service.signal(libc::SIGTERM);
    let status = service
        .exit_within(Duration::from_secs(2))
        .expect("ping still runs 2 s after SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "{status} after SIGTERM with stdout closed"
    );
}
