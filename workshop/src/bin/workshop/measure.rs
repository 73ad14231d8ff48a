//! `measure`: builds every step and records what the book shows, into
//! book/src/generated/results.json. Numbers are medians of several runs, and speed
//! is compared only within one run (ratios), never across machines or days.

use std::process::Command;
use std::time::{Duration, Instant};

use workshop::build::Change;
use workshop::checks;
use workshop::error::Harness;
use workshop::error::{Error, Result};
use workshop::hardening::Hardening;
use workshop::learner;
use workshop::load::{self, Cpus, WRK_CONNECTIONS, WRK_THREADS, median};
use workshop::publish::head_commit;
use workshop::registry::{Registry, digest_of};
use workshop::results::{
    BuildNoise, LimitsResult, PlatformResult, PublishResult, PublishedPlatform, Results, StepResult,
};
use workshop::running::{self, Running};
use workshop::tool::MEASURE;
use workshop::{Files, Step, StepNumber, docker, layers, rust_image};

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

/// A name for a new run: when it started, to the minute, in UTC.
pub(crate) fn new_run() -> String {
    let output = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .filter(|output| output.status.success());
    output.map_or_else(today, |output| {
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    })
}

pub fn run(options: &Options) -> Result<()> {
    docker::ready()?;
    let run = new_run();
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
        .harness("a tokio runtime")?;
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
        result.run = run.clone();
        results.steps.retain(|known| known.slug != step.slug);
        results.steps.push(result);
    }
    results.steps.sort_by(|a, b| a.slug.cmp(&b.slug));
    if !options.quick && !options.skip_builds {
        results.build_noise = measure_noise(&steps, &results, &progress)?;
    }
    stamp(&mut results, options, &steps, options.steps.is_empty())?;
    results.run = run.clone();
    if let Some(wrk) = wrk {
        results.load_generator = Some(load_generator(&wrk, LOAD_SECONDS));
    }
    results.save()?;
    eprintln!(
        "[{:>4.0}s] wrote {}",
        progress.started.elapsed().as_secs_f64(),
        Results::path().display()
    );
    // Every step, every figure: the comparison and the trade-offs in the same run, so
    // that the book shows one run.
    if options.steps.is_empty() && !options.quick && !options.skip_builds {
        eprintln!(
            "[{:>4.0}s] the comparison with the Go service",
            progress.started.elapsed().as_secs_f64()
        );
        crate::compare::run_as(
            &crate::compare::Options {
                rounds: 5,
                seconds: 5,
            },
            &run,
        )?;
        eprintln!(
            "[{:>4.0}s] the trade-offs",
            progress.started.elapsed().as_secs_f64()
        );
        crate::trades::run_as(&run)?;
    }
    Ok(())
}

/// The step whose cold build is repeated to show how much cold builds vary by themselves:
/// the one the book compares with its neighbour (05 does not build faster cold).
const NOISE_STEP: u8 = 4;
/// Cold builds of that step in all, the one measured with the step included.
const NOISE_BUILDS: usize = 3;

/// The noise step built cold again until it has [`NOISE_BUILDS`] cold builds, when this
/// run measured it; otherwise nothing.
fn measure_noise(
    steps: &[Step],
    results: &Results,
    progress: &Progress,
) -> Result<Option<BuildNoise>> {
    let Some((index, step)) = steps
        .iter()
        .enumerate()
        .find(|(_, step)| step.number.get() == NOISE_STEP)
    else {
        return Ok(None);
    };
    let Some(first) = results
        .step(&step.slug)
        .and_then(|result| result.cold_build_s)
    else {
        return Ok(None);
    };
    let mut noise = BuildNoise {
        slug: step.slug.clone(),
        builds_s: vec![first],
    };
    while noise.builds_s.len() < NOISE_BUILDS {
        progress.say(
            index,
            &step.slug,
            &format!(
                "cold build again, {} of {NOISE_BUILDS}: how much cold builds vary",
                noise.builds_s.len() + 1
            ),
        );
        let _ = docker::run(&["builder", "prune", "--all", "--force"]);
        let started = Instant::now();
        step.try_build()?;
        noise.builds_s.push(started.elapsed().as_secs_f64());
    }
    Ok(Some(noise))
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
    if !options.quick {
        say("pushed to a registry, pulled whole over a 50 Mbit/s, 20 ms link");
        result.pull_slow_link_s = Some(runtime.block_on(measure_pull(&image.tag))?);
    }
    if !options.quick {
        say("`cargo workshop check` of the reference files as a learner's, warm");
        let (whole, first) = runtime.block_on(measure_check(step))?;
        result.check_warm_s = Some(whole);
        result.first_verdict_s = Some(first);
    }
    Ok(result)
}

