//! The Kubernetes manifest the book deploys (`deploy/kubernetes.yaml`): read with the
//! image filled in, held to the Pod Security Standard "restricted", validated against
//! Kubernetes' own schemas (kubernetes-validate), and turned into the `docker run`
//! flags that run the image as the cluster would.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::Harness;
use crate::error::{Error, Result, harness};
use crate::hardening::Hardening;
use crate::{docker, repo_root};

/// The manifest, relative to the repository.
pub const MANIFEST: &str = "deploy/kubernetes.yaml";
/// What the manifest leaves for the one who applies it: the image, by digest.
pub const IMAGE_PLACEHOLDER: &str = "${IMAGE}";
/// The Kubernetes version the schemas are checked for.
pub const KUBERNETES_VERSION: &str = "1.34";

/// The manifest's documents, the image filled in.
pub struct Manifest {
    pub text: String,
    pub documents: Vec<Value>,
}

impl Manifest {
    /// deploy/kubernetes.yaml with `image` in place of `${IMAGE}`, as `envsubst` makes it.
    pub fn read(image: &str) -> Result<Manifest> {
        let path = repo_root().join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| crate::error::io("read", &path, error))?;
        Manifest::parse(&text.replace(IMAGE_PLACEHOLDER, image))
    }

    /// A manifest from its YAML text (a test's variant, say).
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut documents = Vec::new();
        for document in serde_norway::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .harness_with(|| format!("{MANIFEST}: not YAML"))?;
            if !value.is_null() {
                documents.push(value);
            }
        }
        Ok(Manifest {
            text: text.to_string(),
            documents,
        })
    }

    /// The pod template of the manifest's Deployment.
    pub fn pod(&self) -> Result<&Value> {
        self.documents
            .iter()
            .find(|document| document["kind"] == "Deployment")
            .map(|deployment| &deployment["spec"]["template"]["spec"])
            .ok_or_else(|| Error::Harness(format!("{MANIFEST} has no Deployment")))
    }

    /// The pod's one container (the service).
    pub fn container(&self) -> Result<&Value> {
        let pod = self.pod()?;
        match pod["containers"].as_array().map(Vec::as_slice) {
            Some([one]) => Ok(one),
            _ => harness(format!("{MANIFEST}: the pod must run one container")),
        }
    }

    /// What the Pod Security Standard "restricted" forbids and the manifest does, one
    /// line each: empty when the pod would be admitted to a namespace that enforces it.
    /// The controls as kubernetes.io/docs/concepts/security/pod-security-standards
    /// lists them (baseline's, then restricted's own).
    pub fn restricted_violations(&self) -> Result<Vec<String>> {
        let pod = self.pod()?;
        let mut violations = Vec::new();
        let mut forbid = |broken: bool, what: String| {
            if broken {
                violations.push(what);
            }
        };
        let pod_context = &pod["securityContext"];
        for field in ["hostNetwork", "hostPID", "hostIPC"] {
            forbid(
                pod[field] == true,
                format!("host namespaces: {field} is true"),
            );
        }
        forbid(
            pod_context["windowsOptions"]["hostProcess"] == true,
            "HostProcess: the pod asks for a Windows host process".into(),
        );
        for volume in pod["volumes"].as_array().into_iter().flatten() {
            const ALLOWED: &[&str] = &[
                "configMap",
                "csi",
                "downwardAPI",
                "emptyDir",
                "ephemeral",
                "persistentVolumeClaim",
                "projected",
                "secret",
            ];
            let kinds: Vec<&String> = volume
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, _)| key)
                .filter(|key| *key != "name")
                .collect();
            for kind in kinds {
                forbid(
                    !ALLOWED.contains(&kind.as_str()),
                    format!("volume types: {kind} ({})", volume["name"]),
                );
            }
        }
        for sysctl in pod_context["sysctls"].as_array().into_iter().flatten() {
            const SAFE: &[&str] = &[
                "kernel.shm_rmid_forced",
                "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range",
                "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time",
                "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes",
            ];
            let name = sysctl["name"].as_str().unwrap_or_default();
            forbid(
                !SAFE.contains(&name),
                format!("sysctls: {name} is not a safe one"),
            );
        }
        let containers: Vec<&Value> = ["initContainers", "containers", "ephemeralContainers"]
            .iter()
            .flat_map(|list| pod[*list].as_array().into_iter().flatten())
            .collect();
        for violation in unconfined("the pod", pod_context) {
            forbid(true, violation);
        }
        let annotations = self
            .documents
            .iter()
            .find(|document| document["kind"] == "Deployment")
            .map(|deployment| &deployment["spec"]["template"]["metadata"]["annotations"]);
        for (key, value) in annotations.and_then(Value::as_object).into_iter().flatten() {
            let profile = value.as_str().unwrap_or_default();
            forbid(
                key.starts_with("container.apparmor.security.beta.kubernetes.io/")
                    && profile != "runtime/default"
                    && !profile.starts_with("localhost/"),
                format!("AppArmor: {key} is {profile}"),
            );
        }
        let pod_non_root = pod_context["runAsNonRoot"] == true;
        let pod_seccomp = seccomp_confined(&pod_context["seccompProfile"]);
        forbid(
            pod_context["runAsUser"] == 0,
            "running as non-root user: the pod's runAsUser is 0".into(),
        );
        forbid(
            pod_context["seccompProfile"]["type"] == "Unconfined",
            "seccomp: the pod's profile is Unconfined".into(),
        );
        for container in containers {
            let name = container["name"].as_str().unwrap_or("?");
            let context = &container["securityContext"];
            forbid(
                context["privileged"] == true,
                format!("privileged containers: {name}"),
            );
            for violation in unconfined(name, context) {
                forbid(true, violation);
            }
            forbid(
                context["windowsOptions"]["hostProcess"] == true,
                format!("HostProcess: {name}"),
            );
            forbid(
                context["procMount"]
                    .as_str()
                    .is_some_and(|mount| mount != "Default"),
                format!("/proc mount type: {name}"),
            );
            for port in container["ports"].as_array().into_iter().flatten() {
                forbid(
                    port["hostPort"].as_u64().is_some_and(|port| port != 0),
                    format!("host ports: {name} asks for hostPort {}", port["hostPort"]),
                );
            }
            forbid(
                context["allowPrivilegeEscalation"] != false,
                format!(
                    "privilege escalation: {name} does not set allowPrivilegeEscalation: false"
                ),
            );
            let non_root = match context["runAsNonRoot"].as_bool() {
                Some(own) => own,
                None => pod_non_root,
            };
            forbid(
                !non_root,
                format!("running as non-root: neither {name} nor the pod sets runAsNonRoot: true"),
            );
            forbid(
                context["runAsUser"] == 0,
                format!("running as non-root user: {name}'s runAsUser is 0"),
            );
            let confined = match context["seccompProfile"]["type"].as_str() {
                Some(_) => seccomp_confined(&context["seccompProfile"]),
                None => pod_seccomp,
            };
            forbid(
                !confined,
                format!("seccomp: neither {name} nor the pod sets RuntimeDefault or Localhost"),
            );
            let capabilities = &context["capabilities"];
            let drops_all = capabilities["drop"]
                .as_array()
                .is_some_and(|drop| drop.iter().any(|capability| capability == "ALL"));
            forbid(
                !drops_all,
                format!("capabilities: {name} does not drop ALL"),
            );
            for added in capabilities["add"].as_array().into_iter().flatten() {
                forbid(
                    added != "NET_BIND_SERVICE",
                    format!("capabilities: {name} adds {added}"),
                );
            }
        }
        Ok(violations)
    }

    /// What `kubectl apply` would run, as `docker run` flags: the user and group, a
    /// read-only root, every capability dropped, no new privileges, the memory limit.
    /// (Docker's default seccomp profile is the runtime default the manifest asks for.)
    pub fn docker_flags(&self) -> Result<Vec<String>> {
        let pod = self.pod()?;
        let container = self.container()?;
        let context = &container["securityContext"];
        let pick = |field: &str| -> Option<i64> {
            context[field]
                .as_i64()
                .or_else(|| pod["securityContext"][field].as_i64())
        };
        let (Some(user), Some(group)) = (pick("runAsUser"), pick("runAsGroup")) else {
            return harness(format!(
                "{MANIFEST}: name runAsUser and runAsGroup, the image's USER as numbers"
            ));
        };
        let mut flags = vec!["--user".to_string(), format!("{user}:{group}")];
        if context["readOnlyRootFilesystem"] == true {
            flags.push("--read-only".into());
        }
        for capability in context["capabilities"]["drop"]
            .as_array()
            .into_iter()
            .flatten()
        {
            flags.push("--cap-drop".into());
            flags.push(capability.as_str().unwrap_or_default().to_string());
        }
        if context["allowPrivilegeEscalation"] == false {
            flags.push("--security-opt".into());
            flags.push("no-new-privileges".into());
        }
        if let Some(memory) = container["resources"]["limits"]["memory"].as_str() {
            let mebibytes = memory.strip_suffix("Mi").ok_or_else(|| {
                Error::Harness(format!(
                    "{MANIFEST}: write the memory limit in Mi, not {memory}"
                ))
            })?;
            flags.push("--memory".into());
            flags.push(format!("{mebibytes}m"));
        }
        Ok(flags)
    }

    /// The flags as the harness applies them, and the `--user` they name.
    pub fn hardening(&self) -> Result<(Hardening, String)> {
        let flags = self.docker_flags()?;
        let user = flags
            .iter()
            .position(|flag| flag == "--user")
            .and_then(|at| flags.get(at + 1))
            .cloned()
            .unwrap_or_default();
        let rest: Vec<&str> = flags
            .iter()
            .enumerate()
            .filter(|(at, flag)| *flag != "--user" && (*at == 0 || flags[at - 1] != "--user"))
            .map(|(_, flag)| flag.as_str())
            .collect();
        Ok((Hardening::of(&rest)?, user))
    }

    /// The path and port name of the container's `httpGet` probe `kind`
    /// (`readinessProbe`, `livenessProbe`).
    pub fn probe_path(&self, kind: &str) -> Result<String> {
        let container = self.container()?;
        container[kind]["httpGet"]["path"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Harness(format!("{MANIFEST}: no httpGet {kind}")))
    }

    /// How long the container's preStop hook sleeps before SIGTERM (0 without one).
    pub fn pre_stop_seconds(&self) -> Result<u64> {
        Ok(
            self.container()?["lifecycle"]["preStop"]["sleep"]["seconds"]
                .as_u64()
                .unwrap_or(0),
        )
    }

    /// terminationGracePeriodSeconds of the pod (Kubernetes' default: 30).
    pub fn grace_seconds(&self) -> Result<u64> {
        Ok(self.pod()?["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap_or(30))
    }
}

/// Baseline's AppArmor and SELinux controls for one security context (`who`'s): an
/// AppArmor profile, if any, the runtime's or a local one; an SELinux type, if any, one
/// of the container types, and no user or role.
fn unconfined(who: &str, context: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    let apparmor = context["appArmorProfile"]["type"].as_str();
    if apparmor.is_some_and(|kind| kind != "RuntimeDefault" && kind != "Localhost") {
        violations.push(format!("AppArmor: {who} asks for {apparmor:?}"));
    }
    let selinux = &context["seLinuxOptions"];
    const TYPES: &[&str] = &[
        "",
        "container_t",
        "container_init_t",
        "container_kvm_t",
        "container_engine_t",
    ];
    if selinux["type"]
        .as_str()
        .is_some_and(|kind| !TYPES.contains(&kind))
        // user and role: unset, or empty (Kubernetes' own rule allows "").
        || !(selinux["user"].is_null() || selinux["user"] == "")
        || !(selinux["role"].is_null() || selinux["role"] == "")
    {
        violations.push(format!("SELinux: {who} asks for {selinux}"));
    }
    violations
}

/// A seccomp profile that confines: RuntimeDefault or Localhost.
fn seccomp_confined(profile: &Value) -> bool {
    matches!(
        profile["type"].as_str(),
        Some("RuntimeDefault" | "Localhost")
    )
}

/// Validates `manifest` with kubernetes-validate (Kubernetes' OpenAPI schemas, strict:
/// an unknown field is an error): what it printed, or why it refused.
pub fn validate_schemas(manifest: &Manifest) -> Result<std::result::Result<String, String>> {
    let Some(tool) = docker::which("kubernetes-validate") else {
        return harness(
            "kubernetes-validate is not installed: `pipx install kubernetes-validate` (or pip, \
             in a virtual environment); it validates manifests offline against Kubernetes' \
             own schemas",
        );
    };
    let folder = crate::files::PrivateDir::new("kubernetes")?;
    let file: PathBuf = folder.path().join("kubernetes.yaml");
    std::fs::write(&file, &manifest.text)
        .map_err(|error| crate::error::io("write", &file, error))?;
    let mut command = std::process::Command::new(tool);
    command
        .args(["--strict", "--kubernetes-version", KUBERNETES_VERSION])
        .arg(&file);
    Ok(docker::run_within(
        command,
        std::time::Duration::from_secs(60),
    ))
}
