//! Checks that read the image's config: USER, ENTRYPOINT, CMD, HEALTHCHECK, labels,
//! EXPOSE, VOLUME, ENV.

use testcontainers::bollard::models::ImageConfig;

use super::Passed;
use super::source::{SOURCE_LABEL, checkout_remote, source_verdict};
use crate::error::{Error, Harness, Result, found, io};
use crate::image::{Image, shell_form};
use crate::repo_root;

/// A shell-form CMD or ENTRYPOINT runs `/bin/sh -c`: in an image without a shell the
/// container cannot start, with an error about /bin/sh that puzzles everyone once.
pub fn runs_without_a_missing_shell(image: &Image) -> Result<()> {
    let config = image.config();
    for (name, command) in [("ENTRYPOINT", config.entrypoint), ("CMD", config.cmd)] {
        let command = command.unwrap_or_default();
        let Some((shell, _)) = shell_form(&command) else {
            continue;
        };
        if image.files()?.exists(shell) {
            continue;
        }
        // Docker turns a shell-form line into the same `/bin/sh -c` array as a
        // wrapper written by hand: the Dockerfile says which one the learner wrote.
        let what = match image.wrote_as_json(name) {
            Some(true) => format!(
                "{name} {command:?} runs the service through {shell}, but the image has no {shell}"
            ),
            Some(false) => format!(
                "{name} is in shell form: Docker runs it as {command:?}, but the image has no {shell}"
            ),
            None => format!("{name} is {command:?}, but the image has no {shell}"),
        };
        return found(
            what,
            format!(
                "run the binary itself, without a shell: {name} [\"/ping\"] (exec form, a JSON array)"
            ),
        );
    }
    Ok(())
}

/// Step 08: `USER` is numeric `uid:gid`, neither of them root's: a uid alone runs the
/// process in group 0, root's group, which still owns files root's group may write.
pub fn runs_as_numeric_non_root_user(image: &Image) -> Result<()> {
    let user = image.config().user.unwrap_or_default();
    let numeric: Option<Vec<u32>> = user.split(':').map(|part| part.parse().ok()).collect();
    match numeric {
        _ if user.is_empty() => found(
            "the image sets no USER, so the service runs as root (uid 0)",
            "which user should the process run as, and how does Docker know without /etc/passwd?",
        ),
        None => found(
            format!(
                "USER {user:?} is not numeric: scratch has no /etc/passwd to resolve it, and a runtime cannot prove a name is not root"
            ),
            "give the user as uid:gid numbers",
        ),
        Some(ids) if ids.contains(&0) => found(
            format!("USER {user:?} is root"),
            "pick an unprivileged uid and gid",
        ),
        Some(ids) if ids.len() < 2 => found(
            format!("USER {user:?} names no group, so the process runs with gid 0 (root's group)"),
            "give the user as uid:gid numbers, both unprivileged",
        ),
        Some(_) => Ok(()),
    }
}

/// Step 08: ENTRYPOINT and HEALTHCHECK in exec form, the health check run by the binary.
pub fn exec_form_entrypoint_and_healthcheck(image: &Image) -> Result<()> {
    let config = image.config();
    let entrypoint = config.entrypoint.unwrap_or_default();
    if entrypoint.is_empty() {
        return found(
            "the image has no ENTRYPOINT",
            "write ENTRYPOINT [\"/binary\"]: no shell is needed, and the binary gets the signals",
        );
    }
    if let Some(shell) = through_a_shell(&entrypoint) {
        return found(
            format!("ENTRYPOINT {entrypoint:?} runs the service through a shell ({shell})"),
            "write ENTRYPOINT [\"/binary\"]: the shell would be PID 1 and get the signals, not \
             the binary",
        );
    }
    if let Some(wrapper) = through_a_wrapper(&entrypoint) {
        return found(
            format!("ENTRYPOINT {entrypoint:?} starts {wrapper}, which then starts the service"),
            "write ENTRYPOINT [\"/binary\"]: the binary itself is PID 1 then, and `docker \
             stop`'s SIGTERM reaches it, not a program in between",
        );
    }
    if let Some(interpreter) = a_script(image, &entrypoint[0])? {
        return found(
            format!(
                "ENTRYPOINT runs {}, a script: its interpreter ({interpreter}) is PID 1, \
                 not the service",
                entrypoint[0]
            ),
            "write ENTRYPOINT [\"/binary\"], the service binary itself: PID 1 gets \
             `docker stop`'s SIGTERM",
        );
    }
    let test = config
        .healthcheck
        .and_then(|health| health.test)
        .unwrap_or_default();
    match test.first().map(String::as_str) {
        Some("CMD") if test.get(1) == entrypoint.first() => Ok(()),
        Some("CMD-SHELL") => found(
            format!("HEALTHCHECK {test:?} needs a shell"),
            "use the exec form: HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
        ),
        None => found(
            "the image has no HEALTHCHECK",
            "scratch has no curl: let the binary check itself, in exec form",
        ),
        _ => found(
            format!("HEALTHCHECK is {test:?}"),
            "let the binary check itself: HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
        ),
    }
}

/// Programs that start another program given as their arguments (`env sh -c …`,
/// `nohup /ping`): PID 1 is theirs until they exec, and some never do.
const WRAPPERS: &[&str] = &[
    "env",
    "nice",
    "nohup",
    "setsid",
    "stdbuf",
    "timeout",
    "chrt",
    "taskset",
    "ionice",
    "tini",
    "dumb-init",
    "catatonit",
    "gosu",
    "su-exec",
    "runuser",
    "setpriv",
    "chroot",
    "unshare",
    "s6-svscan",
    "supervisord",
];

