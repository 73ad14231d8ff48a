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
    /// The line it printed when it started listening.
    started: String,
    /// What it printed on stderr, read as it comes.
    stderr: Stderr,
}

/// A process's stderr, read by a thread of its own as it comes (so the pipe never
/// fills), the first 64 KiB kept.
#[derive(Clone, Default)]
struct Stderr(std::sync::Arc<std::sync::Mutex<String>>);

impl Stderr {
    fn of(child: &mut Child) -> Stderr {
        let said = Stderr::default();
        if let Some(mut stream) = child.stderr.take() {
            let kept = said.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(read) = stream.read(&mut chunk) {
                    if read == 0 {
                        break;
                    }
                    let mut text = kept.0.lock().unwrap();
                    if text.len() < 64 << 10 {
                        text.push_str(&String::from_utf8_lossy(&chunk[..read]));
                    }
                }
            });
        }
        said
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// A panic's message, if the process printed one. The image's build aborts on a
    /// panic (panic = "abort"); this debug build unwinds, and hyper closes the connection
    /// of a handler that panicked, an answer the tests would otherwise allow.
    fn panic(&self) -> Option<String> {
        let text = self.text();
        text.lines()
            .find(|line| line.contains("panicked at"))
            .map(|line| line.to_string())
    }
}

impl Service {
    /// Starts ping on a port nothing else holds, and returns once *this* ping listens.
    ///
    /// A port that was free a moment ago can be taken by a parallel test before ping binds it;
    /// probing the port would then reach the other test's server. So wait for ping's own
    /// "listening on" line instead, and try another port if ping says the port is taken.
    fn start() -> Service {
        Service::start_with("")
    }

