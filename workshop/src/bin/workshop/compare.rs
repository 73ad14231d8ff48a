//! `instructor compare`: our final image beside the original article's Go/gin service
//! (as the article writes it, and in gin's release mode), measured in one run on one
//! load generator. Starts and load rounds alternate between the images, so that
//! whatever else the machine does falls on all of them alike; every load figure is
//! the median of the rounds, with the spread kept.

use std::time::Duration;

use crate::measure::{WARM_UP_SECONDS, compressed_size, load_generator};
use workshop::contenders::Contender;
use workshop::docker;
use workshop::error::Harness;
use workshop::error::Result;
use workshop::load::{self, Cpus, median, summarize, wrk, wrk_new_connections};
use workshop::results::{Comparison, ContenderResult, CpuPerRequest, Results};
use workshop::running::{self, Running};
use workshop::tool::COMPARE;

/// Starts per image for the `docker run` → PONG figure.
const STARTS: usize = 5;

/// How the comparison runs.
#[derive(clap::Args)]
pub struct Options {
    /// Load rounds per image and network; the book shows the median and the range.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Seconds of load per round.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub seconds: u64,
}

/// The two ways a client on the same machine reaches a container.
#[derive(Clone, Copy)]
enum Network {
    /// A port published on 127.0.0.1: Docker's proxy carries every connection.
    Published,
    /// `--network host`: the service listens on the host's port itself.
    Host,
}

pub fn run(options: &Options) -> Result<()> {
    run_as(options, &crate::measure::new_run())
}

