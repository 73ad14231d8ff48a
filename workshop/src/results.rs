//! The measurements the book shows: `book/src/generated/results.json`, written by
//! `instructor measure`, read by the book, the size checks and learner reports.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Harness;
use crate::error::{Error, Result, io};
use crate::step::Step;
use crate::tool::MEASURE;
use crate::{MB, repo_root};

/// Where generated files live, relative to the repository.
pub const DIR: &str = "book/src/generated";

/// The measurements, as `instructor measure` writes them.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Results {
    /// The run that measured everything below (`2026-12-07 05:30 UTC`): every record
    /// carries the run it came from, and the book is made from one run only.
    #[serde(default)]
    pub run: String,
    /// How the base images the steps start from were made: pulled, or prepared locally
    /// by steps/00-base-images/prepare.sh (they then differ from Docker Hub's in layers).
    #[serde(default)]
    pub base_images: String,
    pub command: String,
    pub date: String,
    pub mode: String,
    pub machine: String,
    pub toolchain: String,
    pub docker: String,
    /// The steps the run described above measured, when it measured only some
    /// (`--steps`); the others come from an earlier run. Empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_run_steps: Vec<String>,
    /// How the steps were loaded (wrk, its settings, the CPUs); absent in results of
    /// runs made with the workshop's own generator before wrk replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_generator: Option<String>,
    pub steps: Vec<StepResult>,
    /// One step built cold several times in the run (its build cache pruned before
    /// each): how much a cold build's time varies on this machine by itself. Build times
    /// closer than that say nothing about the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_noise: Option<BuildNoise>,
    /// Ours beside the article's Go service, from `instructor compare` (its own run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// What two of the book's trade-offs measure, from `instructor trades` (its own run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trades: Option<Trades>,
}

/// `instructor trades`: one step built twice or more, one thing changed each time.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Trades {
    /// The run that measured them.
    #[serde(default)]
    pub run: String,
    pub command: String,
    pub date: String,
    pub docker: String,
    /// Step 07 as it is (`panic = "abort"`) and with `panic = "unwind"`.
    pub panic: Vec<PanicVariant>,
    /// Step 05's image with each form of its command, stopped by `docker stop`.
    pub stops: Vec<StopForm>,
    /// Step 09 and its cargo-chef alternative, built the way a CI runner builds them.
    #[serde(default)]
    pub ci: Vec<CiBuilds>,
}

