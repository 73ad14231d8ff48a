//! What the book includes but nobody types: each step's diff from the step before,
//! its commands, and every measured number, rendered from `book/src/generated/results.json`.
//! `cargo run --example workshop -- instructor generate` writes these files; `tests/book.rs`
//! fails when a committed one differs from what this module renders now.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::MB;
use super::build::with_flags;
use super::check::Check;
use super::checks::{ARM64, BOTH, IMAGE_FILES, scan_command};
use super::ci_cache;
use super::comparison;
use super::contenders::Contender;
use super::error::{Error, Result, io};
use super::publish::Signer;
use super::published::short_digest;
use super::registry::{BOOK_REGISTRY, DIGEST_FORMAT};
use super::results::{
    DIR, PublishResult, Results, StepResult, human_size, rate_range, thousands, unbroken,
};
use super::running::HARDENED_FLAGS;
use super::step::{Budget, Step, StepNumber};
use super::tool::{CHECK, COMPARE, DOCTOR, GENERATE, MD_HEADER, MEASURE, PROGRESS, TRADES};
use super::trades;

/// The longest line a code block in the book may have: the content column is 750 px
/// wide, and mdBook's code font fits about 86 characters into it (the browser test
/// measured 8.4 px a character at 1280 px; it fails on anything that scrolls). Past that a line scrolls sideways, and what scrolls away is usually
/// what matters (the image name at the end of a `docker run`).
pub const CODE_COLUMNS: usize = 80;

