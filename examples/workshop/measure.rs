//! `measure`: builds every step and records what the book shows, into
//! book/src/generated/results.json. Numbers are medians of several runs, and speed
//! is compared only within one run (ratios), never across machines or days.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::book::{self, Results, StepResult};
use crate::support::{Files, Step, docker};

const STARTS: usize = 10;
/// Rounds of load per image: the book shows the median round and the range of all of them.
const LOAD_ROUNDS: usize = 5;
const LOAD_SECONDS: u64 = 5;
const LOAD_CONNECTIONS: usize = 32;
/// An upper bound on requests per round, whatever the machine: the load always stops.
const LOAD_MAX_REQUESTS: usize = 2_000_000;

pub struct Options {
    pub quick: bool,
    pub steps: Option<Vec<String>>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            steps: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--steps" => {
                    let list = args
                        .next()
                        .ok_or("--steps needs a list, e.g. --steps 01,06")?;
                    options.steps = Some(list.split(',').map(|s| s.trim().to_string()).collect());
                }
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        Ok(options)
    }

    fn slugs(&self) -> Result<Vec<String>, String> {
        let all = book::step_slugs();
        let Some(wanted) = &self.steps else {
            return Ok(all);
        };
        wanted
            .iter()
            .map(|prefix| {
                all.iter()
                    .find(|slug| slug.starts_with(prefix.as_str()))
                    .cloned()
                    .ok_or_else(|| format!("no step {prefix:?}; steps are {}", all.join(", ")))
            })
            .collect()
    }
}

/// Says where the run is: which step, which phase, time spent, steps left.
struct Progress {
    started: Instant,
    total: usize,
}

impl Progress {
    fn say(&self, index: usize, slug: &str, phase: &str) {
        eprintln!(
            "[{:>4.0}s] step {}/{} {slug}: {phase} ({} left after this one)",
            self.started.elapsed().as_secs_f64(),
            index + 1,
            self.total,
            self.total - index - 1
        );
    }
}

