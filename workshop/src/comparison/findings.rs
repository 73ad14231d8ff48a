//! The findings under the comparison's table: sentences that compare ours with our
//! earlier images and with each Go image, each reading its number from the results, and
//! every figure on which ours is not ahead.

use std::fmt::Write as _;

use crate::contenders::{Contender, OURS};
use crate::results::{Comparison, ContenderResult, Load, human_size};

/// The two ways the load reached each server: how a sentence says it, how a list
/// names it, and its figures.
type Network = (&'static str, &'static str, fn(&ContenderResult) -> &Load);
const NETWORKS: [Network; 2] = [
    ("on the host's network", "host network", |c| &c.host_network),
    ("through the published port", "published port", |c| {
        &c.through_proxy
    }),
];

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
pub(super) fn findings(out: &mut String, comparison: &Comparison) {
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