/// A shell command as the book shows it: broken at spaces (never inside quotes, never
/// between an option and its value) into
/// lines of at most `CODE_COLUMNS`, continued with ` \` and indented, so it still
/// pastes into a shell as one command.
pub fn shell_line(command: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut quote = None;
    let mut word = String::new();
    for c in command.chars() {
        match (c, quote) {
            (' ', None) => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            ('\'' | '"', None) => quote = Some(c),
            (c, Some(open)) if c == open => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    // An option stays on one line with its value (`--memory 64m`, `-f FILE`); the last
    // word is the command's subject (the image, the context), never an option's value.
    let last = words.len().saturating_sub(1);
    let mut glued: Vec<String> = Vec::new();
    for (index, word) in words.into_iter().enumerate() {
        match glued.last_mut() {
            Some(option)
                if option.starts_with('-')
                    && !option.contains(' ')
                    && !word.starts_with('-')
                    && index != last =>
            {
                option.push(' ');
                option.push_str(&word);
            }
            _ => glued.push(word),
        }
    }
    let words = glued;
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        // Continuation lines are indented by 4; every line but the last ends in " \\".
        let fits =
            |line: &String, indent: usize| indent + line.len() + 1 + word.len() + 2 <= CODE_COLUMNS;
        let indent = if lines.len() > 1 { 4 } else { 0 };
        match lines.last_mut() {
            Some(line) if fits(line, indent) => {
                line.push(' ');
                line.push_str(&word);
            }
            _ => lines.push(word),
        }
    }
    lines.join(" \\\n    ")
}

/// One generated file: where it goes and what it holds.
pub struct Generated {
    pub path: PathBuf,
    pub content: String,
}

/// Everything the generator writes, rendered from the step folders and results.json.
pub fn render_all() -> Result<Vec<Generated>> {
    let steps = Step::all()?;
    let slugs: Vec<String> = steps.iter().map(|step| step.slug.clone()).collect();
    let results = Results::load()?;
    let mut files = Vec::new();
    let mut add = |name: String, content: String| {
        files.push(Generated {
            path: PathBuf::from(DIR).join(name),
            content,
        })
    };
    for (index, step) in steps.iter().enumerate() {
        let slug = &step.slug;
        let previous = index.checked_sub(1).map(|before| &steps[before]);
        add(format!("{slug}.commands.md"), commands(step));
        if let Some(previous) = previous {
            add(format!("{slug}.diff.md"), diff(previous, step)?);
        }
        add(
            format!("{slug}.numbers.md"),
            numbers(step, previous, results.as_ref()),
        );
        add(format!("{slug}.yours.md"), yours(step, previous)?);
    }
    add("learner.commands.md".into(), learner_commands());
    add(
        "measure.commands.md".into(),
        format!(
            "{MD_HEADER}```sh\n# every step, every figure (many minutes)\n{MEASURE}\n# sizes and counts only\n{MEASURE} --quick\n\
         # some steps only\n{MEASURE} --steps 06,07\n# the final image beside the article's Go service (needs wrk)\n{COMPARE}\n\
         # the trade-offs: step 07 with panic = \"unwind\", step 05's CMD in each form,\n\
         # step 09 and cargo-chef on a fresh CI runner\n{TRADES}\n\
         # the book's tables and charts again, from results.json\n{GENERATE}\n```\n"
        ),
    );
    add("sizes.md".into(), sizes_table(&slugs, results.as_ref()));
    add("limits.md".into(), limits(&slugs, results.as_ref()));
    add("panic.md".into(), trades::panic_markdown(results.as_ref()));
    add("stops.md".into(), trades::stops_markdown(results.as_ref()));
    add("ci-cache.md".into(), trades::ci_markdown(results.as_ref()));
    add("ci-cache.commands.md".into(), ci_cache_commands()?);
    add("ladder.svg".into(), ladder_svg(&slugs, results.as_ref()));
    add("compare.commands.md".into(), compare_commands()?);
    add("compare.md".into(), comparison::markdown(results.as_ref()));
    add("compare.svg".into(), comparison::svg(results.as_ref()));
    Ok(files)
}

/// The two builds of a CI cache, the cargo-chef Dockerfile's: the first run exports it,
/// the next run, on a fresh runner that restored the folder, imports it.
fn ci_cache_commands() -> Result<String> {
    let build = ci_cache::chef()?.build_command();
    let folder = std::path::Path::new("ci-cache");
    let with = |flags: String| with_flags(&build, &flags);
    Ok(format!(
        "{MD_HEADER}```sh\n# a CI run: build, export every stage's layers to a folder CI keeps\n{}\n\
         # the next run, on a fresh runner that restored the folder: build from it\n{}\n```\n",
        shell_line(&with(ci_cache::export_to(folder))),
        shell_line(&with(ci_cache::import_from(folder))),
    ))
}

/// The commands that build the Go images and compare them with ours.
fn compare_commands() -> Result<String> {
    let mut out =
        format!("{MD_HEADER}```sh\n# the article's service, as written and in release mode\n");
    let go = Contender::go_images()?;
    for contender in &go {
        let _ = writeln!(out, "{}", shell_line(&contender.build_command()));
    }
    if let Some(first) = go.first() {
        let _ = writeln!(
            out,
            "docker run --rm -p 8080:8080 {}   # then: curl localhost:8080/ping",
            first.tag
        );
    }
    let _ = writeln!(
        out,
        "# all three images in one run: sizes, starts, memory, stop, load\n{COMPARE}\n```"
    );
    Ok(out)
}

fn commands(step: &Step) -> String {
    let tag = &step.image;
    let hardened = if step.facts.hardened {
        let run = format!(
            "docker run --rm -p 8080:8080 {} {tag}",
            HARDENED_FLAGS.join(" ")
        );
        format!(
            "# or locked down, as production should run it\n{}\n",
            shell_line(&run)
        )
    } else {
        String::new()
    };
    let platforms: String = step
        .facts
        .platforms
        .iter()
        .map(|platform| {
            let image = step.image_for(Some(platform));
            format!(
                "# for {platform}: the same Dockerfile; it runs under emulation\n{}\n{}\n",
                shell_line(&step.build_command_for(Some(platform))),
                shell_line(&format!("docker run --rm -p 8080:8080 {image}"))
            )
        })
        .collect();
    let multi = if step
        .facts
        .checks
        .contains(&Check::BuildsOneMultiPlatformImage)
    {
        let platforms = BOTH.join(",");
        let image = step.image_for(Some(&platforms));
        format!(
            "# both platforms under one tag (the containerd image store)\n{}\n{}\n{}\n",
            shell_line(&step.build_command_for(Some(&platforms))),
            shell_line(&format!(
                "docker image inspect --platform {ARM64} --format '{{{{.Architecture}}}}' {image}"
            )),
            shell_line(&format!(
                "docker run --rm -p 8080:8080 --platform {ARM64} {image}"
            ))
        )
    } else {
        String::new()
    };
    let exports: String = step
        .facts
        .exports
        .iter()
        .map(|stage| {
            format!(
                "# export the {stage} stage's files into ./{stage}/\n{}\n",
                shell_line(&step.export_command(Some(stage), stage))
            )
        })
        .collect();
    let scan = if step.facts.checks.contains(&Check::ScannersSeeItsCrates) {
        let binary = format!("{IMAGE_FILES}/ping");
        format!(
            "# scan the binary: the image's files into ./{IMAGE_FILES}/, then cargo audit\n{}\n\
             # with RustSec's advisories, fetched (cargo install cargo-audit --locked)\n\
             cargo audit bin {binary}\n\
             # as the check scans it: a database of its own, nothing fetched\n{}\n",
            shell_line(&step.export_command(None, IMAGE_FILES)),
            shell_line(&scan_command("advisory-db", &binary).join(" ")),
        )
    } else {
        String::new()
    };
    let publish = if step.facts.publish.is_empty() {
        String::new()
    } else {
        publish_commands(step)
    };
    format!(
        "{MD_HEADER}```sh\n# build (from the repository root)\n{build}\n# run\n{run}\n{hardened}\
         # in a second terminal\ncurl http://localhost:8080/ping\n{platforms}{multi}{exports}{scan}{publish}# check the step\ncargo test --test {test}\n```\n",
        build = shell_line(&step.build_command()),
        run = shell_line(&format!("docker run --rm -p 8080:8080 {tag}")),
        test = step.test_name(),
    )
}

/// Publishing: a registry, the push, what it holds, signing and attesting by digest,
/// running by digest, and the cluster. The commands the publish checks run, with the
/// book's registry and `$image` (the index by digest) in place of the run's own.
fn publish_commands(step: &Step) -> String {
    let name = step.published_name(BOOK_REGISTRY);
    let repository = name
        .rsplit_once(':')
        .map_or(name.as_str(), |(repository, _)| repository);
    let line = |words: Vec<String>| shell_line(&words.join(" "));
    let setup: Vec<String> = Signer::setup_commands().into_iter().map(line).collect();
    let run = format!(
        "docker run --rm -p 8080:8080 {} $image",
        HARDENED_FLAGS.join(" ")
    );
    format!(
        "# a registry on this machine (the tests start Debian's docker-registry)\n\
         docker run -d --name registry -p 127.0.0.1:5050:5000 registry:3\n\
         # publish: both platforms, one index, provenance; the dates the commit's\n{push}\n\
         # what the tag names: the index, each platform's image, their attestations\n\
         docker buildx imagetools inspect {name}\n\
         # from here on, the image by its digest\n\
         digest=$(docker buildx imagetools inspect \\\n    {name} \\\n    --format '{DIGEST_FORMAT}')\n\
         image={repository}@$digest\n\
         # the provenance BuildKit attached: the Dockerfile and the commit\n\
         docker buildx imagetools inspect $image --format '{{{{json .Provenance}}}}'\n\
         # a key pair, and a signing config without a transparency log\n{setup}\n\
         # sign the index by digest, then verify\n{sign}\n{verify}\n\
         # attest the SBOM (./sbom/, exported above), then verify\n{attest}\n{verify_attestation}\n\
         # run it by digest, locked down\n{run}\n\
         # on a cluster: the manifest of deploy/, the image by digest\n\
         IMAGE=$image envsubst < {manifest} | kubectl apply -f -\n",
        push = shell_line(&step.book_publish_command()),
        setup = setup.join("\n"),
        sign = line(Signer::sign_command("$image")),
        verify = line(Signer::verify_command("$image")),
        attest = line(Signer::attest_command("$image", "sbom/ping.cdx.json")),
        verify_attestation = line(Signer::verify_attestation_command("$image")),
        run = shell_line(&run),
        manifest = super::kubernetes::MANIFEST,
    )
}

/// "Your turn": start from the previous step's files, check with the step's checks.
fn yours(step: &Step, previous: Option<&Step>) -> Result<String> {
    let number = step.number;
    let files: Vec<String> = step
        .learner_files()
        .into_iter()
        .filter(|name| !name.ends_with(".dockerignore"))
        .map(|name| format!("`{name}`"))
        .collect();
    let files = match files.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let folder = step.yours_dir().display().to_string();
    let start = match previous {
        Some(previous) => format!(
            "Write your own {files} in `{folder}/`, starting from a copy of step {}'s files:",
            previous.number
        ),
        None => format!("Write your own {files} in `{folder}/`:"),
    };
    let checks: String = step
        .facts
        .checks
        .iter()
        .map(|check| {
            if step.facts.new.contains(check) {
                format!("- **{}** (new in this step)\n", check.says())
            } else {
                format!("- {}\n", check.says())
            }
        })
        .collect();
    // Checked before any edit, the previous step's files fail what this step adds: the
    // learner's task is read from the report, not from the chapter.
    let first_run = match previous {
        // Step 03's script has no twin in step 02: the check has nothing to run without it.
        Some(previous) if step.is_script() => format!(
            "Step {}'s files hold no build script: write yours, and the files it builds \
             from, then run the check. The ✗ lines, each with what was found and a hint, are \
             what is left to do; edit until every line is ✓.",
            previous.number
        ),
        Some(previous) => format!(
            "Run the check before you change anything. Step {}'s files fail what this step \
             adds: the ✗ lines, each with what was found and a hint, are your task. Then edit \
             your files until every line is ✓.",
            previous.number
        ),
        None => "Each ✗ would come with what was found and a hint.".to_string(),
    };
    Ok(format!(
        "{MD_HEADER}{start}\n\n```sh\n{}\n{CHECK} {number}\n```\n\n\
         `{CHECK} {number}` builds your file as `{}-yours` with this step's build command, then \
         runs the checks the step's own test runs on the reference:\n\n{checks}\n\
         {first_run} `{PROGRESS}` lists every step you have checked.\n",
        step.start_commands()?
            .iter()
            .map(|command| shell_line(command))
            .collect::<Vec<_>>()
            .join("\n"),
        step.image,
    ))
}

/// The learner's commands, for *Before you start* and the cheat sheet.
fn learner_commands() -> String {
    format!(
        "{MD_HEADER}```sh\n# is this machine ready? every ✗ line says what to do\n{DOCTOR}\n\
         # run step 05's checks on your yours/05-dependency-cache/Dockerfile\n{CHECK} 05\n\
         # the same checks on a file anywhere\n{CHECK} 05 path/to/Dockerfile\n\
         # which of your steps pass\n{PROGRESS}\n```\n"
    )
}

/// The step's Dockerfiles as one text, comment lines left out; step 03's two files are
/// shown one after the other. The name is short: `03-builder-pattern/Dockerfile.build +
/// Dockerfile.run`.
fn instructions_text(step: &Step) -> Result<(String, String)> {
    let files = step.dockerfiles();
    let mut texts = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|error| io("read", path, error))?;
        texts.push(
            text.lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        );
    }
    let text = texts.join("\n");
    let names = files
        .iter()
        .map(|path| path.file_name().unwrap_or_default().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" + ");
    Ok((format!("{}/{names}", step.slug), text))
}

