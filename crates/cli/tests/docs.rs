//! The documentation runs as written: every `sh` block of `README.md` and `docs/*.md` is run by
//! bash, page by page, with the built `fisco-p2p` first on the `PATH`, in a scratch directory
//! and in a network namespace of its own (so the documented ports 30300 and 31300 are free and
//! nothing reaches another test's nodes). Every `toml` block must read as a `node.toml`.
//!
//! A block that cannot run here (it installs software, needs systemd or a container engine, or
//! runs cargo itself) is preceded by `<!-- docs-test: skip: REASON -->`; the reason is required.
//! A page whose examples work on files it does not make names them in
//! `<!-- docs-test: setup: COMMAND -->`, which runs first.
//!
//! Network namespaces need `unshare -n` (root, or unprivileged user namespaces); without it the
//! shell blocks are skipped, saying so, and the TOML blocks are still read.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

/// Longest a page's commands may take.
const PAGE_LIMIT: Duration = Duration::from_secs(120);

/// A fenced block of a page.
#[derive(Debug)]
struct Block {
    language: String,
    text: String,
    /// The reason given in a `docs-test: skip` comment just before it.
    skip: Option<String>,
    line: usize,
}

/// A page: its blocks and its setup command.
#[derive(Debug)]
struct Page {
    path: PathBuf,
    blocks: Vec<Block>,
    setup: Option<String>,
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// README.md and every docs/*.md.
fn pages() -> Vec<Page> {
    let mut paths = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths.into_iter().map(|path| parse(&path)).collect()
}

/// The fenced blocks of a markdown file, with the `docs-test` comments before them.
fn parse(path: &Path) -> Page {
    let text = std::fs::read_to_string(path).expect("page readable");
    let mut page = Page {
        path: path.to_owned(),
        blocks: Vec::new(),
        setup: None,
    };
    let mut pending_skip = None;
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(comment) = trimmed
            .strip_prefix("<!-- docs-test:")
            .and_then(|rest| rest.strip_suffix("-->"))
        {
            let comment = comment.trim();
            if let Some(reason) = comment.strip_prefix("skip:") {
                assert!(
                    !reason.trim().is_empty(),
                    "{}:{}: a skip needs its reason",
                    path.display(),
                    number + 1
                );
                pending_skip = Some(reason.trim().to_owned());
            } else if let Some(command) = comment.strip_prefix("setup:") {
                page.setup = Some(command.trim().to_owned());
            } else {
                panic!(
                    "{}:{}: unknown docs-test comment",
                    path.display(),
                    number + 1
                );
            }
            continue;
        }
        if let Some(language) = trimmed.strip_prefix("```") {
            let mut body = String::new();
            for (_, inner) in lines.by_ref() {
                if inner.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            page.blocks.push(Block {
                language: language.trim().to_owned(),
                text: body,
                skip: pending_skip.take(),
                line: number + 1,
            });
        } else if !trimmed.is_empty() {
            // A skip comment applies to the block right after it only.
            pending_skip = None;
        }
    }
    page
}

/// Whether `unshare -n` gives this test a network namespace with loopback up.
fn namespaces_available() -> bool {
    std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A directory holding `fisco-p2p` (a link to the binary under test), for the `PATH`.
fn bin_dir(scratch: &Path) -> PathBuf {
    let dir = scratch.join("bin");
    std::fs::create_dir_all(&dir).expect("bin/");
    #[cfg(unix)]
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fisco-p2p"), dir.join("fisco-p2p"))
        .expect("link to the binary");
    dir
}

/// The script of a page: its setup and its runnable `sh` blocks, in order; every process it
/// leaves in the background is stopped at the end.
fn script(page: &Page) -> Option<String> {
    let blocks: Vec<&Block> = page
        .blocks
        .iter()
        .filter(|b| b.language == "sh" && b.skip.is_none())
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let mut script = String::from(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait || true' EXIT\n",
    );
    if let Some(setup) = &page.setup {
        script.push_str(setup);
        script.push('\n');
    }
    for block in blocks {
        script.push_str(&format!(
            "echo '--- {}:{}' >&2\n",
            page.path.display(),
            block.line
        ));
        script.push_str(&block.text);
    }
    Some(script)
}

#[tokio::test]
async fn every_shell_block_of_the_readme_and_docs_runs_as_written() {
    if !namespaces_available() {
        eprintln!("skipped: no network namespace (unshare -n); the documented ports could clash");
        return;
    }
    let mut ran = 0;
    for page in pages() {
        let Some(script) = script(&page) else {
            continue;
        };
        let scratch = tempfile::tempdir().expect("scratch directory");
        let path = format!(
            "{}:{}",
            bin_dir(scratch.path()).display(),
            std::env::var("PATH").unwrap_or_default()
        );
        std::fs::write(scratch.path().join("page.sh"), &script).expect("script written");
        let child = tokio::process::Command::new("unshare")
            .args(["-n", "bash", "-c", "ip link set lo up && exec bash page.sh"])
            .current_dir(scratch.path())
            .env("PATH", path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("bash starts");
        let output = tokio::time::timeout(PAGE_LIMIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{}: commands did not finish in time", page.path.display()))
            .expect("output");
        assert!(
            output.status.success(),
            "{} failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            page.path.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 3, "only {ran} pages had commands to run");
}

#[test]
fn every_toml_block_reads_as_a_node_toml() {
    let mut read = 0;
    for page in pages() {
        for block in page.blocks.iter().filter(|b| b.language == "toml") {
            let dir = tempfile::tempdir().expect("scratch directory");
            let file = dir.path().join("node.toml");
            std::fs::write(&file, &block.text).expect("written");
            if let Err(error) = fisco_p2p::config::load(&file) {
                panic!("{}:{}: {error}", page.path.display(), block.line);
            }
            read += 1;
        }
    }
    assert!(read >= 2, "only {read} TOML blocks");
}

#[test]
fn every_skipped_block_says_why_and_runnable_blocks_exist_on_each_command_page() {
    for page in pages() {
        for block in &page.blocks {
            if let Some(reason) = &block.skip {
                assert!(
                    reason.len() > 10,
                    "{}:{}: {reason}",
                    page.path.display(),
                    block.line
                );
            }
        }
    }
    let readme = parse(&root().join("README.md"));
    assert!(script(&readme).is_some_and(|s| s.contains("fisco-p2p run")));
}

#[test]
fn the_documented_ranges_and_topic_rule_match_the_code() {
    let config = std::fs::read_to_string(root().join("docs/config.md")).expect("config.md");
    for (key, range) in fisco_p2p::config::INTERVAL_RANGES {
        let row = format!(
            "| `intervals.{key}` | {} | {} |",
            humantime::format_duration(range.min),
            humantime::format_duration(range.max)
        );
        assert!(config.contains(&row), "docs/config.md lacks {row}");
    }
    for row in [
        format!(
            "| `limits.max_connections` | 1 | {} |",
            fisco_p2p::config::MAX_CONNECTIONS
        ),
        format!(
            "| `limits.max_pending_incoming` | 1 | {} |",
            fisco_p2p::config::MAX_PENDING_INCOMING
        ),
        format!(
            "| `limits.max_message_size` | {} | {} |",
            fisco_p2p::config::MIN_MESSAGE_SIZE,
            fisco_p2p::config::MAX_MESSAGE_SIZE
        ),
    ] {
        assert!(config.contains(&row), "docs/config.md lacks {row}");
    }
    let max = fisco_p2p::node::MAX_TOPIC_LEN;
    assert!(config.contains(&format!("A topic is 1 to {max} bytes")));
    let api = std::fs::read_to_string(root().join("docs/admin-api.md")).expect("admin-api.md");
    assert!(api.contains(&format!("too long (over {max} bytes)")));
    for kind in fisco_p2p_admin::EVENT_TYPES {
        assert!(
            api.contains(&format!("`{kind}`")),
            "docs/admin-api.md lacks {kind}"
        );
    }
}