/// The comparison, recorded as part of the run `run`.
pub fn run_as(options: &Options, run: &str) -> Result<()> {
    docker::ready()?;
    let wrk = load::wrk_version()?;
    let cpus = Cpus::of_this_machine();
    let contenders = Contender::all()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .harness("a tokio runtime")?;

    let mut results: Vec<ContenderResult> = Vec::new();
    for contender in &contenders {
        eprintln!(
            "build {} with `{}`",
            contender.tag,
            contender.build_command()
        );
        let size_bytes = contender.try_build()?;
        results.push(ContenderResult {
            name: contender.name.clone(),
            tag: contender.tag.clone(),
            says: contender.says.clone(),
            size_bytes,
            compressed_bytes: compressed_size(&contender.tag)?,
            ..ContenderResult::default()
        });
    }
    runtime.block_on(measure_starts(&contenders, &cpus, &mut results))?;
    runtime.block_on(measure_load(&contenders, &cpus, options, &mut results))?;
    runtime.block_on(measure_new_connections(
        &contenders,
        &cpus,
        options,
        &mut results,
    ))?;

    let mut all = Results::load()?.unwrap_or_default();
    all.comparison = Some(Comparison {
        run: run.to_string(),
        command: command_line(options),
        date: crate::measure::today(),
        machine: format!(
            "{} cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        docker: crate::measure::engine()?,
        load_generator: load_generator(&wrk, options.seconds),
        rounds: options.rounds as usize,
        contenders: results,
    });
    all.save()?;
    eprintln!("wrote {}", Results::path().display());
    Ok(())
}

fn command_line(options: &Options) -> String {
    let defaults = Options {
        rounds: 5,
        seconds: 5,
    };
    let mut line = COMPARE.to_string();
    if options.rounds != defaults.rounds {
        line.push_str(&format!(" --rounds {}", options.rounds));
    }
    if options.seconds != defaults.seconds {
        line.push_str(&format!(" --seconds {}", options.seconds));
    }
    line
}

/// A container of `tag` on `network`, held to the server's CPU, answering PONG.
async fn start(tag: &str, network: Network, cpus: &Cpus) -> Result<Running> {
    let mut request = running::request(tag);
    if let Some(server) = cpus.server {
        request = running::pinned(request, server);
    }
    if let Network::Host = network {
        request = running::on_host_network(request);
    }
    Running::try_start(request).await
}

/// Removed now, not when dropped: on the host's network the next server needs the port.
async fn remove(container: Running) -> Result<()> {
    container.container.rm().await.harness("remove a container")
}

/// `docker run` → first PONG, alternating images; the last start also gives idle
/// memory, threads and `docker stop`.
async fn measure_starts(
    contenders: &[Contender],
    cpus: &Cpus,
    results: &mut [ContenderResult],
) -> Result<()> {
    let mut latencies = vec![Vec::new(); contenders.len()];
    for start_number in 0..STARTS {
        for (index, contender) in contenders.iter().enumerate() {
            eprintln!(
                "start {}/{STARTS} of {}: docker run → first PONG",
                start_number + 1,
                contender.tag
            );
            let container = start(&contender.tag, Network::Published, cpus).await?;
            latencies[index].push(container.answered_after.as_secs_f64() * 1000.0);
            if start_number + 1 == STARTS {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let result = &mut results[index];
                result.idle_rss_kb = container.memory().await?.rss_kb;
                result.threads = Some(container.threads().await?);
                let stopped = container.stop().await?;
                result.stop_s = stopped.took.as_secs_f64();
                result.stop_exit_code = stopped.exit_code;
            }
            remove(container).await?;
        }
    }
    for (result, mut latencies) in results.iter_mut().zip(latencies) {
        result.run_to_pong_ms = median(&mut latencies);
    }
    Ok(())
}

async fn measure_load(
    contenders: &[Contender],
    cpus: &Cpus,
    options: &Options,
    results: &mut [ContenderResult],
) -> Result<()> {
    let networks = [Network::Published, Network::Host];
    let mut rounds = vec![[Vec::new(), Vec::new()]; contenders.len()];
    let mut cpu: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); contenders.len()];
    for round in 0..options.rounds as usize {
        // Each round starts with another image, so none is always first after a pause.
        for offset in 0..contenders.len() {
            let index = (round + offset) % contenders.len();
            let contender = &contenders[index];
            for (which, network) in networks.into_iter().enumerate() {
                eprintln!(
                    "load round {}/{} on {} ({})",
                    round + 1,
                    options.rounds,
                    contender.tag,
                    match network {
                        Network::Published => "through the published port",
                        Network::Host => "on the host's network",
                    }
                );
                let container = start(&contender.tag, network, cpus).await?;
                let url = format!("{}/ping", container.url);
                wrk(&url, WARM_UP_SECONDS, cpus).await?;
                let before = container.cpu_time().await?;
                let measured = wrk(&url, options.seconds, cpus).await?;
                let after = container.cpu_time().await?;
                eprintln!(
                    "    {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                    measured.requests_per_s, measured.p50_ms, measured.p99_ms
                );
                // On the host's network the server's CPU is its own: through the
                // published port, docker-proxy's work is another process's.
                if let Network::Host = network {
                    let requests = measured.requests_per_s * options.seconds as f64;
                    let per_request_us = |ns: u64| ns as f64 / 1000.0 / requests;
                    let (user, kernel) = (
                        per_request_us(after.user_ns.saturating_sub(before.user_ns)),
                        per_request_us(after.kernel_ns.saturating_sub(before.kernel_ns)),
                    );
                    eprintln!("    CPU per request: {user:.2} µs user, {kernel:.2} µs kernel");
                    cpu[index].0.push(user);
                    cpu[index].1.push(kernel);
                }
                rounds[index][which].push(measured);
                remove(container).await?;
            }
        }
    }
    for ((result, [published, host]), (mut user, mut kernel)) in
        results.iter_mut().zip(rounds).zip(cpu)
    {
        result.through_proxy = summarize(&published);
        result.host_network = summarize(&host);
        result.cpu_per_request = Some(CpuPerRequest {
            user_us: median(&mut user),
            kernel_us: median(&mut kernel),
        });
    }
    Ok(())
}

/// New connections per second on the host's network (no proxy between, whose own
/// connections would be measured too): wrk with one request per connection, rounds
/// alternating between the images as above.
async fn measure_new_connections(
    contenders: &[Contender],
    cpus: &Cpus,
    options: &Options,
    results: &mut [ContenderResult],
) -> Result<()> {
    let mut rounds = vec![Vec::new(); contenders.len()];
    for round in 0..options.rounds as usize {
        for offset in 0..contenders.len() {
            let index = (round + offset) % contenders.len();
            let contender = &contenders[index];
            eprintln!(
                "new-connection round {}/{} on {} (host network, Connection: close)",
                round + 1,
                options.rounds,
                contender.tag
            );
            let container = start(&contender.tag, Network::Host, cpus).await?;
            let url = format!("{}/ping", container.url);
            wrk_new_connections(&url, WARM_UP_SECONDS, cpus).await?;
            let measured = wrk_new_connections(&url, options.seconds, cpus).await?;
            eprintln!(
                "    {:.0} new connections/s, p50 {:.2} ms, p99 {:.2} ms",
                measured.requests_per_s, measured.p50_ms, measured.p99_ms
            );
            rounds[index].push(measured);
            remove(container).await?;
        }
    }
    for (result, rounds) in results.iter_mut().zip(rounds) {
        result.new_connections = Some(summarize(&rounds));
    }
    Ok(())
}