/// What a step changes in the Dockerfile, instructions only: the whole file, comments
/// included, is shown above the diff in every chapter, and comment churn would bury
/// the two lines that matter.
fn diff(previous: &Step, step: &Step) -> Result<String> {
    let (old_name, old) = instructions_text(previous)?;
    let (new_name, new) = instructions_text(step)?;
    let diff = similar::TextDiff::from_lines(&old, &new);
    let unified = diff
        .unified_diff()
        .context_radius(2)
        .header(&old_name, &new_name)
        .to_string();
    let touched = changed_instructions(previous, step)?
        .iter()
        .map(|instruction| format!("`{instruction}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "{MD_HEADER}Instructions only: comment lines are left out here, the whole file is above.\n\n\
         ```diff\n{unified}```\n\nThe instructions this step adds, changes or removes: {touched}.\n"
    ))
}

/// The Dockerfile instructions (`RUN`, `USER`, …) on the lines a step adds or removes,
/// read from the same diff the book shows.
pub fn changed_instructions(previous: &Step, step: &Step) -> Result<Vec<String>> {
    let (_, old) = instructions_text(previous)?;
    let (_, new) = instructions_text(step)?;
    let diff = similar::TextDiff::from_lines(&old, &new);
    // An instruction is the first word of a line that does not continue the one before.
    let starts = |text: &str| -> Vec<Option<String>> {
        let mut continued = false;
        text.lines()
            .map(|line| {
                let instruction = (!continued)
                    .then(|| line.split_whitespace().next().map(str::to_uppercase))
                    .flatten();
                continued = line.trim_end().ends_with('\\');
                instruction
            })
            .collect()
    };
    let (old_starts, new_starts) = (starts(&old), starts(&new));
    // The instruction a line belongs to: its own, or the nearest one above it.
    let owner = |starts: &[Option<String>], index: usize| {
        starts[..=index]
            .iter()
            .rev()
            .find_map(|start| start.clone())
    };
    let mut changed: Vec<String> = Vec::new();
    for change in diff.iter_all_changes() {
        let instruction = match change.tag() {
            similar::ChangeTag::Delete => change.old_index().and_then(|i| owner(&old_starts, i)),
            similar::ChangeTag::Insert => change.new_index().and_then(|i| owner(&new_starts, i)),
            similar::ChangeTag::Equal => None,
        };
        if let Some(instruction) = instruction.filter(|i| !changed.contains(i)) {
            changed.push(instruction);
        }
    }
    Ok(changed)
}

