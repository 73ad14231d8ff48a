//! `measure`: builds every step and records what the book shows, into
//! book/src/generated/results.json. Numbers are medians of several runs, and speed
//! is compared only within one run (ratios), never across machines or days.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::build::Change;
use crate::support::error::{Error, Result};
use crate::support::results::{PlatformResult, Results, StepResult};
use crate::support::running::{self, Running};
use crate::support::tool::MEASURE;
use crate::support::{Files, Step, StepNumber, docker, rust_image};

const STARTS: usize = 10;
/// Rounds of load per image: the book shows the median round and the range of all of them.
const LOAD_ROUNDS: usize = 5;
const LOAD_SECONDS: u64 = 5;
const LOAD_CONNECTIONS: usize = 32;
/// An upper bound on requests per round, whatever the machine: the load always stops.
const LOAD_MAX_REQUESTS: usize = 2_000_000;

/// What to measure.
#[derive(clap::Args)]
pub struct Options {
    /// Sizes and counts only: no cold builds, starts or load.
    #[arg(long)]
    pub quick: bool,
    /// Only these steps, e.g. --steps 01,06 (default: all).
    #[arg(long, value_delimiter = ',', value_parser = crate::step_number)]
    pub steps: Vec<StepNumber>,
}

impl Options {
    fn steps(&self) -> Result<Vec<Step>> {
        let all = Step::all()?;
        Ok(all
            .into_iter()
            .filter(|step| self.steps.is_empty() || self.steps.contains(&step.number))
            .collect())
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

pub fn run(options: &Options) -> Result<()> {
    docker::ready()?;
    let steps = options.steps()?;
    let progress = Progress {
        started: Instant::now(),
        total: steps.len(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::Harness(format!("a tokio runtime: {error}")))?;
    let mut results = Results::load()?.unwrap_or_default();
    for (index, step) in steps.iter().enumerate() {
        let say = |phase: &str| progress.say(index, &step.slug, phase);
        let result = measure_step(step, options, &runtime, say)?;
        results.steps.retain(|known| known.slug != step.slug);
        results.steps.push(result);
    }
    results.steps.sort_by(|a, b| a.slug.cmp(&b.slug));
    stamp(&mut results, options, &steps)?;
    results.save()?;
    eprintln!(
        "[{:>4.0}s] wrote {}",
        progress.started.elapsed().as_secs_f64(),
        Results::path().display()
    );
    Ok(())
}

/// Everything measured about one step; `say` tells the instructor which phase runs.
fn measure_step(
    step: &Step,
    options: &Options,
    runtime: &tokio::runtime::Runtime,
    say: impl Fn(&str),
) -> Result<StepResult> {
    let mut result = StepResult {
        slug: step.slug.clone(),
        ..StepResult::default()
    };
    if !options.quick {
        say("cold build (build cache pruned)");
        let _ = docker::run(&["builder", "prune", "--all", "--force"]);
        let started = Instant::now();
        step.try_build()?;
        result.cold_build_s = Some(started.elapsed().as_secs_f64());
        say("rebuild after a source-only change");
        let started = Instant::now();
        let rebuilt = step.rebuild_after(Change::SourceOnly)?;
        result.rebuild_s = Some(started.elapsed().as_secs_f64());
        rebuilt.remove();
        say("rebuild after a change to the manifests");
        let started = Instant::now();
        let rebuilt = step.rebuild_after(Change::PackageVersion)?;
        result.rebuild_manifest_s = Some(started.elapsed().as_secs_f64());
        rebuilt.remove();
        for platform in &step.facts.platforms {
            say(&format!("build for {platform}, and PONG under emulation"));
            let started = Instant::now();
            let image = step.try_build_for(platform)?;
            let build_s = started.elapsed().as_secs_f64();
            // Started and removed within the runtime, as every container here.
            let answered_after = runtime.block_on(async {
                let container = start(&image.tag).await?;
                Ok::<_, Error>(container.answered_after)
            })?;
            result.platforms.push(PlatformResult {
                platform: platform.clone(),
                size_bytes: image.size_bytes(),
                build_s: Some(build_s),
                run_to_pong_ms: Some(answered_after.as_secs_f64() * 1000.0),
            });
        }
    }
    say("build (cached) and sizes");
    let image = step.try_build()?;
    result.size_bytes = image.size_bytes();
    result.compressed_bytes = compressed_size(&image.tag)?;
    result.layers = image
        .inspect
        .root_fs
        .as_ref()
        .and_then(|root| root.layers.as_ref())
        .map_or(0, Vec::len);
    result.files = Files::of_image(&image.tag)?.own().len();
    if let Some(path) = image.service_binary()?
        && let Some(binary) = image.binary_bytes(&path)?
    {
        result.dependency_list_bytes = auditable_extract::raw_auditable_data(&binary)
            .ok()
            .map(|data| data.len() as u64);
    }
    if !options.quick {
        say(&format!("{STARTS} starts, idle memory, docker stop"));
        runtime.block_on(measure_runtime(&image.tag, &mut result))?;
        say(&format!("load: {LOAD_ROUNDS} rounds of {LOAD_SECONDS} s"));
        runtime.block_on(measure_load(&image.tag, &mut result))?;
    }
    Ok(result)
}

/// Where, when and how the results were measured: the book prints it under every table.
fn stamp(results: &mut Results, options: &Options, measured: &[Step]) -> Result<()> {
    (results.command, results.mode) = if options.quick {
        (
            format!("{MEASURE} --quick"),
            "quick: sizes and counts".into(),
        )
    } else {
        (MEASURE.to_string(), "full".into())
    };
    results.last_run_steps.clear();
    if !options.steps.is_empty() {
        let numbers: Vec<String> = measured
            .iter()
            .map(|step| step.number.to_string())
            .collect();
        results
            .command
            .push_str(&format!(" --steps {}", numbers.join(",")));
        results.last_run_steps = measured.iter().map(|step| step.slug.clone()).collect();
    }
    results.date = today();
    results.machine = format!(
        "{} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    results.toolchain = docker::ok(&["run", "--rm", &rust_image(), "rustc", "--version"])?;
    results.docker = format!(
        "Docker engine {}",
        docker::ok(&["version", "--format", "{{.Server.Version}}"])?
    );
    Ok(())
}

/// Bytes of `docker save` compressed with gzip: roughly what a registry transfers.
fn compressed_size(tag: &str) -> Result<u64> {
    let failed = |what: &str, error: std::io::Error| Error::Harness(format!("{what}: {error}"));
    let mut save = docker::command(&["save", tag])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| failed("docker save", error))?;
    let mut gzip = Command::new("gzip")
        .args(["-c", "-6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| failed("gzip (install it: it measures compressed sizes)", error))?;
    let (Some(mut stdout), Some(mut gzip_in), Some(mut gzip_out)) =
        (save.stdout.take(), gzip.stdin.take(), gzip.stdout.take())
    else {
        return Err(Error::Harness("docker save | gzip: no pipes".into()));
    };
    let feeder = std::thread::spawn(move || std::io::copy(&mut stdout, &mut gzip_in));
    let mut counted = 0u64;
    let mut buffer = [0u8; 1 << 16];
    loop {
        let read = gzip_out
            .read(&mut buffer)
            .map_err(|error| failed("read gzip's output", error))?;
        if read == 0 {
            break;
        }
        counted += read as u64;
    }
    let _ = feeder.join();
    let _ = save.wait();
    let _ = gzip.wait();
    Ok(counted)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Starts a container of `tag` the harness's one way, and waits for its first PONG.
async fn start(tag: &str) -> Result<Running> {
    Running::try_start(running::request(tag)).await
}

async fn measure_runtime(tag: &str, result: &mut StepResult) -> Result<()> {
    let mut latencies = Vec::new();
    for start_number in 0..STARTS {
        // Timed from the call that creates the container: creating it, its network
        // and the published port are part of what a user waits for.
        let container = start(tag).await?;
        latencies.push(container.answered_after.as_secs_f64() * 1000.0);
        if start_number + 1 < STARTS {
            continue;
        }
        // The last start: idle memory after one request, then docker stop.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let memory = container.memory().await?;
        result.idle_rss_kb = memory.rss_kb;
        result.idle_cgroup_kb = memory.cgroup_kb;
        let stopped = container.stop().await?;
        result.stop_s = Some(stopped.took.as_secs_f64());
        result.stop_exit_code = Some(stopped.exit_code);
    }
    result.run_to_pong_ms = Some(median(&mut latencies));
    Ok(())
}

async fn measure_load(tag: &str, result: &mut StepResult) -> Result<()> {
    let container = start(tag).await?;
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
    Ok(())
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

/// Today's date (UTC), as the results record it.
fn today() -> String {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d"]).output();
    output
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default()
}
