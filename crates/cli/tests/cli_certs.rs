//! The `fisco-p2p certs` and `fisco-p2p id` commands, run as a user would run them.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn fisco_p2p(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fisco-p2p"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let out = fisco_p2p(args, cwd);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; returns its stderr, checked to be one `error:` line.
fn fails(args: &[&str], cwd: &Path) -> String {
    let out = fisco_p2p(args, cwd);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

/// Makes ca/, agency/, node0/ (via the agency) and direct/ (signed by the CA) in `dir`.
fn make_chain(dir: &Path) {
    ok(&["certs", "ca", "--out", "ca"], dir);
    ok(&["certs", "agency", "--ca", "ca", "--out", "agency"], dir);
    ok(
        &[
            "certs", "node", "--ca", "ca", "--agency", "agency", "--out", "node0",
        ],
        dir,
    );
    ok(
        &[
            "certs", "node", "--ca", "ca", "--out", "direct", "--name", "direct",
        ],
        dir,
    );
}

fn pem_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

#[test]
fn certs_makes_fiscos_layout_and_id_prints_the_nodeid_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_chain(dir);
    for file in [
        "ca/ca.crt",
        "ca/ca.key",
        "agency/agency.crt",
        "agency/agency.key",
        "agency/ca.crt",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    assert_eq!(pem_count(&dir.join("node0/node.crt")), 3);
    assert_eq!(pem_count(&dir.join("direct/node.crt")), 2);
    for node in ["node0", "direct"] {
        let nodeid = std::fs::read_to_string(dir.join(node).join("node.nodeid")).unwrap();
        assert_eq!(nodeid.len(), 129, "128 hex and a newline");
        for target in ["", "/node.key", "/node.crt"] {
            let path = format!("{node}{target}");
            assert_eq!(ok(&["id", &path], dir), nodeid, "id {path}");
        }
        assert!(std::fs::read_to_string(dir.join(node).join("node.key"))
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            std::fs::read(dir.join(node).join("ca.crt")).unwrap(),
            std::fs::read(dir.join("ca/ca.crt")).unwrap()
        );
    }
}

#[test]
fn key_files_are_not_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_chain(dir);
    for (args, key) in [
        (vec!["certs", "ca", "--out", "ca"], "ca/ca.key"),
        (
            vec!["certs", "agency", "--ca", "ca", "--out", "agency"],
            "agency/agency.key",
        ),
        (
            vec!["certs", "node", "--ca", "ca", "--out", "node0"],
            "node0/node.key",
        ),
    ] {
        let before = std::fs::read(dir.join(key)).unwrap();
        let stderr = fails(&args, dir);
        assert!(
            stderr.contains(key) && stderr.contains("--force"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(dir.join(key)).unwrap(), before, "{key} kept");
        let forced: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
        ok(&forced, dir);
        assert_ne!(
            std::fs::read(dir.join(key)).unwrap(),
            before,
            "{key} replaced"
        );
    }
}

#[cfg(unix)]
#[test]
fn key_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    make_chain(tmp.path());
    for key in [
        "ca/ca.key",
        "agency/agency.key",
        "node0/node.key",
        "direct/node.key",
    ] {
        let mode = std::fs::metadata(tmp.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
}

#[test]
fn errors_are_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let stderr = fails(&["certs", "node", "--ca", "missing", "--out", "n"], dir);
    assert!(stderr.contains("missing: no such CA directory"), "{stderr}");
    assert!(stderr.contains("fisco-p2p certs ca"), "{stderr}");
    std::fs::create_dir(dir.join("empty")).unwrap();
    let stderr = fails(&["certs", "agency", "--ca", "empty", "--out", "a"], dir);
    assert!(stderr.contains("empty/ca.crt: no such file"), "{stderr}");
    std::fs::write(dir.join("garbage"), "hello").unwrap();
    let stderr = fails(&["id", "garbage"], dir);
    assert!(
        stderr.contains("garbage") && stderr.contains("no PRIVATE KEY"),
        "{stderr}"
    );
    let stderr = fails(&["certs", "ca", "--out", "ca", "--name", "a,b"], dir);
    assert!(stderr.contains("bad name"), "{stderr}");
}

#[test]
fn every_subcommand_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["certs", "--help"],
        vec!["certs", "ca", "--help"],
        vec!["certs", "agency", "--help"],
        vec!["certs", "node", "--help"],
        vec!["id", "--help"],
    ] {
        let out = ok(&args, tmp.path());
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

/// OpenSSL is the reference FISCO users check certificates with; skipped if it is not installed.
#[test]
#[allow(clippy::print_stdout)]
fn openssl_verifies_the_generated_chains_and_derives_the_same_node_id() {
    if Command::new("openssl").arg("version").output().is_err() {
        println!("note: openssl is not on PATH; skipping the openssl cross-check");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_chain(dir);
    for node in ["node0", "direct"] {
        let crt = format!("{node}/node.crt");
        let ca = format!("{node}/ca.crt");
        let out = Command::new("openssl")
            .args(["verify", "-CAfile", &ca, "-untrusted", &crt, &crt])
            .current_dir(dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(": OK"),
            "{node}: {stdout}"
        );
        // FISCO's recipe for node.nodeid, through a shell as FISCO runs it.
        let recipe = format!(
            "openssl ec -text -noout -in {node}/node.key 2>/dev/null | sed -n '7,11p' \
             | tr -d ': \\n' | awk '{{print substr($0,3);}}'"
        );
        let out = Command::new("sh")
            .args(["-c", &recipe])
            .current_dir(dir)
            .output()
            .unwrap();
        let nodeid = std::fs::read_to_string(dir.join(node).join("node.nodeid")).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nodeid, "{node}");
    }
}

#[test]
fn certs_network_writes_loadable_node_files_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let out_arg = out.to_str().unwrap();
    let args = [
        "certs",
        "network",
        "--nodes",
        "3",
        "--out",
        out_arg,
        "--base-port",
        "40300",
    ];
    let run = fisco_p2p(&args, dir.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        stdout.contains("127.0.0.1:40302") && stdout.contains("127.0.0.1:41302"),
        "{stdout}"
    );
    for i in 0..3 {
        let file = fisco_p2p::config::load(out.join(format!("node{i}/node.toml"))).unwrap();
        assert_eq!(file.peers().len(), 2);
        let id = fisco_p2p::identity::NodeIdentity::load_dir(file.dir().unwrap())
            .unwrap()
            .node_id();
        assert!(stdout.contains(&id.to_string()), "node{i}'s ID is printed");
    }

    let again = fisco_p2p(&args, dir.path());
    assert!(!again.status.success());
    let stderr = String::from_utf8(again.stderr).unwrap();
    assert!(
        stderr.starts_with("error: ") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let help = fisco_p2p(&["certs", "network", "--help"], dir.path());
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in ["--nodes", "--out", "--base-port", "--listen-ip", "--force"] {
        assert!(help.contains(flag), "{help}");
    }
}