/// A command's program's name, without its folder.
fn name_of(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// The shell a command runs through, by any path or name (`/bin/sh`, `bash`, `busybox
/// sh`), any program given a script with `-c`, or a shell behind a wrapper (`env sh -c`).
fn through_a_shell(command: &[String]) -> Option<String> {
    const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"];
    let program = command.first()?;
    let scripted = command.get(1).is_some_and(|arg| arg == "-c");
    if SHELLS.contains(&name_of(program)) || scripted {
        return Some(program.clone());
    }
    // Behind wrappers: the first word that is not a wrapper, an option or NAME=value.
    command
        .iter()
        .find(|word| {
            !(WRAPPERS.contains(&name_of(word)) || word.starts_with('-') || word.contains('='))
        })
        .filter(|word| SHELLS.contains(&name_of(word)))
        .cloned()
}

/// The wrapper a command starts its program through, if any (`env`, `tini`, …).
fn through_a_wrapper(command: &[String]) -> Option<String> {
    let program = command.first()?;
    WRAPPERS
        .contains(&name_of(program))
        .then(|| program.clone())
}

/// The interpreter `path` names in its first line when it is a script (`#!/bin/sh`) in
/// the image, not a binary.
fn a_script(image: &Image, path: &str) -> Result<Option<String>> {
    let Some(bytes) = image.binary_bytes(path)? else {
        return Ok(None);
    };
    let Some(line) = bytes.strip_prefix(b"#!") else {
        return Ok(None);
    };
    let line = line.split(|byte| *byte == b'\n').next().unwrap_or_default();
    Ok(Some(String::from_utf8_lossy(line).trim().to_string()))
}

/// Step 08: the OCI labels a registry shows: title, description, and the licenses the
/// service's Cargo.toml states. A source label, if the image names one, must be the
/// checkout's public remote (src/checks/source.rs): a local image makes no claim.
pub fn has_oci_labels(image: &Image) -> Result<Passed> {
    let labels = image.config().labels.unwrap_or_default();
    let missing: Vec<&str> = ["title", "description", "licenses"]
        .into_iter()
        .filter(|key| {
            labels
                .get(&format!("org.opencontainers.image.{key}"))
                .is_none_or(|value| value.is_empty())
        })
        .collect();
    if !missing.is_empty() {
        return found(
            format!(
                "missing labels org.opencontainers.image.{{{}}}",
                missing.join(",")
            ),
            "add them with LABEL in the final stage",
        );
    }
    let licenses = &labels["org.opencontainers.image.licenses"];
    let stated = cargo_license()?;
    if *licenses != stated {
        return found(
            format!(
                "the image's licenses label says {licenses:?}, but Cargo.toml's license is {stated:?}"
            ),
            "the label tells registries and scanners the license: copy it from Cargo.toml's \
             `license`, the one place it is decided",
        );
    }
    let source = source_verdict(
        labels.get(SOURCE_LABEL).map(String::as_str),
        checkout_remote(repo_root()).as_deref(),
        false,
    )?;
    Ok(Some(format!("licenses {licenses}; {source}")))
}

/// The service's license, as its Cargo.toml states it (`license = "…"`).
fn cargo_license() -> Result<String> {
    let path = repo_root().join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|error| io("read", &path, error))?;
    let manifest: toml::Value = toml::from_str(&text).harness("Cargo.toml is not TOML")?;
    manifest["package"]["license"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Harness("Cargo.toml states no license".into()))
}

/// The environment variables the service reads (src/main.rs), and PATH, which BuildKit
/// sets in every image.
const READ_FROM_THE_ENVIRONMENT: &[&str] = &["PATH", "PORT", "PING_WORKERS"];

/// Step 08: the config declares what the service is and nothing else. EXPOSE names the
/// port it listens on (PORT if the image sets it, else 8080): `docker run -P` and every
/// reader go by it. No VOLUME: the service writes nothing, and each `docker run` would
/// create an anonymous volume, writable under `--read-only`. No ENV the binary does not
/// read: anyone who pulls the image reads its environment, and a leftover is where
/// tokens leak.
pub fn declares_only_what_it_serves(config: &ImageConfig) -> Result<()> {
    let env = config.env.clone().unwrap_or_default();
    let unread: Vec<&str> = env
        .iter()
        .map(|variable| {
            variable
                .split_once('=')
                .map_or(variable.as_str(), |(name, _)| name)
        })
        .filter(|name| !READ_FROM_THE_ENVIRONMENT.contains(name))
        .collect();
    if !unread.is_empty() {
        return found(
            format!(
                "the image's environment sets {}, which the service never reads",
                unread.join(", ")
            ),
            "anyone who pulls the image can read its ENV: keep leftovers and secrets out, and \
             pass settings with `docker run -e`",
        );
    }
    let port = env
        .iter()
        .find_map(|variable| variable.strip_prefix("PORT="))
        .unwrap_or("8080");
    let listens_on = format!("{}/tcp", port.trim());
    let exposed = config.exposed_ports.clone().unwrap_or_default();
    if exposed != [listens_on.as_str()] {
        return found(
            if exposed.is_empty() {
                format!("the image EXPOSEs no port; the service listens on {listens_on}")
            } else {
                format!(
                    "the image EXPOSEs {}; the service listens on {listens_on} alone",
                    exposed.join(", ")
                )
            },
            "EXPOSE the port the service listens on: `docker run -P` publishes what EXPOSE names",
        );
    }
    let volumes = config.volumes.clone().unwrap_or_default();
    if !volumes.is_empty() {
        return found(
            format!(
                "the image declares VOLUME {}: every `docker run` creates an anonymous, \
                 writable volume there",
                volumes.join(", ")
            ),
            "the service writes nothing and runs `--read-only`: it needs no VOLUME",
        );
    }
    Ok(())
}