/// One Dockerfile built as CI builds it: on a fresh runner with nothing, on a fresh
/// runner given the cache a previous run exported, and again on the same builder.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CiBuilds {
    /// The Dockerfile, relative to the repository.
    pub dockerfile: String,
    /// What `--cache-to type=local,mode=max` wrote: what a CI cache stores and restores.
    pub exported_bytes: u64,
    /// A fresh runner without a cache: the cold build.
    pub cold: CiBuild,
    /// A fresh runner given the exported cache (`--cache-from`), after a source change.
    pub imported: CiBuild,
    /// The same builder again, after a source change: the laptop's case.
    pub kept: CiBuild,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CiBuild {
    pub build_s: f64,
    /// The crates cargo compiled, the service included.
    pub crates_compiled: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PanicVariant {
    /// The dist profile's `panic` setting: "abort" or "unwind".
    pub panic: String,
    pub binary_bytes: u64,
    pub size_bytes: u64,
    pub compressed_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StopForm {
    /// The Dockerfile's command line, as written.
    pub instruction: String,
    /// What runs as PID 1 in the container (`/proc/1/cmdline`, spaces for NULs).
    pub pid1: String,
    pub stop_s: f64,
    pub exit_code: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StepResult {
    pub slug: String,
    /// The run that measured this step.
    #[serde(default)]
    pub run: String,
    pub size_bytes: u64,
    pub compressed_bytes: u64,
    pub layers: usize,
    pub files: usize,
    pub cold_build_s: Option<f64>,
    pub rebuild_s: Option<f64>,
    /// A rebuild after a change to the manifests (the package version): what adding a
    /// dependency costs, less the new crate itself.
    #[serde(default)]
    pub rebuild_manifest_s: Option<f64>,
    /// From the `docker run` call to the first PONG: creating and starting the container
    /// included (median of several starts).
    pub run_to_pong_ms: Option<f64>,
    pub idle_rss_kb: Option<u64>,
    pub idle_cgroup_kb: Option<u64>,
    pub stop_s: Option<f64>,
    pub stop_exit_code: Option<i64>,
    /// Load through the published port (Docker's proxy), `load_rounds` rounds:
    /// the median round and the slowest and fastest, so the spread is visible.
    pub load_rounds: Option<usize>,
    pub requests_per_s: Option<f64>,
    pub requests_per_s_min: Option<f64>,
    pub requests_per_s_max: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Bytes of the dependency list embedded in the binary (`cargo auditable`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_list_bytes: Option<u64>,
    /// The same Dockerfile built for other platforms (step.toml's `platforms`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformResult>,
    /// A hardened step's service under its limits, locked down (the `holds_http_limits`
    /// check's own code, measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsResult>,
    /// The image published (step.toml's `publish`): one index pushed to a registry on
    /// the measuring machine, then the same commit built again from nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishResult>,
    /// `cargo workshop check` of the reference files as a learner's, warm (its second
    /// run): the whole check, and the time to its first verdict after the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_warm_s: Option<f64>,
    /// Pulled from a registry over a slow link (link.rs: 50 Mbit/s, 20 ms round trip),
    /// every layer, as a fresh machine pulls it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_slow_link_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_verdict_s: Option<f64>,
}

/// How long a step takes a learner on a two-core laptop, from the project's own
/// measurements and the chapter's length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTime {
    /// The chapter, its sub-chapters and the files it shows (not its generated tables),
    /// at 200 words a minute.
    pub reading_min: f64,
    /// The step's cold build, as measured.
    pub build_min: f64,
    /// `cargo workshop check` of the learner's files, warm as measured: a first run, and
    /// one more for each check the step adds (a try per ✗).
    pub checks_min: f64,
    /// Writing and thinking: ten minutes for each check the step adds (reading the ✗,
    /// looking an instruction up, trying), ten at least.
    pub writing_min: f64,
}

impl StepTime {
    /// The whole, rounded up to five minutes.
    pub fn total(&self) -> u32 {
        let minutes = self.reading_min + self.build_min + self.checks_min + self.writing_min;
        ((minutes / 5.0).ceil() * 5.0) as u32
    }
}

/// How long a warm `cargo workshop check` of the step's reference files may take on a
/// two-core laptop, seconds: a minute up to step 09, three from step 10 (their checks
/// build for another platform and publish). `measure` records the figure, the book
/// shows it beside this budget.
pub fn check_budget_s(step: &Step) -> f64 {
    if step.number.get() <= 9 { 60.0 } else { 180.0 }
}

/// How long `step` takes a learner (see [`StepTime`]).
pub fn time_for(step: &Step, result: Option<&StepResult>) -> StepTime {
    let words: usize = chapter_files(step)
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.split_whitespace().count())
        .sum();
    let tries = 1 + step.facts.new.len();
    StepTime {
        reading_min: words as f64 / 200.0,
        build_min: result.and_then(|r| r.cold_build_s).unwrap_or(0.0) / 60.0,
        checks_min: tries as f64 * result.and_then(|r| r.check_warm_s).unwrap_or(0.0) / 60.0,
        writing_min: 10.0 * step.facts.new.len().max(1) as f64,
    }
}

/// How long a step takes a learner, in minutes (see [`time_for`]).
pub fn minutes_for(step: &Step, result: Option<&StepResult>) -> u32 {
    time_for(step, result).total()
}

/// The files a learner reads for `step`: its chapter, the chapters nested under it in
/// SUMMARY.md, and the files they include, except the generated ones (their words change
/// with each run and would change the estimate they hold).
fn chapter_files(step: &Step) -> Vec<PathBuf> {
    let src = repo_root().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap_or_default();
    let own = format!("({}.md)", step.slug);
    let mut chapters = Vec::new();
    let mut indent = None;
    for line in summary.lines() {
        let depth = line.len() - line.trim_start().len();
        match indent {
            None if line.contains(&own) => {
                indent = Some(depth);
                chapters.push(src.join(format!("{}.md", step.slug)));
            }
            Some(at) if depth > at && !line.trim().is_empty() => {
                if let Some(file) = line
                    .rsplit_once("](")
                    .map(|(_, rest)| rest.trim_end_matches(')'))
                {
                    chapters.push(src.join(file));
                }
            }
            Some(_) => break,
            None => {}
        }
    }
    let mut files = chapters.clone();
    for chapter in &chapters {
        let text = std::fs::read_to_string(chapter).unwrap_or_default();
        for include in text.split("{{#include ").skip(1) {
            let Some((target, _)) = include.split_once("}}") else {
                continue;
            };
            let path = target.split(':').next().unwrap_or(target).trim();
            if !path.starts_with("generated/") {
                files.push(src.join(path));
            }
        }
    }
    files
}

/// One step's cold builds, one after the other: seconds each.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BuildNoise {
    pub slug: String,
    pub builds_s: Vec<f64>,
}

impl BuildNoise {
    /// The spread of the builds: the slowest less the fastest, seconds.
    pub fn spread_s(&self) -> f64 {
        let (mut low, mut high) = (f64::MAX, f64::MIN);
        for build in &self.builds_s {
            low = low.min(*build);
            high = high.max(*build);
        }
        if self.builds_s.is_empty() {
            0.0
        } else {
            high - low
        }
    }
}

/// A step's image published: the index, each platform's image, and the rebuild.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PublishResult {
    /// The commit it was built from, and the index digest the push gave.
    pub commit: String,
    pub index_digest: String,
    /// Each platform's image: its manifest digest and its compressed size, as pushed.
    pub platforms: Vec<PublishedPlatform>,
    /// The publish command, right after the cached native build: both platforms, the push.
    pub push_s: f64,
    /// The same command from nothing (no build cache, empty cache mounts).
    pub rebuild_from_nothing_s: f64,
    /// The rebuild's index digest, and whether every platform's digest was the same.
    pub rebuilt_index_digest: String,
    pub same_platform_digests: bool,
}

