//! The installer's `config.yaml` and `ip-detect`.

use std::net::IpAddr;

use sha_crypt::{PasswordHasher, ShaCrypt};
use yaml_serde::{Mapping, Value};

use crate::params::ExtraConfig;

/// sha512-crypt of `password`, as glibc `crypt()` writes it. The salt is 12 random
/// bytes, i.e. 16 characters: glibc reads at most 16, so a longer one would not verify.
pub fn superuser_password_hash(password: &str) -> String {
    let salt = rand::random::<[u8; 12]>();
    ShaCrypt::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("sha512-crypt accepts any 12-byte salt with default rounds")
        .to_string()
}

/// The addresses of each role in the `config.yaml` of the genconf at `genconf_dir`
/// (masters, agents, public agents), when an install has served its node installer
/// from there: whom DC/OS was installed for.
pub(crate) fn installed_addresses(genconf_dir: &std::path::Path) -> Option<[Vec<IpAddr>; 3]> {
    if !genconf_dir.join("serve/dcos_install.sh").is_file() {
        return None;
    }
    let text = std::fs::read_to_string(genconf_dir.join("config.yaml")).ok()?;
    let config: Value = yaml_serde::from_str(&text).ok()?;
    let list = |key: &str| -> Vec<IpAddr> {
        config
            .get(key)
            .and_then(Value::as_sequence)
            .map(|s| {
                s.iter()
                    .filter_map(|v| v.as_str()?.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    Some([
        list("master_list"),
        list("agent_list"),
        list("public_agent_list"),
    ])
}

/// The `config.yaml` the installer is given: the base config for these nodes (SPEC:
/// "The installer contract") with `extra` merged over it, as YAML text.
pub fn install_config(
    masters: &[IpAddr],
    agents: &[IpAddr],
    public_agents: &[IpAddr],
    ssh_user: &str,
    extra: Option<&ExtraConfig>,
) -> String {
    let text = |ips: &[IpAddr]| ips.iter().map(IpAddr::to_string).collect::<Vec<_>>();
    let config = merged(
        base_config(
            &text(masters),
            &text(agents),
            &text(public_agents),
            ssh_user,
        ),
        extra,
    );
    yaml_serde::to_string(&config).unwrap_or_default()
}

/// The base config for a cluster (SPEC: "The installer contract").
pub(crate) fn base_config(
    masters: &[String],
    agents: &[String],
    public_agents: &[String],
    ssh_user: &str,
) -> Value {
    let list =
        |ips: &[String]| Value::Sequence(ips.iter().map(|ip| Value::from(ip.as_str())).collect());
    let mut m = Mapping::new();
    let mut set = |k: &str, v: Value| {
        m.insert(Value::from(k), v);
    };
    set("agent_list", list(agents));
    set("public_agent_list", list(public_agents));
    set("bootstrap_url", Value::from("file:///opt/dcos_install_tmp"));
    set("cluster_name", Value::from("DCOS"));
    set("exhibitor_storage_backend", Value::from("static"));
    set("master_discovery", Value::from("static"));
    set("master_list", list(masters));
    set("process_timeout", Value::from(10000));
    set("resolvers", Value::Sequence(vec![Value::from("8.8.8.8")]));
    set("ssh_port", Value::from(22));
    set("ssh_user", Value::from(ssh_user));
    set("superuser_username", Value::from("admin"));
    set(
        "superuser_password_hash",
        Value::from(superuser_password_hash("admin")),
    );
    set("platform", Value::from("docker"));
    set("check_time", Value::from(false));
    Value::Mapping(m)
}

/// `extra` merged over `base`, top-level keys of `extra` winning.
pub(crate) fn merged(base: Value, extra: Option<&ExtraConfig>) -> Value {
    match (base, extra) {
        (Value::Mapping(mut base), Some(extra)) => {
            for (k, v) in extra.mapping() {
                base.insert(k.clone(), v.clone());
            }
            Value::Mapping(base)
        }
        (base, _) => base,
    }
}

/// An `ip-detect` that prints the address a node uses to reach the first master: the
/// node's address on the cluster network, whatever the interface is called.
pub(crate) fn ip_detect(first_master: &str) -> String {
    format!(
        "#!/usr/bin/env bash\n\
         # Written by dcos-e2e: the address this node uses on the cluster network.\n\
         set -o nounset -o errexit\n\
         ip -4 -o route get {first_master} | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_config_wins_and_adds() {
        let base = base_config(&["10.0.0.1".into()], &[], &[], "root");
        let extra = ExtraConfig::from_yaml("cluster_name: mine\nnew_key: [1, 2]").unwrap();
        let m = merged(base, Some(&extra));
        assert_eq!(m["cluster_name"], Value::from("mine"));
        assert_eq!(
            m["new_key"],
            Value::Sequence(vec![Value::from(1), Value::from(2)])
        );
        assert_eq!(m["master_list"][0], Value::from("10.0.0.1"));
        assert_eq!(
            m["bootstrap_url"],
            Value::from("file:///opt/dcos_install_tmp")
        );
    }

    #[test]
    fn password_hash_is_sha512_crypt_that_libc_verifies() {
        let hash = superuser_password_hash("admin");
        assert!(hash.starts_with("$6$"), "{hash}");
        let parts: Vec<&str> = hash.split('$').collect();
        let salt = parts[parts.len() - 2];
        assert_eq!(salt.len(), 16, "{hash}");
        // The system's crypt(3) must accept it: a real installer and login use it.
        #[link(name = "crypt")]
        unsafe extern "C" {
            fn crypt(key: *const libc::c_char, salt: *const libc::c_char) -> *mut libc::c_char;
        }
        let key = std::ffi::CString::new("admin").unwrap();
        let setting = std::ffi::CString::new(hash.clone()).unwrap();
        // SAFETY: both are valid NUL-terminated strings; crypt returns a pointer to a
        // static buffer (or NULL), read at once on this thread.
        let again = unsafe {
            let out = crypt(key.as_ptr(), setting.as_ptr());
            assert!(!out.is_null(), "crypt refused {hash}");
            std::ffi::CStr::from_ptr(out).to_string_lossy().into_owned()
        };
        assert_eq!(again, hash);
        let wrong = std::ffi::CString::new("other").unwrap();
        // SAFETY: as above.
        let other = unsafe {
            std::ffi::CStr::from_ptr(crypt(wrong.as_ptr(), setting.as_ptr()))
                .to_string_lossy()
                .into_owned()
        };
        assert_ne!(other, hash, "another password gives another hash");
    }
}
