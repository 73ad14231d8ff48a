//! Two of the book's trade-offs as `instructor trades` measured them: the bytes
//! `panic = "abort"` saves (`generated/panic.md`, chapter 07) and what `docker stop`
//! does to each form of a command (`generated/stops.md`, chapters 01 and 08), what a
//! fresh CI runner gets from a cache (`generated/ci-cache.md`, the next day). Every
//! sentence reads its figures from the results, so none can outlive a new run.

use std::fmt::Write as _;

use crate::results::{CiBuild, CiBuilds, Results, StopForm, Trades, human_size, thousands};
use crate::tool::{MD_HEADER, TRADES};

/// A generated page: the header, `table`'s header row, what `body` writes from the
/// measurements, and where they come from; or how to measure them.
fn page(results: Option<&Results>, table: &str, body: impl FnOnce(&Trades, &mut String)) -> String {
    let mut out = String::from(MD_HEADER);
    let Some(trades) = results.and_then(|results| results.trades.as_ref()) else {
        let _ = writeln!(out, "*Not measured yet: run `{TRADES}`.*");
        return out;
    };
    let _ = writeln!(out, "{table}");
    body(trades, &mut out);
    let _ = writeln!(
        out,
        "\nMeasured in one run with the steps, {}: `{}`, {}.",
        trades.run, trades.command, trades.docker
    );
    out
}

/// Step 07's image with the dist profile's `panic` each way: `generated/panic.md`.
pub fn panic_markdown(results: Option<&Results>) -> String {
    let table = "| Step 07 with | `/ping` | image, unpacked | compressed |\n|---|--:|--:|--:|";
    page(results, table, |trades, out| {
        for variant in &trades.panic {
            let _ = writeln!(
                out,
                "| `panic = \"{}\"` | {} B | {} B | {} B |",
                variant.panic,
                thousands(variant.binary_bytes),
                thousands(variant.size_bytes),
                thousands(variant.compressed_bytes)
            );
        }
        let find = |setting: &str| trades.panic.iter().find(|variant| variant.panic == setting);
        if let (Some(abort), Some(unwind)) = (find("abort"), find("unwind")) {
            let more = unwind.binary_bytes as i64 - abort.binary_bytes as i64;
            let _ = writeln!(
                out,
                "\nUnwinding costs {} bytes of binary ({:+.0} %) and {} compressed bytes of image.",
                signed_thousands(more),
                more as f64 * 100.0 / abort.binary_bytes as f64,
                signed_thousands(unwind.compressed_bytes as i64 - abort.compressed_bytes as i64),
            );
        }
    })
}

/// Step 05's command in each form, and what `docker stop` did: `generated/stops.md`.
pub fn stops_markdown(results: Option<&Results>) -> String {
    let table = "| Step 05's command | PID 1 | `docker stop` took | exit code |\n|---|---|--:|--:|";
    page(results, table, |trades, out| {
        for stop in &trades.stops {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {:.1} s | {} |",
                stop.instruction, stop.pid1, stop.stop_s, stop.exit_code
            );
        }
        let (shell, service): (Vec<&StopForm>, Vec<&StopForm>) =
            trades.stops.iter().partition(|stop| shell_stayed(stop));
        let forms = |stops: &[&StopForm]| {
            stops
                .iter()
                .map(|stop| format!("`{}`", stop.instruction))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !service.is_empty() {
            let stopped = if service.iter().all(|stop| stop.exit_code == 0) {
                " and exited with code 0"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "\n`ping` itself was PID 1 for {}: it got `docker stop`'s SIGTERM{stopped}.",
                forms(&service)
            );
        }
        if !shell.is_empty() {
            let slowest = shell.iter().map(|stop| stop.stop_s).fold(0.0, f64::max);
            let killed = if shell.iter().all(|stop| stop.exit_code == 137) {
                " and killed it (137: SIGKILL)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "The shell stayed PID 1 for {}: as PID 1 it ignores SIGTERM and does not pass it \
             on, so `docker stop` waited up to {slowest:.1} s{killed}.",
                forms(&shell)
            );
        }
    })
}

/// A Dockerfile by its file name, as the chapter's table heads it: `Dockerfile`,
/// `cargo-chef.Dockerfile`.
fn shown_in_step(dockerfile: &str) -> &str {
    dockerfile.rsplit('/').next().unwrap_or(dockerfile)
}

/// Whether a shell, not the service, ran as PID 1.
fn shell_stayed(stop: &StopForm) -> bool {
    let program = stop.pid1.split(' ').next().unwrap_or_default();
    program.rsplit('/').next().is_some_and(|name| name == "sh")
}

fn signed_thousands(value: i64) -> String {
    let sign = if value < 0 { "−" } else { "+" };
    format!("{sign}{}", thousands(value.unsigned_abs()))
}

/// Step 09 and its cargo-chef alternative built as CI builds them: `generated/ci-cache.md`.
pub fn ci_markdown(results: Option<&Results>) -> String {
    let builds = results
        .and_then(|results| results.trades.as_ref())
        .map_or(&[][..], |trades| trades.ci.as_slice());
    // Results from before these were measured: say how to measure them.
    let results = results.filter(|_| !builds.is_empty());
    let mut table = String::from("| Built |");
    for built in builds {
        let _ = write!(table, " `{}` |", shown_in_step(&built.dockerfile));
    }
    table.push_str("\n|---|");
    table.push_str(&"--:|".repeat(builds.len()));
    page(results, &table, |trades, out| {
        let row = |out: &mut String, what: &str, of: &dyn Fn(&CiBuilds) -> String| {
            let cells: Vec<String> = trades.ci.iter().map(of).collect();
            let _ = writeln!(out, "| {what} | {} |", cells.join(" | "));
        };
        let build = |build: &CiBuild| {
            format!(
                "{:.0} s, {} {} compiled",
                build.build_s,
                build.crates_compiled,
                if build.crates_compiled == 1 {
                    "crate"
                } else {
                    "crates"
                }
            )
        };
        row(out, "on a fresh runner, no cache", &|ci| build(&ci.cold));
        row(
            out,
            "on a fresh runner given the last run's cache, after a source change",
            &|ci| build(&ci.imported),
        );
        row(out, "on the same builder, after a source change", &|ci| {
            build(&ci.kept)
        });
        row(out, "the cache it exports (`mode=max`)", &|ci| {
            human_size(ci.exported_bytes)
        });
        for ci in &trades.ci {
            let given = &ci.imported;
            let verdict = if given.crates_compiled == 1 {
                "the service alone compiled: the dependencies came from the cache".to_string()
            } else if given.crates_compiled >= ci.cold.crates_compiled {
                format!(
                    "every crate compiled again ({}), as with no cache at all: the cache \
                     mounts were not in it",
                    given.crates_compiled
                )
            } else {
                format!("{} crates compiled", given.crates_compiled)
            };
            let _ = writeln!(
                out,
                "\nGiven the last run's cache, a fresh runner rebuilt `{}` in {:.0} s ({:.0} s \
                 with no cache, {:.0} s on a builder that kept its own): {verdict}.",
                shown_in_step(&ci.dockerfile),
                given.build_s,
                ci.cold.build_s,
                ci.kept.build_s
            );
        }
    })
}
