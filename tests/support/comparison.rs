//! The comparison with the article's Go service as the book shows it: a table, the
//! sentences that compare the two (each one reading its number from the results, so
//! none can outlive a new run), and a chart of requests per second.

use std::fmt::Write as _;

use super::results::{Comparison, ContenderResult, Load, Results, human_size, unbroken};
use super::tool::{COMPARE, GENERATE, MD_HEADER};

use super::contenders::{Contender, OURS};

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
        "\nMeasured {} on {}, {}, with `{}`: {} load rounds per image and network, the images \
         taking turns; each figure is the median round, with the slowest and fastest in brackets. \
         Load: {}.",
        comparison.date,
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

/// The two ways the load reached each server: how a sentence says it, how a list
/// names it, and its figures.
type Network = (&'static str, &'static str, fn(&ContenderResult) -> &Load);
const NETWORKS: [Network; 2] = [
    ("on the host's network", "host network", |c| &c.host_network),
    ("through the published port", "published port", |c| {
        &c.through_proxy
    }),
];

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

/// Two load results differ only when their ranges do not overlap.
fn apart(a: &Load, b: &Load) -> bool {
    a.requests_per_s_min > b.requests_per_s_max || b.requests_per_s_min > a.requests_per_s_max
}

fn times(a: f64, b: f64) -> String {
    let ratio = a / b;
    if ratio >= 1.95 {
        format!("{ratio:.1}x")
    } else {
        format!("{:.0} %", (ratio - 1.0) * 100.0)
    }
}

/// The sentences that compare ours with each Go image, from the numbers above, and
/// every figure on which a Go image is ahead of ours.
fn findings(out: &mut String, comparison: &Comparison) {
    let Some(ours) = comparison.contender(OURS) else {
        return;
    };
    let (earlier, others): (Vec<&ContenderResult>, Vec<&ContenderResult>) = comparison
        .contenders
        .iter()
        .filter(|c| c.name != OURS)
        .partition(|c| Contender::is_ours(&c.name));
    if !earlier.is_empty() {
        let _ = writeln!(out, "\n**Against our own earlier images**\n");
        for before in &earlier {
            against_earlier(out, ours, before);
        }
    }
    let _ = writeln!(out, "\n**Against the Go service**\n");
    for other in &others {
        let _ = writeln!(
            out,
            "- Ours is {} smaller than `{}` ({} against {}){}.",
            times(other.size_bytes as f64, ours.size_bytes as f64),
            other.name,
            human_size(ours.size_bytes),
            human_size(other.size_bytes),
            match (ours.idle_rss_kb, other.idle_rss_kb) {
                (Some(a), Some(b)) if b > a => format!(
                    ", and its idle memory {} smaller",
                    times(b as f64, a as f64)
                ),
                _ => String::new(),
            }
        );
    }
    for other in &others {
        if other.stop_exit_code != ours.stop_exit_code {
            let _ = writeln!(
                out,
                "- On `docker stop`, ours exits with code {} after {:.2} s; `{}` with code {} after \
                 {:.2} s.",
                ours.stop_exit_code, ours.stop_s, other.name, other.stop_exit_code, other.stop_s
            );
        }
    }
    for (network, _, pick) in NETWORKS {
        for other in &others {
            let (a, b) = (pick(ours), pick(other));
            let sentence = if !apart(a, b) {
                format!(
                    "- {network}, ours and `{}` overlap ({:.1}k and {:.1}k req/s at the median): \
                     no difference this run can show.",
                    other.name,
                    a.requests_per_s / 1000.0,
                    b.requests_per_s / 1000.0
                )
            } else if a.requests_per_s > b.requests_per_s {
                format!(
                    "- {network}, ours serves {} more requests per second than `{}` ({:.1}k \
                     against {:.1}k), p99 {:.2} against {:.2} ms.",
                    times(a.requests_per_s, b.requests_per_s),
                    other.name,
                    a.requests_per_s / 1000.0,
                    b.requests_per_s / 1000.0,
                    a.p99_ms,
                    b.p99_ms
                )
            } else {
                format!(
                    "- {network}, `{}` serves {} more requests per second than ours ({:.1}k \
                     against {:.1}k).",
                    other.name,
                    times(b.requests_per_s, a.requests_per_s),
                    b.requests_per_s / 1000.0,
                    a.requests_per_s / 1000.0
                )
            };
            let _ = writeln!(out, "{}", capitalized(&sentence));
        }
    }
    for other in &others {
        let (Some(a), Some(b)) = (&ours.new_connections, &other.new_connections) else {
            continue;
        };
        let sentence = if !apart(a, b) {
            format!(
                "- New connections (one request each, host network): ours and `{}` overlap \
                 ({:.1}k and {:.1}k a second at the median).",
                other.name,
                a.requests_per_s / 1000.0,
                b.requests_per_s / 1000.0
            )
        } else if a.requests_per_s > b.requests_per_s {
            format!(
                "- New connections (one request each, host network): ours accepts {} more a \
                 second than `{}` ({:.1}k against {:.1}k).",
                times(a.requests_per_s, b.requests_per_s),
                other.name,
                a.requests_per_s / 1000.0,
                b.requests_per_s / 1000.0
            )
        } else {
            format!(
                "- New connections (one request each, host network): `{}` accepts {} more a \
                 second than ours ({:.1}k against {:.1}k).",
                other.name,
                times(b.requests_per_s, a.requests_per_s),
                b.requests_per_s / 1000.0,
                a.requests_per_s / 1000.0
            )
        };
        let _ = writeln!(out, "{sentence}");
    }
    the_limit(out, ours, &others);
    let behind = where_ours_is_behind(ours, &others);
    if behind.is_empty() {
        let _ = writeln!(
            out,
            "- In this run ours is ahead of both Go images, by more than a tenth, on every \
             figure of the table."
        );
    } else {
        let _ = writeln!(
            out,
            "- Where ours is not ahead (behind by more than a tenth, or level within a tenth): {}.",
            behind.join("; ")
        );
    }
}

