//! The comparison with the article's Go service as the book shows it: a table, the
//! sentences that compare the two (each one reading its number from the results, so
//! none can outlive a new run), and a chart of requests per second.
//!
//! Here: the page and its table; the sentences are in comparison/findings.rs, the chart
//! in comparison/chart.rs.

mod chart;
mod findings;

use std::fmt::Write as _;

use crate::results::{Comparison, ContenderResult, Load, Results, human_size, unbroken};
use crate::tool::{COMPARE, MD_HEADER};
use findings::findings;

pub use chart::svg;

/// The table and the findings: `generated/compare.md`.
pub fn markdown(results: Option<&Results>) -> String {
    let mut out = String::from(MD_HEADER);
    let Some(comparison) = results.and_then(|results| results.comparison.as_ref()) else {
        let _ = writeln!(out, "*Not compared yet: run `{COMPARE}`.*");
        return out;
    };
    table(&mut out, comparison);
    findings(&mut out, comparison);
    let _ = writeln!(
        out,
        "\nMeasured in one run with the steps, {}: {}, {}, with `{}`: {} load rounds per image \
         and network, the images taking turns; each figure is the median round, with the \
         slowest and fastest in brackets. Load: {}.",
        comparison.run,
        comparison.machine,
        comparison.docker,
        comparison.command,
        comparison.rounds,
        comparison.load_generator
    );
    if comparison
        .contenders
        .iter()
        .any(|contender| contender.new_connections.is_some())
    {
        let _ = writeln!(
            out,
            "New connections: the same wrk on the host network, asking for `Connection: \
             close` (one request per connection), in rounds of their own."
        );
    }
    out
}

/// The median round over the spread, smaller, on two lines: five images side by side
/// fit the page only so.
fn rate(load: &Load) -> String {
    let k = |rate: f64| format!("{:.1}", rate / 1000.0);
    // Unbroken spaces alone would still let the line break after the dash.
    format!(
        "{}k<br><span style=\"white-space: nowrap; font-size: 0.85em\">({}–{})</span>",
        k(load.requests_per_s),
        k(load.requests_per_s_min),
        k(load.requests_per_s_max)
    )
}

fn latency(load: &Load) -> String {
    // A line may break after the slash, never inside a figure.
    format!(
        "{} {}",
        unbroken(&format!("{:.2} /", load.p50_ms)),
        unbroken(&format!("{:.2} ms", load.p99_ms))
    )
}

fn table(out: &mut String, comparison: &Comparison) {
    type Row = (&'static str, fn(&ContenderResult) -> String);
    let rows: [Row; 12] = [
        ("image size", |c| unbroken(&human_size(c.size_bytes))),
        ("compressed", |c| unbroken(&human_size(c.compressed_bytes))),
        ("`docker run` → first PONG", |c| {
            unbroken(&format!("{:.0} ms", c.run_to_pong_ms))
        }),
        ("idle memory (RSS)", |c| {
            c.idle_rss_kb.map_or("–".into(), |kb| {
                unbroken(&format!("{:.1} MB", kb as f64 / 1000.0))
            })
        }),
        ("threads", |c| {
            c.threads.map_or("–".into(), |threads| threads.to_string())
        }),
        ("`docker stop`", |c| {
            format!(
                "{} {}",
                unbroken(&format!("{:.2} s,", c.stop_s)),
                unbroken(&format!("exit {}", c.stop_exit_code))
            )
        }),
        ("req/s, host network", |c| rate(&c.host_network)),
        ("p50 / p99, host network", |c| latency(&c.host_network)),
        ("req/s, published port", |c| rate(&c.through_proxy)),
        ("p50 / p99, published port", |c| latency(&c.through_proxy)),
        ("new connections/s, host network", |c| {
            c.new_connections.as_ref().map_or("–".into(), rate)
        }),
        ("CPU per request, host network: own code + kernel", |c| {
            c.cpu_per_request.map_or("–".into(), |cpu| {
                format!(
                    "{} {}",
                    unbroken(&format!("{:.1} +", cpu.user_us)),
                    unbroken(&format!("{:.1} µs", cpu.kernel_us))
                )
            })
        }),
    ];
    let names: Vec<String> = comparison
        .contenders
        .iter()
        .map(|c| format!("`{}`", c.name))
        .collect();
    let _ = writeln!(out, "| | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(names.len()));
    for (what, show) in rows {
        let cells: Vec<String> = comparison.contenders.iter().map(show).collect();
        let _ = writeln!(out, "| {what} | {} |", cells.join(" | "));
    }
    let _ = writeln!(out);
    for contender in &comparison.contenders {
        let _ = writeln!(
            out,
            "- `{}`: {} (`{}`).",
            contender.name, contender.says, contender.tag
        );
    }
}