/// One platform's image of a published index.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PublishedPlatform {
    pub platform: String,
    pub digest: String,
    pub compressed_bytes: u64,
}

/// The service under its limits, in a container started with the hardened flags.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LimitsResult {
    /// The process's threads, from `/proc/1/status`.
    pub threads: u64,
    /// A client sending its request head a header every half second: closed after this.
    pub slow_client_cut_s: f64,
    /// A keep-alive connection left idle after its answer: closed this long after it.
    #[serde(default)]
    pub idle_keep_alive_closed_s: f64,
    /// A client that reads none of its answers: its connection gone this long after its
    /// own writes stalled.
    #[serde(default)]
    pub write_stall_cut_s: f64,
    /// How many connections were held at once, in each of the two cases below.
    pub connections: usize,
    /// The container's memory with none of them, with them sending nothing, and with each
    /// holding an unfinished head as long as the limit allows (kB, cgroup).
    pub without_kb: Option<u64>,
    pub idle_kb: Option<u64>,
    pub unfinished_heads_kb: Option<u64>,
    /// The memory limit they ran under (`--memory`), bytes.
    pub memory_limit_bytes: Option<i64>,
    /// Connections made at once past the cap (the cap and PAST_THE_CAP more); the most
    /// served at once, the container's memory then (kB), and how long a `/ping` made
    /// then waited for a slot.
    #[serde(default)]
    pub past_the_cap_made: usize,
    #[serde(default)]
    pub past_the_cap_served: usize,
    #[serde(default)]
    pub past_the_cap_kb: Option<u64>,
    #[serde(default)]
    pub past_the_cap_ping_s: f64,
}

/// One step's image for another platform.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PlatformResult {
    pub platform: String,
    pub size_bytes: u64,
    /// Built right after the cold native build: the registry is warm, and every crate
    /// is compiled again for the other target.
    pub build_s: Option<f64>,
    /// Under emulation (QEMU) on the measuring machine.
    pub run_to_pong_ms: Option<f64>,
}

/// One run of `instructor compare`: every image measured in it, rounds alternating
/// between them, so that machine noise falls on all of them alike.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Comparison {
    /// The run that measured it.
    #[serde(default)]
    pub run: String,
    pub command: String,
    pub date: String,
    pub machine: String,
    pub docker: String,
    /// The load generator, its settings, and where it and the servers ran.
    pub load_generator: String,
    pub rounds: usize,
    pub contenders: Vec<ContenderResult>,
}