/// The step number of a measured step's slug: `06`.
fn number_of(slug: &str) -> String {
    slug.parse::<StepNumber>()
        .map(|number| number.to_string())
        .unwrap_or_else(|_| slug.to_string())
}

fn or_dash<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map(show).unwrap_or_else(|| "–".into())
}

/// Where the figures of a table of `shown` steps come from: the run, and which of them
/// an earlier run measured (nothing to say when the last run measured them all).
fn provenance(results: &Results, shown: &[&str]) -> String {
    let all_from_the_last_run = shown.iter().all(|slug| {
        results
            .last_run_steps
            .iter()
            .any(|measured| measured == slug)
    });
    let some = match results.last_run_steps.as_slice() {
        [] => String::new(),
        _ if all_from_the_last_run => String::new(),
        steps => format!(
            " That run measured {} {}; the others come from an earlier run: compare their \
             speeds with these only loosely.",
            if steps.len() == 1 { "step" } else { "steps" },
            steps
                .iter()
                .map(|slug| number_of(slug))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let load = match &results.load_generator {
        Some(generator) => format!(" Load: {generator}."),
        None => " Load: the workshop's own generator (32 keep-alive connections through the \
                 published port), before wrk replaced it."
            .into(),
    };
    let builds = if results.mode == "runtime" {
        " Its build times come from the full run before it."
    } else {
        ""
    };
    format!(
        "Measured {} on {}, {}, {}, with `{}` ({} mode).{builds}{some}{load}",
        results.date,
        results.machine,
        results.toolchain,
        results.docker,
        results.command,
        results.mode
    )
}

/// Requests per second as the median round and the range of all rounds, in thousands:
/// `35.1k (33.0–36.2)`, never broken across lines.
fn rate_with_spread(s: &StepResult) -> String {
    match (s.requests_per_s, s.requests_per_s_min, s.requests_per_s_max) {
        (Some(median), Some(min), Some(max)) => rate_range(median, min, max),
        (Some(median), _, _) => format!("{:.1}k", median / 1000.0),
        _ => "–".into(),
    }
}

fn seconds(value: Option<f64>) -> String {
    or_dash(value, |s| format!("{s:.0} s"))
}

fn megabytes_kb(value: Option<u64>) -> String {
    or_dash(value, |kb| format!("{:.1} MB", kb as f64 / 1000.0))
}

/// How one figure of a step's measurements is shown.
type Figure = fn(&StepResult) -> String;

/// One step's measured figures, one row per figure, next to the previous step's.
fn numbers(step: &Step, previous: Option<&Step>, results: Option<&Results>) -> String {
    let mut out = String::from(MD_HEADER);
    let Some((results, measured)) = results.and_then(|r| r.step(&step.slug).map(|s| (r, s))) else {
        let _ = writeln!(out, "*Not measured yet: run `{MEASURE}`.*");
        return out;
    };
    let previous = previous.and_then(|previous| results.step(&previous.slug).cloned());
    // What a step changes: the image and its builds. How each image runs and serves is
    // in Results, side by side, where a reader can compare steps that change nothing there.
    let rows: [(&str, Figure); 6] = [
        ("image size", |s| human_size(s.size_bytes)),
        (
            "compressed (its layers gzipped, as a push sends them)",
            |s| human_size(s.compressed_bytes),
        ),
        ("layers, files", |s| format!("{}, {}", s.layers, s.files)),
        ("cold build", |s| seconds(s.cold_build_s)),
        ("rebuild after a source-only change", |s| {
            seconds(s.rebuild_s)
        }),
        ("rebuild after a change to the manifests", |s| {
            seconds(s.rebuild_manifest_s)
        }),
    ];
    let budget = budget_label(step).unwrap_or_else(|| "none: the size is the lesson".into());
    match &previous {
        Some(previous) => {
            let _ = writeln!(
                out,
                "| | this step | step {} |\n|---|---:|---:|\n| size budget | {budget} | |",
                number_of(&previous.slug)
            );
            for (what, show) in rows {
                let _ = writeln!(out, "| {what} | {} | {} |", show(measured), show(previous));
            }
        }
        None => {
            let _ = writeln!(
                out,
                "| | this step |\n|---|---:|\n| size budget | {budget} |"
            );
            for (what, show) in rows {
                let _ = writeln!(out, "| {what} | {} |", show(measured));
            }
        }
    }
    if let Some(bytes) = measured.dependency_list_bytes {
        let _ = writeln!(
            out,
            "\nThe dependency list embedded in the binary (`cargo auditable`): {bytes} bytes, \
             compressed."
        );
    }
    for other in &measured.platforms {
        let _ = writeln!(
            out,
            "\nFor {}: the image is {}, built in {} right after the cold build above (every crate \
             compiled again for the other target), and it answered its first PONG {} after \
             `docker run`, under emulation.",
            other.platform,
            human_size(other.size_bytes),
            seconds(other.build_s),
            or_dash(other.run_to_pong_ms, |ms| format!("{ms:.0} ms")),
        );
    }
    if let Some(publish) = &measured.publish {
        let _ = writeln!(out, "\n{}", published(publish));
    }
    let mut shown = vec![step.slug.as_str()];
    shown.extend(previous.as_ref().map(|previous| previous.slug.as_str()));
    let _ = writeln!(out, "\n{}", provenance(results, &shown));
    out
}

/// What publishing measured: the index, each platform's image, the rebuild from nothing.
fn published(publish: &PublishResult) -> String {
    let mut out = format!(
        "Published from commit `{}`: the publish command (`--no-cache`: every layer made \
         again, cargo's compile served by its cache mounts) built and pushed both platforms \
         in {}, and the tag named the index `{}`:\n\n| platform | image digest | as pushed \
         (BuildKit's gzip) |\n|---|---|---:|\n",
        &publish.commit[..12.min(publish.commit.len())],
        seconds(Some(publish.push_s)),
        short_digest(&publish.index_digest),
    );
    for platform in &publish.platforms {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} |",
            platform.platform,
            short_digest(&platform.digest),
            human_size(platform.compressed_bytes)
        );
    }
    let same = if publish.same_platform_digests {
        "every platform's image digest was the same as the push's"
    } else {
        "the platforms' image digests differed from the push's"
    };
    let index = if publish.rebuilt_index_digest == publish.index_digest {
        "and so was the index's".to_string()
    } else {
        format!(
            "the index's was `{}`: the provenance attestations in it record when each build ran",
            short_digest(&publish.rebuilt_index_digest)
        )
    };
    let _ = write!(
        out,
        "\nBuilt again from nothing (no build cache, empty cache mounts) in {}, {same}; {index}.",
        seconds(Some(publish.rebuild_from_nothing_s)),
    );
    out
}

