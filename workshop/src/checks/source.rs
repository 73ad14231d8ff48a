//! Where an image says it comes from (`org.opencontainers.image.source`), against the
//! checkout it was built from. buildx writes the label from git at publish time
//! (`BUILDX_GIT_LABELS=1`): the current branch's remote, else `origin`, else any remote,
//! its credentials stripped, and nothing without a remote. A label is a claim anyone who
//! pulls the image reads: it must be a place they can reach, and the checkout's own.

use std::path::Path;
use std::process::Command;

use crate::error::{Result, found};

/// The label that names where an image's source lives (an OCI annotation key).
pub const SOURCE_LABEL: &str = "org.opencontainers.image.source";

/// The URL of the remote buildx takes the source from, as git has it (credentials
/// included); None without a remote, or outside a git checkout.
pub fn checkout_remote(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        (output.status.success() && !text.is_empty()).then_some(text)
    };
    let branch = git(&["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let remotes = git(&["remote"]).unwrap_or_default();
    let remotes: Vec<&str> = remotes.lines().collect();
    let chosen = branch
        .and_then(|branch| git(&["config", &format!("branch.{branch}.remote")]))
        .filter(|remote| remotes.contains(&remote.as_str()))
        .or_else(|| remotes.contains(&"origin").then(|| "origin".to_string()))
        .or_else(|| remotes.first().map(|remote| remote.to_string()))?;
    git(&["remote", "get-url", &chosen])
}

/// `url` without a user name or password (`https://user:token@host/…` → `https://host/…`),
/// as buildx writes it; an scp-like `git@host:path` is left as it is.
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

/// Why `url` is no place a reader of the label can follow, if it is not one.
pub fn not_public(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return Some("it is empty".into());
    }
    if url.starts_with(['/', '.', '~']) || url.starts_with("file:") {
        return Some("it is a path on one machine".into());
    }
    let (user, host) = match url.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            match authority.rsplit_once('@') {
                Some((user, host)) => (Some(user), host),
                None => (None, authority),
            }
        }
        // scp-like: git@github.com:owner/repo.git
        None => match url.split_once(':') {
            Some((authority, _)) => match authority.rsplit_once('@') {
                Some((user, host)) => (Some(user).filter(|user| *user != "git"), host),
                None => (None, authority),
            },
            None => return Some("it is not a URL".into()),
        },
    };
    if user.is_some() {
        return Some("it carries a user name or a password".into());
    }
    let host = host
        .trim_start_matches('[')
        .rsplit_once("]:")
        .map_or(host, |(ip, _)| ip)
        .trim_end_matches(']');
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
        .to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    if host.parse::<std::net::IpAddr>().is_ok() || host.contains(':') {
        return Some(format!(
            "{host} is an IP address, not a name others resolve"
        ));
    }
    if host == "localhost" || labels.last() == Some(&"localhost") || labels.len() < 2 {
        return Some(format!("{host} is a host of this machine or network alone"));
    }
    let reserved_top = [
        "test", "invalid", "example", "local", "internal", "lan", "home",
    ];
    let documentation = labels.len() >= 2 && labels[labels.len() - 2] == "example";
    if reserved_top.contains(labels.last().unwrap_or(&"")) || documentation {
        return Some(format!(
            "{host} is reserved for documentation, tests or local networks (RFC 2606, 6761)"
        ));
    }
    None
}

/// Whether an image's source `label` (None: none) is right for a checkout whose remote
/// is `remote` (None: none). `pushed`: the image was published with buildx's git
/// labels, so a public remote must be named. What it says, or what is wrong.
pub fn source_verdict(label: Option<&str>, remote: Option<&str>, pushed: bool) -> Result<String> {
    let remote = remote.map(without_credentials);
    let public = remote
        .as_deref()
        .filter(|remote| not_public(remote).is_none());
    let hint = "leave the source label to buildx: publish with BUILDX_GIT_LABELS=1 from a \
                checkout whose remote is public (`git remote set-url origin https://…`), or \
                with no remote (`git remote remove origin`) for no claim at all";
    match (
        label.filter(|label| !label.trim().is_empty()),
        remote.as_deref(),
    ) {
        (Some(label), _) if not_public(label).is_some() => found(
            format!(
                "the image says its source is {label:?}: {}",
                not_public(label).unwrap_or_default()
            ),
            hint,
        ),
        (Some(label), None) => found(
            format!(
                "the image says its source is {label:?}, but this checkout has no remote: \
                 nothing backs the claim"
            ),
            hint,
        ),
        (Some(label), Some(remote)) if label != remote => found(
            format!(
                "the image says its source is {label:?}, but the checkout's remote is {remote:?}"
            ),
            hint,
        ),
        (Some(label), Some(_)) => Ok(format!("its source is {label}, the checkout's remote")),
        (None, Some(remote)) if pushed && public.is_some() => found(
            format!(
                "the pushed image names no source, but the checkout's remote {remote:?} is public"
            ),
            "publish with BUILDX_GIT_LABELS=1: buildx labels the image with the remote",
        ),
        (None, Some(remote)) if public.is_none() => Ok(format!(
            "no source named: the checkout's remote {remote:?} is not public ({})",
            not_public(remote).unwrap_or_default()
        )),
        (None, Some(_)) => Ok("no source named (a local image makes no claim)".into()),
        (None, None) => Ok(
            "no source named: the checkout has no remote (`git remote add origin <your \
             public URL>` has the next publish name it)"
                .into(),
        ),
    }
}
