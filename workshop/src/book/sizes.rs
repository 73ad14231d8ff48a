//! All steps side by side: the tables of `sizes.md` (the images, building them, running
//! them, under load) and the bar chart of their sizes, `ladder.svg`.

use std::fmt::Write as _;

use super::figures::{megabytes_kb, number_of, or_dash, provenance, rate_with_spread, seconds};
use crate::MB;
use crate::results::{Results, StepResult, human_size, unbroken};
use crate::step::Step;
use crate::tool::{GENERATE, MD_HEADER, MEASURE};

/// All steps side by side: the images, building them, running them, and under load.
/// Each table narrow enough for the book's content column, so no column scrolls out of
/// sight.
pub(super) fn sizes_table(slugs: &[String], results: Option<&Results>) -> String {
    let mut out = String::from(MD_HEADER);
    let Some(results) = results else {
        let _ = writeln!(out, "*Not measured yet: run `{MEASURE}`.*");
        return out;
    };
    let measured: Vec<&StepResult> = slugs.iter().filter_map(|slug| results.step(slug)).collect();
    if measured.is_empty() {
        let _ = writeln!(out, "*Not measured yet: run `{MEASURE}`.*");
        return out;
    }
    // Ratios against the first image whose size is the Dockerfile's alone: step 01's
    // grows with the target/ folder of whoever builds it, so a ratio to it would not
    // carry over to another machine.
    let steps = Step::all().unwrap_or_default();
    let base = measured.iter().copied().find(|s| {
        steps
            .iter()
            .any(|step| step.slug == s.slug && step.facts.budget.is_some())
    });
    let link = |s: &StepResult| format!("[{}]({}.md)", s.slug.replacen('-', " ", 1), s.slug);
    let _ = writeln!(out, "**The images**\n");
    let ratio_column = base.map_or(String::new(), |base| {
        format!(" smaller than {} |", number_of(&base.slug))
    });
    let _ = writeln!(
        out,
        "| step | image |{ratio_column} compressed | layers | files |"
    );
    let _ = writeln!(
        out,
        "|---|---:|{}---:|---:|---:|",
        if base.is_some() { "---:|" } else { "" }
    );
    for s in &measured {
        let ratio = match base {
            Some(base) if s.size_bytes < base.size_bytes => format!(
                " {:.0}x |",
                base.size_bytes as f64 / s.size_bytes.max(1) as f64
            ),
            Some(_) => " – |".to_string(),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} |{ratio} {} | {} | {} |",
            link(s),
            unbroken(&human_size(s.size_bytes)),
            unbroken(&human_size(s.compressed_bytes)),
            s.layers,
            s.files,
        );
    }
    if measured.iter().any(|s| s.pull_slow_link_s.is_some()) {
        let _ = writeln!(
            out,
            "\n**Pulling them** over a 50 Mbit/s line with a 20 ms round trip, every layer, \
             as a machine that has none of them\n\n| step | compressed | pull |"
        );
        let _ = writeln!(out, "|---|---:|---:|");
        for s in &measured {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                link(s),
                unbroken(&human_size(s.compressed_bytes)),
                unbroken(&or_dash(s.pull_slow_link_s, |seconds| {
                    if seconds < 10.0 {
                        format!("{seconds:.1} s")
                    } else {
                        format!("{seconds:.0} s")
                    }
                })),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n**Building them**\n\n\
         | step | cold build | rebuild, source changed | rebuild, manifests changed |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for s in &measured {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            link(s),
            unbroken(&seconds(s.cold_build_s)),
            unbroken(&seconds(s.rebuild_s)),
            unbroken(&seconds(s.rebuild_manifest_s)),
        );
    }
    let _ = writeln!(
        out,
        "\n**Running them**\n\n| step | `docker run` → PONG | idle RSS | `docker stop` |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for s in &measured {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            link(s),
            unbroken(&or_dash(s.run_to_pong_ms, |ms| format!("{ms:.0} ms"))),
            unbroken(&megabytes_kb(s.idle_rss_kb)),
            unbroken(&or_dash(s.stop_s.zip(s.stop_exit_code), |(s, code)| {
                format!("{s:.2} s, exit code {code}")
            })),
        );
    }
    let rounds = measured.iter().find_map(|s| s.load_rounds).unwrap_or(0);
    let _ = writeln!(
        out,
        "\n**Under load**\n\n| step | req/s, {rounds} rounds | latency p50 / p99 |"
    );
    let _ = writeln!(out, "|---|---:|---:|");
    for s in &measured {
        let _ = writeln!(
            out,
            // A browser breaks after an en dash: the load range is kept on one line.
            "| {} | <span style=\"white-space: nowrap\">{}</span> | {} |",
            link(s),
            rate_with_spread(s),
            unbroken(&or_dash(s.p50_ms.zip(s.p99_ms), |(p50, p99)| {
                format!("{p50:.2} / {p99:.2} ms")
            })),
        );
    }
    let shown: Vec<&str> = slugs.iter().map(String::as_str).collect();
    let _ = writeln!(out, "\n{}", provenance(results, &shown));
    out
}

