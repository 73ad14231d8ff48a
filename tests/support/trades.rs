//! Two of the book's trade-offs as `instructor trades` measured them: the bytes
//! `panic = "abort"` saves (`generated/panic.md`, chapter 07) and what `docker stop`
//! does to each form of a command (`generated/stops.md`, chapters 01 and 08). Every
//! sentence reads its figures from the results, so none can outlive a new run.

use std::fmt::Write as _;

use super::results::{Results, StopForm, Trades, thousands};
use super::tool::{MD_HEADER, TRADES};

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
        "\nMeasured {} with `{}`, {}.",
        trades.date, trades.command, trades.docker
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

/// Whether a shell, not the service, ran as PID 1.
fn shell_stayed(stop: &StopForm) -> bool {
    let program = stop.pid1.split(' ').next().unwrap_or_default();
    program.rsplit('/').next().is_some_and(|name| name == "sh")
}

fn signed_thousands(value: i64) -> String {
    let sign = if value < 0 { "−" } else { "+" };
    format!("{sign}{}", thousands(value.unsigned_abs()))
}
