//! `measure`: builds every step and records what the book shows, into
//! book/src/generated/results.json. Numbers are medians of several runs, and speed
//! is compared only within one run (ratios), never across machines or days.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::build::Change;
use crate::support::checks;
use crate::support::error::{Error, Result};
use crate::support::load::{self, Cpus, WRK_CONNECTIONS, WRK_THREADS, median};
use crate::support::publish::head_commit;
use crate::support::registry::{Registry, digest_of};
use crate::support::results::{
    LimitsResult, PlatformResult, PublishResult, PublishedPlatform, Results, StepResult,
};
use crate::support::running::{self, Hardening, Running};
use crate::support::tool::MEASURE;
use crate::support::{Files, Step, StepNumber, docker, layers, rust_image};

const STARTS: usize = 10;
/// Rounds of load per image: the book shows the median round and the range of all of them.
const LOAD_ROUNDS: usize = 5;
const LOAD_SECONDS: u64 = 5;
/// Load before the measured rounds, not counted: connections open, caches warm.
pub(crate) const WARM_UP_SECONDS: u64 = 1;

/// What to measure.
#[derive(clap::Args)]
pub struct Options {
    /// Sizes and counts only: no cold builds, starts or load.
    #[arg(long)]
    pub quick: bool,
    /// Everything but the cold builds and rebuilds, whose times are kept from the run
    /// before: the build cache is not pruned, so the tests stay warm.
    #[arg(long, conflicts_with = "quick")]
    pub skip_builds: bool,
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
    let wrk = if options.quick {
        None
    } else {
        Some(load::wrk_version()?)
    };
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
        let mut result = match measure_step(step, options, &runtime, say) {
            Ok(result) => result,
            Err(error) => {
                return Err(keep_what_was_measured(
                    results, options, &steps, index, error,
                ));
            }
        };
        if let (true, Some(before)) = (options.skip_builds, results.step(&step.slug)) {
            result.cold_build_s = before.cold_build_s;
            result.rebuild_s = before.rebuild_s;
            result.rebuild_manifest_s = before.rebuild_manifest_s;
            result.platforms = before.platforms.clone();
        }
        results.steps.retain(|known| known.slug != step.slug);
        results.steps.push(result);
    }
    results.steps.sort_by(|a, b| a.slug.cmp(&b.slug));
    stamp(&mut results, options, &steps, options.steps.is_empty())?;
    if let Some(wrk) = wrk {
        results.load_generator = Some(load_generator(&wrk, LOAD_SECONDS));
    }
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
    if !options.quick && !options.skip_builds {
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
    result.layers = image.sizes.layers;
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
        say(&format!(
            "load (wrk): {LOAD_ROUNDS} rounds of {LOAD_SECONDS} s"
        ));
        runtime.block_on(measure_load(&image.tag, &mut result))?;
        if step.facts.hardened {
            say("locked down: threads, a slow client, 2,000 connections");
            result.limits = Some(runtime.block_on(measure_limits(&image.tag))?);
        }
    }
    if !options.quick && !step.facts.publish.is_empty() {
        say("publish: one index for every platform, pushed; then again from nothing");
        result.publish = Some(measure_publish(step)?);
    }
    Ok(result)
}