/// `tag` pushed to a registry on this machine, then pulled whole (every layer, into an
/// OCI folder, as a machine that has none of them) through a slow link on loopback:
/// seconds.
async fn measure_pull(tag: &str) -> Result<f64> {
    use workshop::link::{BITS_PER_SECOND, ROUND_TRIP, SlowLink};
    let registry = tokio::task::spawn_blocking(workshop::registry::Registry::start)
        .await
        .harness("starting a registry")??;
    let pushed = format!(
        "{}/workshop/pull:{}",
        registry.address,
        tag.replace([':', '/'], "-")
    );
    docker::ok(&["tag", tag, &pushed])?;
    let push = docker::run(&["push", "--quiet", &pushed]);
    let _ = docker::run(&["image", "rm", &pushed]);
    if !push.status.success() {
        return Err(Error::Harness(format!(
            "docker push {pushed}: {}",
            String::from_utf8_lossy(&push.stderr)
        )));
    }
    let upstream: std::net::SocketAddr = registry
        .address
        .replace("localhost", "127.0.0.1")
        .parse()
        .harness_with(|| format!("the registry's address {}", registry.address))?;
    let link = SlowLink::start(upstream, BITS_PER_SECOND, ROUND_TRIP).await?;
    let through = pushed.replacen(&registry.address, &link.address.to_string(), 1);
    // A pull of minutes can lose its connection; the figure is a whole pull's, so a
    // broken one is tried once more (and said), never counted.
    let mut broken = None;
    for _ in 0..2 {
        let folder = workshop::files::PrivateDir::new("pull")?;
        let started = Instant::now();
        let pulled = tokio::process::Command::new("crane")
            .args(["pull", "--insecure", "--format", "oci", &through])
            .arg(folder.path().join("image"))
            .output()
            .await
            .harness("cannot run crane (setup.sh installs it)")?;
        let took = started.elapsed().as_secs_f64();
        if pulled.status.success() {
            return Ok(took);
        }
        let said = String::from_utf8_lossy(&pulled.stderr).trim().to_string();
        eprintln!("  the pull broke after {took:.0} s ({said}): pulling again");
        broken = Some(said);
    }
    Err(Error::Harness(format!(
        "crane pull {through} broke twice: {}",
        broken.unwrap_or_default()
    )))
}

/// A learner's check of the step's reference files, warm: run once to fill the
/// learner's own cache mounts, then timed, the whole check and its first verdict after
/// the build (seconds). Its checks must pass, as the reference's do.
async fn measure_check(step: &Step) -> Result<(f64, f64)> {
    let file = workshop::repo_root().join(step.reference_file());
    let tag = format!("{}-measured", step.image);
    let mut timed = (0.0, 0.0);
    for _ in 0..2 {
        let yours = step.learners(&file, &tag)?;
        let started = Instant::now();
        let built = learner::build(yours).await;
        let built_at = Instant::now();
        // The report's head comes first; the first check's line is the first verdict.
        let (mut parts, mut first) = (0, None);
        let report = learner::report_telling(step, built, &mut |_| {
            parts += 1;
            if parts == 2 {
                first = Some(built_at.elapsed());
            }
        })
        .await;
        if !report.passed() {
            return Err(Error::Harness(format!(
                "the reference, checked as a learner's file, fails:\n{report}"
            )));
        }
        timed = (
            started.elapsed().as_secs_f64(),
            first.unwrap_or_default().as_secs_f64(),
        );
    }
    let _ = docker::run(&["image", "rm", &tag]);
    Ok(timed)
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
    let label = docker::ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"org.opencontainers.image.description\"}}",
        &rust_image(),
    ])
    .unwrap_or_default();
    results.base_images = if label.contains("prepared locally") {
        format!("{label} (not Docker Hub's: their layers differ)")
    } else {
        "pulled from Docker Hub".into()
    };
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
/// same figure on every image store (workshop/src/layers.rs).
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
