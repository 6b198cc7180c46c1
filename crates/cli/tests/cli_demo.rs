//! `fisco-p2p demo`, the README's main command, run as a process: every step succeeds.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

#[test]
fn the_demo_runs_every_step_and_exits_zero() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fisco-p2p"))
        .args(["demo", "--nodes", "5", "--seconds", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the demo can be waited for") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut stdout)
        .expect("stdout is UTF-8");
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut stderr)
        .expect("stderr is UTF-8");
    assert!(status.success(), "demo failed:\n{stdout}\n{stderr}");
    for step in [
        "certificates",
        "connections",
        "unicast",
        "state sync",
        "send to topic",
        "multicast",
        "broadcast",
        "restart",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(step) && l.contains(" ok ")),
            "step {step} not reported ok:\n{stdout}"
        );
    }
    assert!(stdout.contains("all 8 steps succeeded"), "{stdout}");
    // The certificates went to a temporary directory that is removed afterwards.
    let dir = stdout
        .split_whitespace()
        .find(|w| w.contains("fisco-p2p-demo-"))
        .expect("the certificate directory is named");
    assert!(!std::path::Path::new(dir).exists(), "{dir} was left behind");
}