/// Where, when and how the results were measured: the book prints it under every table.
/// A step failed: the steps before it are saved (stamped as a run of those steps
/// alone), so an hour of measuring is not lost, and the error says how to go on.
fn keep_what_was_measured(
    mut results: Results,
    options: &Options,
    steps: &[Step],
    failed: usize,
    error: Error,
) -> Error {
    let (done, left) = steps.split_at(failed);
    let numbers = |steps: &[Step]| {
        steps
            .iter()
            .map(|step| step.number.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !done.is_empty() {
        results.steps.sort_by(|a, b| a.slug.cmp(&b.slug));
        let saved = stamp(&mut results, options, done, false).and_then(|()| results.save());
        if let Err(why) = saved {
            eprintln!("could not save the steps measured before the failure: {why}");
        } else {
            eprintln!(
                "saved steps {} to {}; after fixing step {}, go on with: {MEASURE} --steps {}",
                numbers(done),
                Results::path().display(),
                left[0].slug,
                numbers(left)
            );
        }
    }
    error
}

/// What was measured, how, where and when. `every_step`: the run measured all steps
/// (its command names no `--steps`).
fn stamp(
    results: &mut Results,
    options: &Options,
    measured: &[Step],
    every_step: bool,
) -> Result<()> {
    (results.command, results.mode) = if options.quick {
        (
            format!("{MEASURE} --quick"),
            "quick: sizes and counts".into(),
        )
    } else if options.skip_builds {
        (format!("{MEASURE} --skip-builds"), "runtime".into())
    } else {
        (MEASURE.to_string(), "full".into())
    };
    results.last_run_steps.clear();
    if !every_step {
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
    results.docker = engine()?;
    Ok(())
}

/// The engine every run names where it says what it measured on: "Docker engine 28.5.2".
pub(crate) fn engine() -> Result<String> {
    Ok(format!(
        "Docker engine {}",
        docker::ok(&["version", "--format", "{{.Server.Version}}"])?
    ))
}

/// The image's layers gzip-compressed, as a push sends them: read from the layers, the
/// same figure on every image store (tests/support/layers.rs).
pub(crate) fn compressed_size(tag: &str) -> Result<u64> {
    let sizes = layers::sizes(tag, true)?;
    sizes
        .compressed
        .ok_or_else(|| Error::Harness(format!("no compressed size for {tag}")))
}

/// Starts a container of `tag` the harness's one way, and waits for its first PONG.
/// The step published to a registry on this machine with the book's command, then the
/// same commit built again from nothing and pushed beside it.
fn measure_publish(step: &Step) -> Result<PublishResult> {
    let published = step.publish_to(Registry::start()?, &step.facts.publish)?;
    let mut platforms = Vec::new();
    for (platform, digest) in &published.platforms {
        platforms.push(PublishedPlatform {
            platform: platform.clone(),
            digest: digest.clone(),
            compressed_bytes: published.compressed_size(digest)?,
        });
    }
    let (again, took) = step.republish_from_nothing(&published, &step.facts.publish)?;
    let rebuilt = digest_of(
        &published.registry,
        published.path(),
        &format!("{}-rebuilt", published.tag),
    )?;
    Ok(PublishResult {
        commit: head_commit()?,
        index_digest: published.index.clone(),
        same_platform_digests: again == published.platforms,
        platforms,
        push_s: published.took.as_secs_f64(),
        rebuild_from_nothing_s: took.as_secs_f64(),
        rebuilt_index_digest: rebuilt,
    })
}

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
    let cpus = Cpus::of_this_machine();
    let mut request = running::request(tag);
    if let Some(server) = cpus.server {
        request = running::pinned(request, server);
    }
    let container = Running::try_start(request).await?;
    let url = format!("{}/ping", container.url);
    load::wrk(&url, WARM_UP_SECONDS, &cpus).await?;
    let mut rounds = Vec::new();
    for _ in 0..LOAD_ROUNDS {
        rounds.push(load::wrk(&url, LOAD_SECONDS, &cpus).await?);
    }
    let load = load::summarize(&rounds);
    result.load_rounds = Some(rounds.len());
    result.requests_per_s = Some(load.requests_per_s);
    result.requests_per_s_min = Some(load.requests_per_s_min);
    result.requests_per_s_max = Some(load.requests_per_s_max);
    result.p50_ms = Some(load.p50_ms);
    result.p99_ms = Some(load.p99_ms);
    Ok(())
}

/// The service under its limits, started with the hardened flags: its threads and what
/// the `holds_http_limits` check's own code measures.
async fn measure_limits(tag: &str) -> Result<LimitsResult> {
    let container = Running::try_start(running::hardened(running::request(tag))).await?;
    let threads = container.kernel_status().await?.threads;
    Ok(LimitsResult {
        threads,
        memory_limit_bytes: Hardening::production().memory_bytes,
        ..checks::try_limits(&container).await?
    })
}

/// How `measure` loads a step, for the results: the generator and where it ran.
pub(crate) fn load_generator(wrk: &str, seconds: u64) -> String {
    format!(
        "{wrk}, {WRK_THREADS} thread, {WRK_CONNECTIONS} keep-alive connections, {seconds} s a round \
         after {WARM_UP_SECONDS} s of warm-up, on loopback; {}",
        Cpus::of_this_machine().says()
    )
}

/// Today's date (UTC), as the results record it.
pub(crate) fn today() -> String {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d"]).output();
    output
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default()
}