/// A bar chart of image size per step, on a log scale, as SVG that the chapters put inline
/// into the page: its text takes the colour of the reader's theme (mdBook's `--fg`), so it
/// reads on the light theme and on the dark ones alike.
pub(super) fn ladder_svg(slugs: &[String], results: Option<&Results>) -> String {
    let rows: Vec<(&String, u64)> = slugs
        .iter()
        .filter_map(|slug| {
            results
                .and_then(|r| r.step(slug))
                .map(|s| (slug, s.size_bytes))
        })
        .collect();
    // Room on the left for the longest step name (about 8 px a character at 14 px).
    let longest = rows.iter().map(|(slug, _)| slug.len()).max().unwrap_or(10) as f64;
    let (width, row_height, left, right) = (760.0_f64, 34.0_f64, 8.5 * longest + 20.0, 90.0_f64);
    let height = 50.0 + row_height * rows.len().max(1) as f64;
    // One line per element and no blank line: Markdown keeps an HTML block whole only
    // up to its first blank line.
    let mut svg = format!(
        "<svg class=\"ladder\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         style=\"width: 100%; height: auto\" font-family=\"sans-serif\" font-size=\"14\" role=\"img\" \
         aria-label=\"Image size per step, log scale\">\n\
         <title>Image size per step (log scale)</title>\n\
         <desc>generated by `{GENERATE}`: do not edit</desc>\n\
         <style>.ladder text {{ fill: var(--fg, #222); }} .ladder .bar {{ fill: #c05621; }}</style>\n"
    );
    if rows.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"10\" y=\"30\">Not measured yet: run {MEASURE}</text>"
        );
    }
    // Log scale from 1 MB to the largest image, so 2 MB and 3 GB both stay readable.
    let max = rows.iter().map(|(_, size)| *size).max().unwrap_or(1) as f64 / MB;
    let span = max.max(10.0).log10();
    for (index, (slug, size)) in rows.iter().enumerate() {
        let y = 20.0 + row_height * index as f64;
        let mb = (*size as f64 / MB).max(1.0);
        let bar = ((mb.log10() / span) * (width - left - right)).max(2.0);
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{:.0}\" text-anchor=\"end\">{slug}</text>\
             <rect class=\"bar\" x=\"{left}\" y=\"{:.0}\" width=\"{bar:.1}\" height=\"{:.0}\"/>\
             <text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
            left - 8.0,
            y + 18.0,
            y + 4.0,
            row_height - 10.0,
            left + bar + 6.0,
            y + 18.0,
            human_size(*size)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{left}\" y=\"{:.0}\">log scale: every tenfold size adds the same length</text>\n</svg>",
        height - 8.0
    );
    svg
}
