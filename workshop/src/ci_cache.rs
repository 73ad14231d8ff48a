//! A fresh CI runner, on this machine: what BuildKit kept of a build's `RUN`s is
//! forgotten, the way a new runner starts without it, and what `--cache-to` exported
//! is all the next build gets back (`--cache-from`). The base images stay: a runner
//! pulls them.

use std::path::Path;

use crate::error::Harness;
use crate::error::{Error, Result};
use crate::step::{Step, shell_word};
use crate::{docker, repo_root};

/// Step 09's image with cargo-chef in place of its cache mounts, and its tag.
pub const CHEF_DOCKERFILE: &str = "steps/09-cache-mounts/alternatives/cargo-chef.Dockerfile";
pub const CHEF_IMAGE: &str = "ping:09-cargo-chef";

/// Step 09 built from the cargo-chef Dockerfile: its checks, its build command with
/// the file swapped.
pub fn chef() -> Result<Step> {
    Step::find("09-cache-mounts")?.yours(&repo_root().join(CHEF_DOCKERFILE), CHEF_IMAGE)
}

/// Prunes what BuildKit kept of every `RUN` of `dockerfile` (its text): each one's
/// layer and its cache mounts, whatever build made them (another step's with the same
/// command too), and its final stage's layers. A record is named after the
/// command as the Dockerfile wrote it (`mount / from exec /bin/sh -c cargo build …`,
/// `cached mount /app/target from exec /bin/sh -c … with id "/ping-target"`); a fully
/// cached build uses only its last record, so what a build used cannot say it. What
/// is built on them goes too (the `COPY` after a `RUN`): BuildKit keeps a record while
/// a child needs it. Says how many records went; fails if one of them cannot go, since
/// the next build would take it from this machine.
pub fn forget_the_runs_of(dockerfile: &str) -> Result<usize> {
    forget(dockerfile, true, true, None)
}

/// `forget_the_runs_of` without the cache mounts: every `RUN` runs again, and finds in
/// its cache mounts what the last build left there (cargo compiles nothing new).
pub fn forget_the_layers_of(dockerfile: &str) -> Result<usize> {
    forget(dockerfile, true, false, None)
}

/// Empties the cache mounts `dockerfile` uses (cargo's registry and target/): the
/// daemon's other caches, and the layers, stay.
pub fn forget_the_cache_mounts_of(dockerfile: &str) -> Result<usize> {
    forget(dockerfile, false, true, None)
}

/// The same for a build whose cache mount ids BuildKit prefixes with `namespace`
/// (`BUILDKIT_CACHE_MOUNT_NS`, as learner mode builds): `ping-yours/ping-target`.
pub fn forget_the_cache_mounts_in(dockerfile: &str, namespace: Option<&str>) -> Result<usize> {
    forget(dockerfile, false, true, namespace)
}

fn forget(
    dockerfile: &str,
    layers_too: bool,
    mounts_too: bool,
    namespace: Option<&str>,
) -> Result<usize> {
    docker::ready()?;
    // No build uses the cache mounts while they go (`locks`).
    let _emptying = crate::locks::cache_mounts_emptied()?;
    let commands = if layers_too {
        run_commands(dockerfile)
    } else {
        Vec::new()
    };
    if layers_too && commands.is_empty() {
        return Err(Error::Harness("the Dockerfile has no RUN to forget".into()));
    }
    // A cache mount is one record per id, named after whichever RUN made it first
    // (another step's, another project's): found by its id.
    let mounts: Vec<String> = cache_mount_ids(dockerfile)
        .iter()
        .filter(|_| mounts_too)
        .map(|id| format!(" with id \"{}/{id}\"", namespace.unwrap_or("")))
        .collect();
    // A final stage's layers hang on no RUN (`FROM scratch`, then `[stage-3 1/1] COPY
    // --from=build /ping /ping`), and a build that finds them needs nothing else.
    let copies: Vec<String> = instructions(dockerfile)
        .into_iter()
        .filter(|instruction| instruction.starts_with("COPY "))
        .map(|instruction| format!("] {instruction}"))
        .filter(|_| layers_too)
        .collect();
    let of_the_build = |record: &Record| {
        let description = record.description.as_str();
        mounts.iter().any(|id| description.ends_with(id.as_str()))
            || (record.parents.is_empty()
                && description.starts_with('[')
                && copies
                    .iter()
                    .any(|copy| description.ends_with(copy.as_str())))
            || description
                .split_once(" from exec /bin/sh -c ")
                .is_some_and(|(_, command)| commands.iter().any(|run| command == run))
    };
    // With everything built on them: BuildKit keeps a record while a child needs it.
    let to_forget = || -> Result<Vec<Record>> {
        let all = records()?;
        let mut ids: std::collections::HashSet<String> = all
            .iter()
            .filter(|record| of_the_build(record))
            .map(|record| record.id.clone())
            .collect();
        loop {
            let before = ids.len();
            for record in &all {
                if record.parents.iter().any(|parent| ids.contains(parent)) {
                    ids.insert(record.id.clone());
                }
            }
            if ids.len() == before {
                break;
            }
        }
        Ok(all
            .into_iter()
            .filter(|record| ids.contains(&record.id))
            .collect())
    };
    let mut forgotten = 0;
    // Children first, a pass at a time: a record goes once nothing builds on it.
    for _ in 0..16 {
        let left = to_forget()?;
        if left.is_empty() {
            return Ok(forgotten);
        }
        let parents: std::collections::HashSet<&str> = left
            .iter()
            .flat_map(|record| record.parents.iter().map(String::as_str))
            .collect();
        for record in left
            .iter()
            .filter(|record| !parents.contains(record.id.as_str()))
        {
            // `--all`: without it BuildKit keeps a RUN's record whose snapshot the
            // committed layer shares (most of them on the containerd store).
            docker::ok(&[
                "buildx",
                "prune",
                "--force",
                "--all",
                "--filter",
                &format!("id={}", record.id),
            ])?;
        }
        let still = to_forget()?.len();
        if still == left.len() {
            let named: Vec<&str> = left
                .iter()
                .map(|record| record.description.as_str())
                .collect();
            return Err(Error::Harness(format!(
                "BuildKit keeps {still} cache records of the build: {}",
                named.join("; ")
            )));
        }
        forgotten += left.len() - still;
    }
    Err(Error::Harness(
        "the build's cache records did not all go in 16 passes".into(),
    ))
}