pub fn run(options: &Options) {
    docker::ensure_ready();
    let slugs = options
        .slugs()
        .unwrap_or_else(|message| panic!("{message}"));
    let progress = Progress {
        started: Instant::now(),
        total: slugs.len(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut results = Results::load().unwrap_or_default();

    for (index, slug) in slugs.iter().enumerate() {
        let step = Step::get(slug);
        let mut result = StepResult {
            slug: slug.clone(),
            ..StepResult::default()
        };
        if !options.quick {
            progress.say(index, slug, "cold build (build cache pruned)");
            let _ = docker::run(&["builder", "prune", "--all", "--force"]);
            let started = Instant::now();
            step.build();
            result.cold_build_s = Some(started.elapsed().as_secs_f64());
            progress.say(index, slug, "rebuild after a source-only change");
            let started = Instant::now();
            step.rebuild_after_source_change();
            result.rebuild_s = Some(started.elapsed().as_secs_f64());
        }
        progress.say(index, slug, "build (cached) and sizes");
        let image = step.build();
        result.size_bytes = image.size_bytes();
        result.compressed_bytes = compressed_size(&image.tag);
        result.layers = docker::ok(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            &image.tag,
        ])
        .parse()
        .expect("layer count");
        result.files = Files::of_image(&image.tag).own().len();
        if !options.quick {
            progress.say(
                index,
                slug,
                &format!("{STARTS} starts, idle memory, docker stop"),
            );
            measure_runtime(&image.tag, &mut result);
            progress.say(
                index,
                slug,
                &format!("load: {LOAD_ROUNDS} rounds of {LOAD_SECONDS} s"),
            );
            runtime.block_on(measure_load(&image.tag, &mut result));
        }
        results.steps.retain(|known| known.slug != *slug);
        results.steps.push(result);
    }
    results.steps.sort_by(|a, b| a.slug.cmp(&b.slug));
    results.command = if options.quick {
        format!("{} --quick", book::MEASURE)
    } else {
        book::MEASURE.to_string()
    };
    results.mode = if options.quick {
        "quick: sizes and counts".into()
    } else {
        "full".into()
    };
    results.date = shell("date -u +%Y-%m-%d");
    results.machine = format!(
        "{} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    results.toolchain = docker::ok(&["run", "--rm", "rust:1.95-slim-trixie", "rustc", "--version"]);
    results.docker = format!(
        "Docker engine {}",
        docker::ok(&["version", "--format", "{{.Server.Version}}"])
    );
    let json = serde_json::to_string_pretty(&results).expect("results as JSON");
    std::fs::write(Results::path(), json + "\n").expect("write results.json");
    eprintln!(
        "[{:>4.0}s] wrote {}",
        progress.started.elapsed().as_secs_f64(),
        Results::path().display()
    );
}

fn shell(command: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("run sh");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Bytes of `docker save` compressed with gzip: roughly what a registry transfers.
fn compressed_size(tag: &str) -> u64 {
    let mut save = docker::command(&["save", tag])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker save");
    let mut stdout = save.stdout.take().expect("piped");
    let mut gzip = Command::new("gzip")
        .args(["-c", "-6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip (install it, it is needed to measure compressed sizes)");
    let mut gzip_in = gzip.stdin.take().expect("piped");
    let feeder = std::thread::spawn(move || std::io::copy(&mut stdout, &mut gzip_in));
    let mut counted = 0u64;
    let mut buffer = [0u8; 1 << 16];
    let mut gzip_out = gzip.stdout.take().expect("piped");
    loop {
        let read = gzip_out.read(&mut buffer).expect("read gzip output");
        if read == 0 {
            break;
        }
        counted += read as u64;
    }
    let _ = feeder.join();
    let _ = save.wait();
    let _ = gzip.wait();
    counted
}

/// A container started with the docker CLI, removed on drop.
struct Started {
    id: String,
    port: u16,
}

impl Started {
    fn run(tag: &str) -> Started {
        let id = docker::ok(&["run", "--detach", "--publish", "127.0.0.1::8080", tag]);
        let mapping = docker::ok(&["port", &id, "8080/tcp"]);
        let port = mapping
            .lines()
            .next()
            .and_then(|line| line.rsplit(':').next())
            .and_then(|p| p.parse().ok());
        Started {
            port: port.unwrap_or_else(|| panic!("no published port in {mapping:?}")),
            id,
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = docker::run(&["rm", "--force", &self.id]);
    }
}

fn pong_once(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: ping\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    // hyper answers an HTTP/1.0 request with an HTTP/1.0 status line.
    (answer.starts_with("HTTP/1.1 200 ") || answer.starts_with("HTTP/1.0 200 "))
        && answer.ends_with("PONG")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn measure_runtime(tag: &str, result: &mut StepResult) {
    let mut latencies = Vec::new();
    for start in 0..STARTS {
        // The clock starts before `docker run` is called: creating the container, its
        // network and the published port are part of what a user waits for.
        let started = Instant::now();
        let container = Started::run(tag);
        while !pong_once(container.port) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{tag} did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        if start + 1 < STARTS {
            continue;
        }
        // The last start: idle memory after one request, then docker stop.
        std::thread::sleep(Duration::from_secs(2));
        let top = docker::ok(&["top", &container.id, "-o", "pid,rss"]);
        result.idle_rss_kb = top
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
            .next();
        let stats = docker::ok(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}",
            &container.id,
        ]);
        result.idle_cgroup_kb = parse_memory_kb(stats.split('/').next().unwrap_or(""));
        let stop_started = Instant::now();
        docker::ok(&["stop", &container.id]);
        result.stop_s = Some(stop_started.elapsed().as_secs_f64());
        result.stop_exit_code =
            docker::ok(&["inspect", "--format", "{{.State.ExitCode}}", &container.id])
                .parse()
                .ok();
    }
    result.run_to_pong_ms = Some(median(&mut latencies));
}

/// "1.23MiB" -> 1259 (KiB are close enough to kB for a table).
fn parse_memory_kb(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim() {
        "B" => 1.0 / 1024.0,
        "KiB" | "kB" => 1.0,
        "MiB" | "MB" => 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor).round() as u64)
}

async fn measure_load(tag: &str, result: &mut StepResult) {
    let container = Started::run(tag);
    while !pong_once(container.port) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut rates, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LOAD_ROUNDS {
        let (rate, p50, p99) = load_round(container.port).await;
        rates.push(rate);
        p50s.push(p50);
        p99s.push(p99);
    }
    result.load_rounds = Some(rates.len());
    result.requests_per_s = Some(median(&mut rates));
    // median() sorted them: the slowest round first, the fastest last.
    result.requests_per_s_min = rates.first().copied();
    result.requests_per_s_max = rates.last().copied();
    result.p50_ms = Some(median(&mut p50s));
    result.p99_ms = Some(median(&mut p99s));
}

/// Keep-alive HTTP/1.1 connections sending GET /ping back to back, bounded in time and count.
async fn load_round(port: u16) -> (f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(LOAD_MAX_REQUESTS));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..LOAD_CONNECTIONS {
        let budget = budget.clone();
        workers.push(tokio::spawn(async move {
            use std::sync::atomic::Ordering;
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut latencies = Vec::new();
            let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                return latencies;
            };
            let _ = stream.set_nodelay(true);
            let mut buffer = vec![0u8; 4096];
            while Instant::now() < deadline && budget.fetch_sub(1, Ordering::Relaxed) > 0 {
                let sent = Instant::now();
                if stream
                    .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n\r\n")
                    .await
                    .is_err()
                {
                    break;
                }
                // One response: headers, then a 4-byte body (PONG).
                let mut filled = 0;
                let complete = loop {
                    match stream.read(&mut buffer[filled..]).await {
                        Ok(0) | Err(_) => break false,
                        Ok(read) => filled += read,
                    }
                    if buffer[..filled].ends_with(b"\r\n\r\nPONG") {
                        break true;
                    }
                    if filled == buffer.len() {
                        break false;
                    }
                };
                if !complete {
                    break;
                }
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (all.len() as f64 / elapsed, at(0.50), at(0.99))
}