/// What ours gained or lost against one of our earlier images: requests per second
/// and p99 on the host network, new connections, and the bytes it costs.
fn against_earlier(out: &mut String, ours: &ContenderResult, before: &ContenderResult) {
    let (a, b) = (&ours.host_network, &before.host_network);
    let speed = if !apart(a, b) {
        format!(
            "the two overlap on the host network ({:.1}k and {:.1}k req/s at the median)",
            a.requests_per_s / 1000.0,
            b.requests_per_s / 1000.0
        )
    } else {
        let by = if a.requests_per_s > b.requests_per_s {
            format!("{} more", times(a.requests_per_s, b.requests_per_s))
        } else {
            format!(
                "{:.0} % fewer",
                (1.0 - a.requests_per_s / b.requests_per_s) * 100.0
            )
        };
        format!(
            "ours serves {by} requests per second on the host network ({:.1}k against {:.1}k), \
             p99 {:.2} against {:.2} ms",
            a.requests_per_s / 1000.0,
            b.requests_per_s / 1000.0,
            a.p99_ms,
            b.p99_ms
        )
    };
    let connections = match (&ours.new_connections, &before.new_connections) {
        (Some(a), Some(b)) => format!(
            "; new connections {:.1}k against {:.1}k a second{}",
            a.requests_per_s / 1000.0,
            b.requests_per_s / 1000.0,
            if apart(a, b) {
                ""
            } else {
                " (the ranges overlap)"
            }
        ),
        _ => String::new(),
    };
    let cpu = match (ours.cpu_per_request, before.cpu_per_request) {
        (Some(a), Some(b)) => format!(
            "; CPU per request {:.1} µs in its own code and {:.1} µs in the kernel, against \
             {:.1} and {:.1} µs",
            a.user_us, a.kernel_us, b.user_us, b.kernel_us
        ),
        _ => String::new(),
    };
    // The difference of the two sizes as shown, so that the sentence adds up.
    let shown = |bytes: u64| {
        human_size(bytes)
            .trim_end_matches(" MB")
            .parse::<f64>()
            .ok()
    };
    let size = match (shown(ours.size_bytes), shown(before.size_bytes)) {
        (Some(a), Some(b)) if a >= b => format!("{:.2} MB larger", a - b),
        (Some(a), Some(b)) => format!("{:.2} MB smaller", b - a),
        _ if ours.size_bytes >= before.size_bytes => {
            format!("{} larger", human_size(ours.size_bytes - before.size_bytes))
        }
        _ => format!(
            "{} smaller",
            human_size(before.size_bytes - ours.size_bytes)
        ),
    };
    let _ = writeln!(
        out,
        "- Against `{}`: {speed}{connections}{cpu}. The image is {size} ({} against {}).",
        before.name,
        human_size(ours.size_bytes),
        human_size(before.size_bytes)
    );
}