/// The shell commands of a Dockerfile's `RUN`s as BuildKit runs them, without their
/// `--mount=…` flags.
pub fn run_commands(dockerfile: &str) -> Vec<String> {
    instructions(dockerfile)
        .iter()
        .filter_map(|instruction| run_command(instruction))
        .collect()
}

/// A Dockerfile's instructions as BuildKit names them: continuation lines joined (the
/// backslash and the line break dropped, as the parser does), comment lines left out.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut instruction = String::new();
    for line in dockerfile.lines() {
        let comment = line.trim_start().starts_with('#');
        if comment || (instruction.is_empty() && line.trim().is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => instruction.push_str(part),
            None => {
                instruction.push_str(line);
                instructions.push(instruction.trim().to_string());
                instruction.clear();
            }
        }
    }
    instructions
}

/// The ids of the cache mounts a Dockerfile's `RUN`s use: `id=…`, or by default the
/// `target` path.
pub fn cache_mount_ids(dockerfile: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for word in dockerfile.split_whitespace() {
        let Some(options) = word.strip_prefix("--mount=") else {
            continue;
        };
        let option = |key: &str| {
            options
                .split(',')
                .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
                .map(String::from)
        };
        if option("type").as_deref() != Some("cache") {
            continue;
        }
        if let Some(id) = option("id").or_else(|| option("target"))
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// A `RUN` instruction's shell command, without its flags.
fn run_command(instruction: &str) -> Option<String> {
    let mut rest = instruction.strip_prefix("RUN ")?.trim_start();
    while rest.starts_with("--") {
        rest = rest
            .split_once(' ')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    (!rest.is_empty()).then(|| rest.to_string())
}

struct Record {
    id: String,
    description: String,
    parents: Vec<String>,
}

fn records() -> Result<Vec<Record>> {
    let listed = docker::ok(&["buildx", "du", "--format", "json"])?;
    listed
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line)
                .harness_with(|| format!("docker buildx du printed {line:?}"))?;
            let text = |key: &str| record[key].as_str().unwrap_or_default().to_string();
            Ok(Record {
                id: text("ID"),
                description: text("Description"),
                parents: record["Parents"]
                    .as_array()
                    .map(|parents| {
                        parents
                            .iter()
                            .filter_map(|parent| parent.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The flags that export a build's cache, every stage's layers (`mode=max`), to `dir`,
/// as a CI job saves it for the next run.
pub fn export_to(dir: &Path) -> String {
    format!(
        "--cache-to type=local,dest={},mode=max",
        shell_word(&dir.display().to_string())
    )
}

/// The flags that give a build the cache a previous run exported to `dir`.
pub fn import_from(dir: &Path) -> String {
    format!(
        "--cache-from type=local,src={}",
        shell_word(&dir.display().to_string())
    )
}

/// The bytes of the files under `dir`: what a CI cache stores and restores.
pub fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => bytes_under(&entry.path()),
                    Ok(_) => entry.metadata().map(|meta| meta.len()).unwrap_or_default(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or_default()
}
