//! What a run has under way that must not outlive it: its builds (each a process group),
//! its containers (labelled with the run's process id), its private folders. A run
//! stopped by Ctrl-C or SIGTERM removes them (`interrupted`, from the tool's signal
//! handler); a run that died without that chance leaves them to the next one
//! (`leftovers`). Drop still removes each one in the ordinary course.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::docker::{self, RUN_LABEL, run_id};

static BUILDS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The name of a private folder for `what`, made by this run: `ping-workshop-<what>-<pid>-
/// <random>` (the random part unguessable: its keys come from the operating system).
pub fn private_dir_name(what: &str, attempt: u32) -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one((std::process::id(), attempt));
    format!("ping-workshop-{what}-{}-{random:016x}", run_id())
}

/// The process id in a private folder's name, if it is one (`private_dir_name`).
fn run_of_private_dir(name: &str) -> Option<String> {
    let rest = name.strip_prefix("ping-workshop-")?;
    let (rest, random) = rest.rsplit_once('-')?;
    let (_, pid) = rest.rsplit_once('-')?;
    (random.len() == 16
        && random.chars().all(|c| c.is_ascii_hexdigit())
        && !pid.is_empty()
        && pid.chars().all(|c| c.is_ascii_digit()))
    .then(|| pid.to_string())
}

/// A build started in its own process group `group`.
pub fn build_started(group: u32) {
    if let (Ok(mut builds), Ok(group)) = (BUILDS.lock(), i32::try_from(group)) {
        builds.push(group);
    }
}

/// The build of process group `group` ended.
pub fn build_ended(group: u32) {
    if let Ok(mut builds) = BUILDS.lock() {
        builds.retain(|running| i64::from(*running) != i64::from(group));
    }
}

/// A private folder made; removed on interruption if it is still there.
pub fn folder_made(path: &Path) {
    if let Ok(mut folders) = FOLDERS.lock() {
        folders.push(path.to_path_buf());
    }
}

/// A private folder removed.
pub fn folder_removed(path: &Path) {
    if let Ok(mut folders) = FOLDERS.lock() {
        folders.retain(|folder| folder != path);
    }
}

/// Stops everything this run has under way: each build's process group gets SIGINT (the
/// docker client cancels the build, as on Ctrl-C) and SIGKILL if it is still there after
/// five seconds; its containers are removed, paused ones too (a registry dies with the
/// run by itself); its folders are removed. What was removed, one line each.
pub fn interrupted() -> Vec<String> {
    use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
    let mut done = Vec::new();
    let builds: Vec<i32> = BUILDS
        .lock()
        .map(|builds| builds.clone())
        .unwrap_or_default();
    let groups: Vec<Pid> = builds.iter().filter_map(|id| Pid::from_raw(*id)).collect();
    for group in &groups {
        let _ = kill_process_group(*group, Signal::INT);
    }
    let asked = Instant::now();
    while asked.elapsed() < Duration::from_secs(5)
        && groups
            .iter()
            .any(|group| test_kill_process_group(*group).is_ok())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for group in &groups {
        if kill_process_group(*group, Signal::KILL).is_ok() {
            done.push(format!(
                "killed the build of process group {}",
                group.as_raw_nonzero()
            ));
        } else {
            done.push(format!(
                "stopped the build of process group {}",
                group.as_raw_nonzero()
            ));
        }
    }
    done.extend(remove_containers_of(&run_id()));
    let folders: Vec<PathBuf> = FOLDERS
        .lock()
        .map(|folders| folders.clone())
        .unwrap_or_default();
    for folder in folders {
        // Another thread may still be writing into it (a rebuild's copy of the context):
        // tried again for a second, until nothing is left.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&folder).is_ok() || !folder.exists() {
                done.push(format!("removed {}", folder.display()));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    done
}

/// Removes what runs that died left behind: containers labelled with a process id that
/// no longer runs, and this user's private folders named after one. What was removed.
pub fn leftovers() -> Vec<String> {
    let mut done = Vec::new();
    let listed = docker::run(&[
        "ps",
        "--all",
        "--filter",
        &format!("label={RUN_LABEL}"),
        "--format",
        &format!("{{{{.Label \"{RUN_LABEL}\"}}}}"),
    ]);
    let mut runs: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    runs.sort();
    runs.dedup();
    for run in runs.iter().filter(|run| !alive(run)) {
        done.extend(remove_containers_of(run));
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return done;
    };
    let mine = rustix::process::getuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = run_of_private_dir(&name) else {
            continue;
        };
        let owned = std::os::unix::fs::MetadataExt::uid(&match entry.metadata() {
            Ok(metadata) => metadata,
            Err(_) => continue,
        }) == mine;
        if owned && !alive(&pid) && std::fs::remove_dir_all(entry.path()).is_ok() {
            done.push(format!(
                "removed {}, left by run {pid}",
                entry.path().display()
            ));
        }
    }
    done
}

/// Whether the process `pid` still runs.
fn alive(pid: &str) -> bool {
    let Some(pid) = pid.parse().ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    // EPERM: it runs, as someone else.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// Removes every container labelled as run `run`'s.
fn remove_containers_of(run: &str) -> Vec<String> {
    let listed = docker::run(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label={RUN_LABEL}={run}"),
    ]);
    String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .filter(|id| {
            docker::run(&["rm", "--force", "--volumes", id])
                .status
                .success()
        })
        .map(|id| format!("removed container {id} of run {run}"))
        .collect()
}
