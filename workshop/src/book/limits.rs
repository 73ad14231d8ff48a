//! What the last locked-down step measured against its HTTP limits, for the appendix
//! on the service's limits: `limits.md`.

use std::fmt::Write as _;

use super::figures::{number_of, or_dash, provenance};
use crate::results::{Results, thousands, unbroken};
use crate::tool::{MD_HEADER, MEASURE};

/// What the last locked-down image measured against its HTTP limits, for the appendix
/// on the service's limits: the figures the check `holds_http_limits` records.
pub(super) fn limits(slugs: &[String], results: Option<&Results>) -> String {
    let mut out = String::from(MD_HEADER);
    let measured = results.and_then(|results| {
        slugs
            .iter()
            .rev()
            .filter_map(|slug| results.step(slug))
            .find_map(|step| step.limits.as_ref().map(|limits| (results, step, limits)))
    });
    let Some((results, step, limits)) = measured else {
        let _ = writeln!(out, "*Not measured yet: run `{MEASURE}`.*");
        return out;
    };
    let mib = |kb: Option<u64>| or_dash(kb, |kb| format!("{:.1} MiB", kb as f64 / 1024.0));
    // Measured since the write-stall timeout and the past-the-cap check: results from
    // before have none of them, and the book shows no figure it does not have.
    let closed = if limits.idle_keep_alive_closed_s > 0.0 && limits.write_stall_cut_s > 0.0 {
        format!(
            ", an idle keep-alive connection was closed {:.1} s after its answer, and a client \
             that read none of its answers was cut off {:.1} s after its own writes stalled",
            limits.idle_keep_alive_closed_s, limits.write_stall_cut_s
        )
    } else {
        String::new()
    };
    let past_the_cap = if limits.past_the_cap_made > 0 {
        format!(
            " Of {} connections made at once it served {} and left the rest in the \
             kernel's queue ({}); a `/ping` made then was answered after {:.1} s, when the \
             header timeout freed a slot.",
            unbroken(&thousands(limits.past_the_cap_made as u64)),
            unbroken(&thousands(limits.past_the_cap_served as u64)),
            mib(limits.past_the_cap_kb),
            limits.past_the_cap_ping_s,
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Step {} (`{}`), locked down (the flags of step 08's *Build it, run it*): the service \
         ran {} threads. A client sending its request head a header every half second was cut \
         off after {:.1} s{closed}. The container used {} of its {} with no connection, {} with \
         {n} idle connections, and {} with {n} connections each holding an unfinished 8 KiB \
         head; `/ping` answered throughout.{past_the_cap}",
        number_of(&step.slug),
        step.slug,
        limits.threads,
        limits.slow_client_cut_s,
        mib(limits.without_kb),
        or_dash(limits.memory_limit_bytes, |bytes| format!(
            "{} MiB",
            bytes / (1024 * 1024)
        )),
        mib(limits.idle_kb),
        mib(limits.unfinished_heads_kb),
        n = unbroken(&thousands(limits.connections as u64)),
    );
    let shown: Vec<&str> = slugs.iter().map(String::as_str).collect();
    let _ = writeln!(out, "\n{}", provenance(results, &shown));
    out
}