/// Where ours spends its CPU on the host network, and how fast it could be at most if
/// its own code took no time: the kernel's share is the same work for every server.
fn the_limit(out: &mut String, ours: &ContenderResult, others: &[&ContenderResult]) {
    let Some(cpu) = ours.cpu_per_request else {
        return;
    };
    let total = cpu.user_us + cpu.kernel_us;
    let ceiling = ours.host_network.requests_per_s * total / cpu.kernel_us;
    let fastest = others
        .iter()
        .filter(|other| other.cpu_per_request.is_some())
        .max_by(|a, b| {
            a.host_network
                .requests_per_s
                .total_cmp(&b.host_network.requests_per_s)
        });
    let beside = fastest.map_or(String::new(), |other| {
        let theirs = other.cpu_per_request.unwrap_or_default();
        format!(
            " (`{}`: {:.1} and {:.1} µs), so even if its own code took no time at all, ours \
             would serve at most {:.0}k requests a second, {:.1}x `{}`'s",
            other.name,
            theirs.user_us,
            theirs.kernel_us,
            ceiling / 1000.0,
            ceiling / other.host_network.requests_per_s,
            other.name
        )
    });
    let _ = writeln!(
        out,
        "- Where ours spends its CPU on the host network: {:.1} µs a request in its own code and \
         {:.1} µs in the kernel, {:.0} % of the total{beside}.",
        cpu.user_us,
        cpu.kernel_us,
        cpu.kernel_us / total * 100.0
    );
}

fn capitalized(sentence: &str) -> String {
    let Some(rest) = sentence.strip_prefix("- ") else {
        return sentence.to_string();
    };
    let mut chars = rest.chars();
    match chars.next() {
        Some(first) => format!("- {}{}", first.to_uppercase(), chars.as_str()),
        None => sentence.to_string(),
    }
}

/// Every figure on which ours is not clearly ahead of some Go image: behind it by more
/// than a tenth, or level within a tenth either way (load: judged by the spread of
/// the rounds instead).
fn where_ours_is_behind(ours: &ContenderResult, others: &[&ContenderResult]) -> Vec<String> {
    // Lower is better for each of these; requests per second follow below.
    type Figure = (
        &'static str,
        fn(&ContenderResult) -> Option<f64>,
        fn(f64) -> String,
    );
    let ms = |v: f64| format!("{v:.2}\u{a0}ms");
    let figures: [Figure; 7] = [
        (
            "`docker run` → first PONG",
            |c| Some(c.run_to_pong_ms),
            |v| format!("{v:.0}\u{a0}ms"),
        ),
        (
            "threads",
            |c| c.threads.map(|t| t as f64),
            |v| format!("{v:.0}"),
        ),
        (
            "`docker stop` time",
            |c| Some(c.stop_s),
            |v| format!("{v:.2}\u{a0}s"),
        ),
        (
            "p50 on the host network",
            |c| Some(c.host_network.p50_ms),
            ms,
        ),
        (
            "p99 on the host network",
            |c| Some(c.host_network.p99_ms),
            ms,
        ),
        (
            "p50 through the published port",
            |c| Some(c.through_proxy.p50_ms),
            ms,
        ),
        (
            "p99 through the published port",
            |c| Some(c.through_proxy.p99_ms),
            ms,
        ),
    ];
    let mut behind = Vec::new();
    for (what, value, show) in figures {
        let Some(mine) = value(ours) else { continue };
        for other in others {
            let Some(theirs) = value(other) else { continue };
            let verdict = if theirs < mine * 0.9 {
                "behind"
            } else if theirs < mine * 1.1 {
                "level"
            } else {
                continue;
            };
            behind.push(format!(
                "{what} ({verdict}: `{}` {}, ours {})",
                other.name,
                show(theirs),
                show(mine)
            ));
        }
    }
    for (_, network, pick) in NETWORKS {
        for other in others {
            let (a, b) = (pick(ours), pick(other));
            let verdict = if !apart(a, b) {
                "level: the rounds' ranges overlap"
            } else if b.requests_per_s > a.requests_per_s {
                "behind"
            } else {
                continue;
            };
            behind.push(format!(
                "req/s on the {network} ({verdict}; `{}` {:.1}k, ours {:.1}k)",
                other.name,
                b.requests_per_s / 1000.0,
                a.requests_per_s / 1000.0
            ));
        }
    }
    for other in others {
        let (Some(a), Some(b)) = (&ours.new_connections, &other.new_connections) else {
            continue;
        };
        let verdict = if !apart(a, b) {
            "level: the rounds' ranges overlap"
        } else if b.requests_per_s > a.requests_per_s {
            "behind"
        } else {
            continue;
        };
        behind.push(format!(
            "new connections per second ({verdict}; `{}` {:.1}k, ours {:.1}k)",
            other.name,
            b.requests_per_s / 1000.0,
            a.requests_per_s / 1000.0
        ));
    }
    behind
}

