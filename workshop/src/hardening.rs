//! How production should run the final image, and what that did: the hardening flags
//! the book shows, read into `Hardening` (what a test container is given and Docker
//! records), and what the kernel applied to the service process (`KernelStatus`).

use crate::error::{Error, Must, Result};

/// How production should run the final image: read-only root file system, no
/// capabilities, no privilege escalation, few processes, little memory. The book
/// shows these flags; `hardened` applies the same ones to a test container.
pub const HARDENED_FLAGS: &[&str] = &[
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    "64",
    "--memory",
    "64m",
];

/// HARDENED_FLAGS, read: what `hardened` applies to a test container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hardening {
    pub read_only: bool,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub pids_limit: Option<i64>,
    pub memory_bytes: Option<i64>,
}

impl Hardening {
    /// Reads `docker run` flags; an error names a flag it cannot apply.
    pub fn of(flags: &[&str]) -> Result<Hardening> {
        let mut hardening = Hardening::default();
        let mut flags = flags.iter();
        while let Some(&flag) = flags.next() {
            let mut value = || {
                flags
                    .next()
                    .copied()
                    .ok_or_else(|| Error::Harness(format!("{flag} needs a value")))
            };
            match flag {
                "--read-only" => hardening.read_only = true,
                "--cap-drop" => hardening.cap_drop.push(value()?.to_string()),
                "--security-opt" => hardening.security_opt.push(value()?.to_string()),
                "--pids-limit" => {
                    let count = value()?;
                    hardening.pids_limit = Some(count.parse().map_err(|_| {
                        Error::Harness(format!("--pids-limit {count}: not a number"))
                    })?);
                }
                "--memory" => {
                    let size = value()?;
                    let megabytes: i64 = size
                        .strip_suffix('m')
                        .and_then(|megabytes| megabytes.parse().ok())
                        .ok_or_else(|| {
                            Error::Harness(format!("--memory {size}: write it in megabytes, 64m"))
                        })?;
                    hardening.memory_bytes = Some(megabytes * 1024 * 1024);
                }
                other => {
                    return Err(Error::Harness(format!(
                        "HARDENED_FLAGS: {other} is not applied to test containers: teach `Hardening` it"
                    )));
                }
            }
        }
        Ok(hardening)
    }
}

impl Hardening {
    /// HARDENED_FLAGS, read (tests/layout.rs proves `Hardening` reads every one of them).
    pub fn production() -> Hardening {
        Hardening::of(HARDENED_FLAGS).must()
    }

    /// What Docker recorded for a container (`docker inspect`'s HostConfig), in the same
    /// terms: it must equal what the flags asked for.
    pub fn recorded(host_config: &testcontainers::bollard::models::HostConfig) -> Hardening {
        Hardening {
            read_only: host_config.readonly_rootfs.unwrap_or(false),
            cap_drop: host_config.cap_drop.clone().unwrap_or_default(),
            security_opt: host_config.security_opt.clone().unwrap_or_default(),
            pids_limit: host_config.pids_limit.filter(|&pids| pids > 0),
            memory_bytes: host_config.memory.filter(|&bytes| bytes > 0),
        }
    }
}

/// The lines of a process's `/proc/PID/status` that say what it may do, and as whom.
#[derive(Debug, PartialEq)]
pub struct KernelStatus {
    pub threads: u64,
    /// 1: no execve can gain privileges (setuid bits and file capabilities are ignored).
    pub no_new_privs: u8,
    /// The capability sets, hexadecimal masks (all zeros is none): in effect, permitted,
    /// the bounding set (what any execve may ever get back: all zeros only after
    /// `--cap-drop ALL`, whatever the uid) and the ambient set.
    pub cap_eff: String,
    pub cap_prm: String,
    pub cap_bnd: String,
    pub cap_amb: String,
    /// 0 off, 1 strict, 2 a seccomp filter (Docker's default profile).
    pub seccomp: u8,
    /// The real uid and gid, as the container sees them (not the host's ids, which
    /// differ under user-namespace remapping), and the supplementary groups.
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl KernelStatus {
    pub fn parse(status: &str) -> Result<KernelStatus> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
                .ok_or_else(|| Error::Harness(format!("/proc/1/status has no {name}:\n{status}")))
        };
        let numbers = |name: &str| -> Result<Vec<u64>> {
            let value = field(name)?;
            value
                .split_whitespace()
                .map(|number| {
                    number
                        .parse()
                        .map_err(|_| Error::Harness(format!("/proc/1/status: {name} is {value:?}")))
                })
                .collect()
        };
        let number = |name: &str| -> Result<u64> {
            numbers(name)?
                .first()
                .copied()
                .ok_or_else(|| Error::Harness(format!("/proc/1/status: {name} is empty")))
        };
        let mask = |name: &str| field(name).map(str::to_string);
        Ok(KernelStatus {
            threads: number("Threads")?,
            no_new_privs: number("NoNewPrivs")? as u8,
            cap_eff: mask("CapEff")?,
            cap_prm: mask("CapPrm")?,
            cap_bnd: mask("CapBnd")?,
            cap_amb: mask("CapAmb")?,
            seccomp: number("Seccomp")? as u8,
            uid: number("Uid")? as u32,
            gid: number("Gid")? as u32,
            groups: numbers("Groups")?.into_iter().map(|id| id as u32).collect(),
        })
    }

    /// No capability in any set: none in effect, none permitted, none that any program
    /// it starts could get back.
    pub fn no_capabilities(&self) -> bool {
        [&self.cap_eff, &self.cap_prm, &self.cap_bnd, &self.cap_amb]
            .iter()
            .all(|mask| mask.chars().all(|digit| digit == '0'))
    }
}
