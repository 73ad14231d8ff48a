//! The load generator: wrk, an established one, run on loopback pinned to its own CPU
//! with the server held to another; its report read into the figures the results keep.

use std::process::Command;

use crate::error::Harness;
use crate::error::{Error, Result};
use crate::results::Load;

/// wrk's settings: one thread is plenty for one CPU; 32 keep-alive connections.
pub const WRK_THREADS: usize = 1;
pub const WRK_CONNECTIONS: usize = 32;

/// Where the load generator and the servers run: apart, when the machine allows it.
pub struct Cpus {
    pub load: Option<&'static str>,
    pub server: Option<&'static str>,
}

impl Cpus {
    pub fn of_this_machine() -> Cpus {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores >= 2 {
            Cpus {
                load: Some("0"),
                server: Some("1"),
            }
        } else {
            Cpus {
                load: None,
                server: None,
            }
        }
    }

    pub fn says(&self) -> String {
        match (self.load, self.server) {
            (Some(load), Some(server)) => format!(
                "wrk pinned to CPU {load} (taskset), each server alone on CPU {server} \
                 (--cpuset-cpus)"
            ),
            _ => "wrk and the server share this machine's one CPU".into(),
        }
    }
}

/// What wrk measured in one round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The median round and the spread of all of them.
pub fn summarize(rounds: &[Round]) -> Load {
    let mut rates: Vec<f64> = rounds.iter().map(|r| r.requests_per_s).collect();
    let mut p50s: Vec<f64> = rounds.iter().map(|r| r.p50_ms).collect();
    let mut p99s: Vec<f64> = rounds.iter().map(|r| r.p99_ms).collect();
    let requests_per_s = median(&mut rates);
    Load {
        requests_per_s,
        requests_per_s_min: rates.first().copied().unwrap_or(f64::NAN),
        requests_per_s_max: rates.last().copied().unwrap_or(f64::NAN),
        p50_ms: median(&mut p50s),
        p99_ms: median(&mut p99s),
        p99_ms_max: p99s.last().copied().unwrap_or(f64::NAN),
    }
}

/// wrk's version line, or how to install it.
pub fn wrk_version() -> Result<String> {
    let output = Command::new("wrk").arg("--version").output().map_err(|_| {
        Error::Harness(
            "the comparison loads the servers with wrk, and it is not installed: \
             `sudo apt-get install wrk` (Debian, Ubuntu) or `brew install wrk`"
                .into(),
        )
    })?;
    // wrk prints its version and usage and exits with 1.
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let version = text
        .split_whitespace()
        .nth(1)
        .map(|version| version.trim_start_matches("debian/"))
        .unwrap_or("unknown");
    Ok(format!("wrk {version}"))
}

/// One run of wrk against `url`, pinned to the load CPU.
pub async fn wrk(url: &str, seconds: u64, cpus: &Cpus) -> Result<Round> {
    wrk_with(url, seconds, cpus, &[], 0.0).await
}

/// wrk asking for `Connection: close`: each connection carries one request and is then
/// closed by the server, so wrk opens a new one for the next. Requests per second are
/// then new connections accepted, answered and closed per second.
///
/// A closing connection can meet a read error now and then (a reset racing the close);
/// up to one in a thousand is tolerated, more refuses the round.
pub async fn wrk_new_connections(url: &str, seconds: u64, cpus: &Cpus) -> Result<Round> {
    wrk_with(url, seconds, cpus, &["-H", "Connection: close"], 0.001).await
}

async fn wrk_with(
    url: &str,
    seconds: u64,
    cpus: &Cpus,
    extra: &[&str],
    allowed_socket_errors: f64,
) -> Result<Round> {
    let mut command = match cpus.load {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpu, "wrk"]);
            command
        }
        None => Command::new("wrk"),
    };
    command.args([
        &format!("-t{WRK_THREADS}"),
        &format!("-c{WRK_CONNECTIONS}"),
        &format!("-d{seconds}s"),
        "--timeout",
        "2s",
        "--latency",
    ]);
    command.args(extra).arg(url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .harness("wrk")?
        .harness("wrk (and taskset) must run")?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        return Err(Error::Harness(format!(
            "wrk failed: {}{text}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    parse_wrk_allowing(&text, allowed_socket_errors)
}

/// Requests per second and the 50th and 99th percentile latencies of wrk's report;
/// a round with errors or non-200 answers is refused rather than averaged in.
pub fn parse_wrk(text: &str) -> Result<Round> {
    parse_wrk_allowing(text, 0.0)
}

/// `parse_wrk`, tolerating socket errors up to `allowed` of the requests (0.001: one in
/// a thousand); a non-2xx answer is never tolerated.
pub fn parse_wrk_allowing(text: &str, allowed: f64) -> Result<Round> {
    let refused = |why: &str| Error::Harness(format!("wrk's report {why}:\n{text}"));
    if text.contains("Non-2xx or 3xx responses") {
        return Err(refused("counts errors"));
    }
    if let Some(errors) = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Socket errors:"))
    {
        // "connect 0, read 12, write 0, timeout 0"
        let count: u64 = errors
            .split(',')
            .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        let requests: u64 = text
            .lines()
            .find_map(|line| {
                let (number, rest) = line.trim().split_once(' ')?;
                rest.starts_with("requests in")
                    .then(|| number.parse().ok())?
            })
            .unwrap_or(0);
        if count as f64 > allowed * requests as f64 {
            return Err(refused("counts errors"));
        }
    }
    let value_after = |label: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(str::trim)
    };
    let requests_per_s = value_after("Requests/sec:")
        .and_then(|rate| rate.parse().ok())
        .ok_or_else(|| refused("has no Requests/sec"))?;
    let p50_ms = value_after("50%")
        .and_then(milliseconds)
        .ok_or_else(|| refused("has no 50% latency (--latency)"))?;
    let p99_ms = value_after("99%")
        .and_then(milliseconds)
        .ok_or_else(|| refused("has no 99% latency (--latency)"))?;
    Ok(Round {
        requests_per_s,
        p50_ms,
        p99_ms,
    })
}

/// wrk's `485.00us`, `1.70ms`, `2.01s` in milliseconds.
fn milliseconds(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(number * factor)
}

/// The middle value (the upper one of an even count); sorts `values`, so that the
/// first and last are the lowest and highest afterwards.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