/// What the last locked-down image measured against its HTTP limits, for the appendix
/// on the service's limits: the figures the check `holds_http_limits` records.
fn limits(slugs: &[String], results: Option<&Results>) -> String {
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

fn budget_label(step: &Step) -> Option<String> {
    Some(match step.facts.budget.as_ref()? {
        Budget::OverBase {
            base, over_base_mb, ..
        } => format!("{base} + {over_base_mb} MB"),
        Budget::Max { max_mb, .. } => format!("{max_mb} MB"),
    })
}

/// All steps side by side: the images, building them, running them, and under load.
/// Each table narrow enough for the book's content column, so no column scrolls out of
/// sight.
fn sizes_table(slugs: &[String], results: Option<&Results>) -> String {
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
fn ladder_svg(slugs: &[String], results: Option<&Results>) -> String {
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

/// Builds the HTML of the book in `book` (normally the repository's `book/`) into `out`
/// with mdBook, the way a reader's `mdbook serve` does; returns mdBook's log, or what
/// went wrong and what to do.
pub fn build_html(book: &std::path::Path, out: &std::path::Path) -> Result<String> {
    let _ = std::fs::remove_dir_all(out);
    let output = std::process::Command::new("mdbook")
        .arg("build")
        .arg(book)
        .arg("--dest-dir")
        .arg(out)
        .output()
        .map_err(|error| {
            Error::Harness(format!(
                "mdbook cannot run ({error}), and the book's tests build the book. \
                 Install it: `cargo install mdbook --locked`"
            ))
        })?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(Error::Harness(format!("mdbook build failed:\n{log}")));
    }
    Ok(log)
}