/// Requests per second per image, on the host's network and through the published port,
/// each bar the median round with a line from the slowest to the fastest round.
pub fn svg(results: Option<&Results>) -> String {
    let comparison = results.and_then(|results| results.comparison.as_ref());
    let contenders: &[ContenderResult] = comparison.map_or(&[], |c| c.contenders.as_slice());
    let (width, left, right) = (760.0_f64, 120.0_f64, 110.0_f64);
    let (bar, gap, group_gap) = (22.0_f64, 4.0_f64, 18.0_f64);
    let group = 2.0 * bar + gap + group_gap;
    let height = 70.0 + group * contenders.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"ladder compare\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         style=\"width: 100%; height: auto\" font-family=\"sans-serif\" font-size=\"14\" role=\"img\" \
         aria-label=\"Requests per second per image, host network and published port\">\n\
         <title>Requests per second: ours and the article's Go service</title>\n\
         <desc>generated by `{GENERATE}`: do not edit</desc>\n\
         <style>.compare text {{ fill: var(--fg, #222); }} .compare .host {{ fill: #c05621; }} \
         .compare .proxy {{ fill: #3182ce; }} .compare .range {{ stroke: var(--fg, #222); stroke-width: 2; }}</style>\n"
    );
    if contenders.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"10\" y=\"30\">Not compared yet: run {COMPARE}</text>\n</svg>"
        );
        return svg;
    }
    let max = contenders
        .iter()
        .flat_map(|c| {
            [
                c.host_network.requests_per_s_max,
                c.through_proxy.requests_per_s_max,
            ]
        })
        .fold(1.0_f64, f64::max);
    let scale = (width - left - right) / max;
    for (index, contender) in contenders.iter().enumerate() {
        let top = 10.0 + group * index as f64;
        let _ = writeln!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            top + bar + gap / 2.0 + 5.0,
            contender.name
        );
        for (row, (class, load)) in [
            ("host", &contender.host_network),
            ("proxy", &contender.through_proxy),
        ]
        .into_iter()
        .enumerate()
        {
            let y = top + row as f64 * (bar + gap);
            let length = (load.requests_per_s * scale).max(2.0);
            let (low, high) = (
                left + load.requests_per_s_min * scale,
                left + load.requests_per_s_max * scale,
            );
            let _ = writeln!(
                svg,
                "<rect class=\"{class}\" x=\"{left}\" y=\"{y:.0}\" width=\"{length:.1}\" height=\"{bar}\"/>\
                 <line class=\"range\" x1=\"{low:.1}\" x2=\"{high:.1}\" y1=\"{:.0}\" y2=\"{:.0}\"/>\
                 <text x=\"{:.1}\" y=\"{:.0}\">{:.1}k</text>",
                y + bar / 2.0,
                y + bar / 2.0,
                high.max(left + length) + 6.0,
                y + bar / 2.0 + 5.0,
                load.requests_per_s / 1000.0
            );
        }
    }
    let legend = height - 30.0;
    let _ = writeln!(
        svg,
        "<rect class=\"host\" x=\"{left}\" y=\"{:.0}\" width=\"14\" height=\"14\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\">host network</text>\
         <rect class=\"proxy\" x=\"{:.0}\" y=\"{:.0}\" width=\"14\" height=\"14\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\">published port (docker-proxy)</text>\
         <text x=\"{left}\" y=\"{:.0}\">requests per second, median round; the line spans the slowest to the fastest</text>\n</svg>",
        legend - 12.0,
        left + 20.0,
        legend,
        left + 150.0,
        legend - 12.0,
        left + 170.0,
        legend,
        height - 6.0
    );
    svg
}