/// One image of the comparison.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ContenderResult {
    pub name: String,
    pub tag: String,
    pub says: String,
    pub size_bytes: u64,
    pub compressed_bytes: u64,
    /// From the `docker run` call to the first PONG (median of the starts).
    pub run_to_pong_ms: f64,
    pub idle_rss_kb: Option<u64>,
    pub threads: Option<u64>,
    pub stop_s: f64,
    pub stop_exit_code: i64,
    /// Through the published port on 127.0.0.1 (Docker's proxy in between).
    pub through_proxy: Load,
    /// On the host's network (`--network host`): no proxy in between.
    pub host_network: Load,
    /// On the host's network, one request per connection (`Connection: close`): new
    /// connections per second. None in results measured before it was.
    #[serde(default)]
    pub new_connections: Option<Load>,
    /// The server's own CPU time per request under load on the host network, medians
    /// of the rounds (none in a results.json from before it was measured).
    #[serde(default)]
    pub cpu_per_request: Option<CpuPerRequest>,
}

/// Microseconds of CPU a request cost the server: in its own code and in the kernel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
pub struct CpuPerRequest {
    pub user_us: f64,
    pub kernel_us: f64,
}

/// Load rounds against one image: the median round and the spread of all of them.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Load {
    pub requests_per_s: f64,
    pub requests_per_s_min: f64,
    pub requests_per_s_max: f64,
    /// Medians of the rounds' p50 and p99, with the rounds' highest p99.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p99_ms_max: f64,
}

impl Comparison {
    pub fn contender(&self, name: &str) -> Option<&ContenderResult> {
        self.contenders
            .iter()
            .find(|contender| contender.name == name)
    }
}

impl Results {
    /// Ok when every record comes from the run `results.run` names: the steps, the
    /// comparison and the trades. The book puts no two runs side by side (one machine's
    /// state, one engine, one day): it is made from one run, or not at all.
    pub fn one_run(&self) -> Result<&str> {
        let mut runs: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for step in &self.steps {
            runs.entry(step.run.as_str())
                .or_default()
                .push(format!("step {}", step.slug));
        }
        if let Some(comparison) = &self.comparison {
            runs.entry(comparison.run.as_str())
                .or_default()
                .push("the comparison".into());
        }
        if let Some(trades) = &self.trades {
            runs.entry(trades.run.as_str())
                .or_default()
                .push("the trade-offs".into());
        }
        match runs.keys().collect::<Vec<_>>().as_slice() {
            [only] if !only.is_empty() && **only == self.run => Ok(&self.run),
            _ => Err(Error::Harness(format!(
                "results.json holds measurements of more than one run ({}): the book shows \
                 one run only. Measure everything in one run: `{MEASURE}`",
                runs.iter()
                    .map(|(run, what)| format!(
                        "{}: {}",
                        if run.is_empty() { "no run named" } else { run },
                        what.join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
        }
    }

    pub fn path() -> PathBuf {
        repo_root().join(DIR).join("results.json")
    }

    /// The results, or None before the first measurement.
    pub fn load() -> Result<Option<Results>> {
        let path = Self::path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            Error::Harness(format!(
                "{} is not valid: {error}; measure again: `{MEASURE}`",
                path.display()
            ))
        })
    }

    /// Writes them where the book reads them.
    pub fn save(&self) -> Result<()> {
        let path = Self::path();
        let json = serde_json::to_string_pretty(self).harness("results as JSON")?;
        std::fs::write(&path, json + "\n").map_err(|error| io("write", &path, error))
    }

    pub fn step(&self, slug: &str) -> Option<&StepResult> {
        self.steps.iter().find(|step| step.slug == slug)
    }
}

pub fn human_size(bytes: u64) -> String {
    let mb = bytes as f64 / MB;
    if mb >= 1000.0 {
        format!("{:.2} GB", mb / 1000.0)
    } else if mb >= 10.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.2} MB")
    }
}

/// A table value that never wraps between number and unit.
pub fn unbroken(value: &str) -> String {
    value.replace(' ', "\u{a0}")
}

/// Requests per second as the median round and the range of all rounds, in thousands:
/// `35.1k (33.0–36.2)`, never broken across lines.
pub fn rate_range(median: f64, min: f64, max: f64) -> String {
    let k = |rate: f64| format!("{:.1}", rate / 1000.0);
    format!("{}k\u{a0}({}–{})", k(median), k(min), k(max))
}

/// 2000 as 2,000.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