    /// `start`, the shell commands `ulimits` run first (`ulimit -Sn 1024`), in the shell
    /// that then becomes ping.
    fn start_with(ulimits: &str) -> Service {
        let mut refused = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("sh")
                .args([
                    "-c",
                    &format!("{ulimits} exec \"$0\""),
                    &cargo_bin("ping").display().to_string(),
                ])
                .env("PORT", port.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the ping binary");
            let mut stdout = BufReader::new(child.stdout.take().expect("ping's stdout"));
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read ping's stdout");
            if line.starts_with("ping: listening on") {
                let stderr = Stderr::of(&mut child);
                return Service {
                    child,
                    port,
                    stdout: Some(stdout),
                    started: line.trim_end().to_string(),
                    stderr,
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

/// `method path` on a connection of its own, closed by the answer: its status and body.
fn request(service: &Service, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", service.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3)?.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body.to_string())
}

fn get(service: &Service, path: &str) -> (u16, String) {
    request(service, "GET", path)
}

/// The open-files limit of a running process, soft and hard, as /proc shows it.
fn open_files_limit(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read /proc limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("an open-files line");
    let mut words = line.split_whitespace().skip(3);
    let soft = words.next().unwrap_or_default().to_string();
    (soft, words.next().unwrap_or_default().to_string())
}

/// What a container gets on Docker Engine 25+ and containerd 2: 1,024 open files soft, a
/// higher hard limit. The service raises its soft limit to hold its 2,048 connections.
#[test]
fn it_raises_a_soft_open_files_limit_of_1024_to_hold_its_connections() {
    let hard = Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .expect("sh");
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_string();
    assert!(
        hard == "unlimited" || hard.parse::<u64>().is_ok_and(|hard| hard >= 2112),
        "this test needs a hard open-files limit of at least 2112, this shell has {hard}: \
         raise it (`ulimit -Hn 4096` as root) and rerun"
    );
    let service = Service::start_with("ulimit -Sn 1024 &&");
    assert_eq!(
        service.started,
        format!(
            "ping: listening on http://0.0.0.0:{}, at most 2048 connections",
            service.port
        )
    );
    assert_eq!(open_files_limit(service.child.id()).0, "2112");
}

/// Under a hard limit of 1,024 no raise fits: the service holds what the limit allows
/// and says so when it starts.
#[test]
fn under_a_hard_open_files_limit_of_1024_it_says_its_lower_cap() {
    let service = Service::start_with("ulimit -Sn 1024 && ulimit -Hn 1024 &&");
    assert_eq!(
        service.started,
        format!(
            "ping: listening on http://0.0.0.0:{}, at most 960 connections: the open-files \
             limit is too low for 2048 (docker run --ulimit nofile=4096)",
            service.port
        )
    );
    assert_eq!(
        open_files_limit(service.child.id()),
        ("1024".into(), "1024".into())
    );
    assert_eq!(get(&service, "/ping"), (200, "PONG".to_string()));
}

#[test]
fn get_ping_answers_pong() {
    let service = Service::start();
    assert_eq!(get(&service, "/ping"), (200, "PONG".to_string()));
}

#[test]
fn unknown_paths_are_404() {
    let service = Service::start();
    assert_eq!(get(&service, "/").0, 404);
    assert_eq!(get(&service, "/pong").0, 404);
}

#[test]
fn other_methods_on_ping_are_405() {
    let service = Service::start();
    for method in ["POST", "PUT", "DELETE"] {
        assert_eq!(request(&service, method, "/ping").0, 405, "{method} /ping");
    }
}

#[test]
fn a_malformed_request_gets_400_and_the_server_keeps_serving() {
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
    // Read to the end within the timeout: the service closed the connection after it.
    assert!(
        read.is_ok(),
        "after the 400 the connection stayed open: {read:?}"
    );
    assert_eq!(get(&service, "/ping"), (200, "PONG".to_string()));
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

/// How a fuzz input is sent: whole, or one byte per write (each its own segment).
#[derive(Clone, Copy, Debug)]
enum Delivery {
    Whole,
    ByteAtATime,
}

/// Inputs that once got an answer the service may not give, kept for good: tried first.
const REGRESSIONS: &[&[u8]] = &[];

/// What the service may answer to any input: PONG, a refusal, or closing the connection.
const ALLOWED: &[u16] = &[200, 400, 404, 405, 431];

/// Request heads around the service's limits (99–101 headers, heads of 8,191–8,193
/// bytes), with obs-fold, NUL bytes, Content-Length and Transfer-Encoding mixes and
/// pipelining, sent whole and byte at a time; then inputs mutated from a fixed seed for
/// a bounded time. Every answer must be one of ALLOWED or a clean close, within the
/// header timeout, and `/ping` must answer after each input.
#[test]
fn request_heads_around_the_limits_get_only_allowed_answers() {
    let service = Service::start();
    let mut inputs: Vec<(String, Vec<u8>)> = REGRESSIONS
        .iter()
        .enumerate()
        .map(|(index, input)| (format!("regression {index}"), input.to_vec()))
        .collect();
    inputs.extend(boundary_inputs());
    let mut seen = std::collections::BTreeMap::new();
    for (what, input) in &inputs {
        for delivery in [Delivery::Whole, Delivery::ByteAtATime] {
            let answered = try_input(&service, input, delivery)
                .unwrap_or_else(|why| panic!("{what} ({delivery:?}): {why}\ninput: {input:?}"));
            *seen.entry(answered).or_insert(0) += 1;
        }
    }
    // Mutations of a valid request, from a fixed seed: the same inputs on every run.
    let mut random = XorShift(0x5eed_1e55_f00d_cafe);
    let started = Instant::now();
    let mut mutated = 0;
    while mutated < 400 && started.elapsed() < Duration::from_secs(20) {
        let input = mutate(&mut random);
        let answered = try_input(&service, &input, Delivery::Whole).unwrap_or_else(|why| {
            panic!("mutation {mutated}: {why}\nkeep it in REGRESSIONS: {input:?}")
        });
        *seen.entry(answered).or_insert(0) += 1;
        mutated += 1;
    }
    println!(
        "{} boundary inputs (twice each) and {mutated} mutations: {seen:?}",
        inputs.len()
    );
    assert_eq!(
        service.stderr.panic(),
        None,
        "the service panicked on one of the inputs"
    );
}

/// The fuzz fails on a panic, however the connection ended: here a process that only
/// prints one, as the service's handler would before hyper closed its connection.
#[test]
fn a_panic_on_stderr_is_seen() {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "echo \"thread 'tokio-runtime-worker' panicked at src/main.rs:1:1:\" >&2",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Stderr::of(&mut child);
    child.wait().unwrap();
    let started = Instant::now();
    while stderr.panic().is_none() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        stderr
            .panic()
            .is_some_and(|line| line.contains("panicked at src/main.rs"))
    );
}

/// The first status of each answer the service gave to `input`, or None for a clean
/// close; an error if it answered anything not ALLOWED, held the connection past the
/// header timeout without a word, or stopped answering `/ping` afterwards.
fn try_input(service: &Service, input: &[u8], delivery: Delivery) -> Result<Option<u16>, String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", service.port)).map_err(|error| error.to_string())?;
    stream
        .set_nodelay(true)
        .map_err(|error| error.to_string())?;
    // The service may answer and close before reading everything: not an error.
    let _ = match delivery {
        Delivery::Whole => stream.write_all(input),
        Delivery::ByteAtATime => input
            .iter()
            .try_for_each(|byte| stream.write_all(std::slice::from_ref(byte))),
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            // Quiet for 100 ms after an answer: the connection is kept alive, done.
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if !answer.is_empty() {
                    break;
                }
            }
            // Reset by the service: a close too.
            Err(_) => break,
        }
        if started.elapsed() > Duration::from_secs(7) {
            return Err(format!(
                "neither answered nor closed within 7 s (got {:?})",
                String::from_utf8_lossy(&answer)
            ));
        }
    }
    if let Some(panic) = service.stderr.panic() {
        return Err(format!("the service panicked: {panic}"));
    }
    let statuses = statuses_of(&answer);
    if let Some(status) = statuses.iter().find(|status| !ALLOWED.contains(status)) {
        return Err(format!(
            "answered {status}: {:?}",
            String::from_utf8_lossy(&answer)
        ));
    }
    if !answer.is_empty() && statuses.is_empty() {
        return Err(format!(
            "sent bytes that are no HTTP answer: {:?}",
            String::from_utf8_lossy(&answer)
        ));
    }
    drop(stream);
    ping_answers(service.port)?;
    Ok(statuses.first().copied())
}

/// The status of every answer in `bytes` (one per answer, pipelined answers included):
/// a status line at the start or right after the end of an answer.
fn statuses_of(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    let starts_an_answer =
        |at: usize| at == 0 || text[..at].ends_with("\r\n\r\n") || text[..at].ends_with("PONG");
    ["HTTP/1.1 ", "HTTP/1.0 "]
        .iter()
        .flat_map(|version| text.match_indices(version))
        .filter(|(at, _)| starts_an_answer(*at))
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

/// GET /ping on a new connection answers 200 PONG.
fn ping_answers(port: u16) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|error| error.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|error| error.to_string())?;
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\nConnection: close\r\n\r\n")
        .map_err(|error| error.to_string())?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    if answer.starts_with("HTTP/1.1 200") && answer.ends_with("\r\n\r\nPONG") {
        Ok(())
    } else {
        Err(format!("afterwards GET /ping got {answer:?}"))
    }
}

/// A head of exactly `length` bytes: GET /ping with a padding header.
fn head_of_length(length: usize) -> Vec<u8> {
    let start = b"GET /ping HTTP/1.1\r\nHost: ping\r\nX-Padding: ".to_vec();
    let end = b"\r\n\r\n";
    let mut head = start.clone();
    head.resize(length.saturating_sub(end.len()).max(start.len()), b'a');
    head.extend_from_slice(end);
    head
}

/// GET /ping with `count` headers in all, Host included.
fn head_with_headers(count: usize) -> Vec<u8> {
    let mut head = b"GET /ping HTTP/1.1\r\nHost: ping\r\n".to_vec();
    for header in 1..count {
        head.extend(format!("X-Header-{header}: {header}\r\n").bytes());
    }
    head.extend(b"\r\n");
    head
}

fn boundary_inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    for count in 98..=102 {
        inputs.push((format!("{count} headers"), head_with_headers(count)));
    }
    for length in 8190..=8194 {
        inputs.push((format!("a head of {length} bytes"), head_of_length(length)));
    }
    let get = |rest: &str| format!("GET /ping HTTP/1.1\r\nHost: ping\r\n{rest}\r\n").into_bytes();
    let post = |rest: &str| format!("POST /ping HTTP/1.1\r\nHost: ping\r\n{rest}").into_bytes();
    let named: Vec<(&str, Vec<u8>)> = vec![
        ("obs-fold", get("X-Folded: a\r\n b\r\n")),
        (
            "obs-fold of Host",
            b"GET /ping HTTP/1.1\r\nHost: ping\r\n ping2\r\n\r\n".to_vec(),
        ),
        ("NUL in a value", get("X-Nul: a\0b\r\n")),
        ("NUL in a name", get("X-N\0ul: a\r\n")),
        (
            "NUL in the path",
            b"GET /pi\0ng HTTP/1.1\r\nHost: ping\r\n\r\n".to_vec(),
        ),
        (
            "Content-Length and Transfer-Encoding",
            post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding not ending in chunked",
            post("Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding: identity",
            post("Transfer-Encoding: identity\r\n\r\nab"),
        ),
        (
            "two Transfer-Encoding headers",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ),
        (
            "a space before the colon",
            post("Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
        ),
        (
            "a negative Content-Length",
            post("Content-Length: -1\r\n\r\n"),
        ),
        (
            "a listed Content-Length",
            post("Content-Length: 1, 1\r\n\r\na"),
        ),
        (
            "an overflowing Content-Length",
            post("Content-Length: 18446744073709551616\r\n\r\n"),
        ),
        (
            "a bad chunk size",
            post("Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"),
        ),
        ("a body on GET", get("Content-Length: 3\r\n\r\nabc")),
        ("three pipelined GETs", [get(""), get(""), get("")].concat()),
        (
            "a GET, then garbage",
            [get(""), b"NOT HTTP\r\n\r\n".to_vec()].concat(),
        ),
        (
            "bare LF line ends",
            b"GET /ping HTTP/1.1\nHost: ping\n\n".to_vec(),
        ),
        (
            "bare CR line ends",
            b"GET /ping HTTP/1.1\rHost: ping\r\r".to_vec(),
        ),
        (
            "a lowercase method",
            b"get /ping HTTP/1.1\r\nHost: ping\r\n\r\n".to_vec(),
        ),
        (
            "absolute form",
            b"GET http://ping/ping HTTP/1.1\r\nHost: ping\r\n\r\n".to_vec(),
        ),
        (
            "HTTP/1.0 without Host",
            b"GET /ping HTTP/1.0\r\n\r\n".to_vec(),
        ),
        ("no Host", b"GET /ping HTTP/1.1\r\n\r\n".to_vec()),
        ("two Hosts", get("Host: other\r\n")),
        (
            "Expect: 100-continue",
            post("Expect: 100-continue\r\nContent-Length: 2\r\n\r\nab"),
        ),
        ("a header without a colon", get("X-No-Colon\r\n")),
        ("an empty header name", get(": value\r\n")),
        ("a control byte in a value", get("X-Bell: \x07\r\n")),
        (
            "bytes over 127 in a value",
            [get("").as_slice(), b"X-High: \xff\xfe\r\n\r\n"].concat(),
        ),
        (
            "an 8 KiB method",
            format!("{} /ping HTTP/1.1\r\n\r\n", "G".repeat(8192)).into_bytes(),
        ),
        ("nothing but CRLF", b"\r\n\r\n\r\n".to_vec()),
        (
            "CRLF before the request",
            [b"\r\n".to_vec(), get("")].concat(),
        ),
    ];
    inputs.extend(
        named
            .into_iter()
            .map(|(what, input)| (what.to_string(), input)),
    );
    inputs
}

/// A small, seeded pseudo-random generator (xorshift64): the same inputs every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// A valid request with a few random edits: a byte inserted, deleted or replaced, a
/// line repeated, a line end changed.
fn mutate(random: &mut XorShift) -> Vec<u8> {
    const BYTES: &[u8] = b"\0\r\n :\t,;\x7f\xffaZ0-";
    let mut input =
        b"POST /ping HTTP/1.1\r\nHost: ping\r\nContent-Length: 2\r\nX-A: b\r\n\r\nab".to_vec();
    for _ in 0..1 + random.below(4) {
        let at = random.below(input.len());
        match random.below(5) {
            0 => input.insert(at, BYTES[random.below(BYTES.len())]),
            1 => {
                input.remove(at);
            }
            2 => input[at] = BYTES[random.below(BYTES.len())],
            3 => {
                let line: Vec<u8> = input[at..]
                    .split(|byte| *byte == b'\n')
                    .next()
                    .unwrap_or_default()
                    .to_vec();
                input.splice(at..at, line.into_iter().chain([b'\n']));
            }
            _ => {
                if let Some(crlf) = input.windows(2).position(|pair| pair == b"\r\n") {
                    input.remove(crlf);
                }
            }
        }
    }
    input
}
