//! The root of trust: the data dir's `root-of-trust` header, mode `file` (with its warning
//! when the key file lies in the data dir), the migration of a data dir without header,
//! and mode `passphrase` (every passphrase source, change-passphrase, wrong passphrase).
#![allow(clippy::unwrap_used)]

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ScalarAttributeType};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A `serve` whose stderr the test reads; killed on drop.
struct Serve {
    child: Child,
    endpoint: String,
    stderr: Arc<Stderr>,
}

/// What the server wrote to stderr so far, and whether the pipe has closed.
#[derive(Default)]
struct Stderr {
    state: Mutex<(String, bool)>,
    grew: Condvar,
}

impl Stderr {
    /// Waits until `done` holds for the text read so far or stderr closes (30 s at most).
    fn wait(&self, done: impl Fn(&str) -> bool) -> String {
        let state = self.state.lock().unwrap();
        let (state, _) = self
            .grew
            .wait_timeout_while(state, Duration::from_secs(30), |(text, eof)| {
                !*eof && !done(text)
            })
            .unwrap();
        state.0.clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn client(&self) -> aws_sdk_dynamodb::Client {
        common::client_with(&self.endpoint, common::ACCESS_KEY, common::SECRET_KEY)
    }

    /// Whether stderr shows `text`, read until it does or stderr closes.
    fn stderr_shows(&self, text: &str) -> bool {
        self.stderr.wait(|s| s.contains(text)).contains(text)
    }

    /// Kills the server and returns all it wrote to stderr (read to the end, so that an
    /// absent warning is known to be absent).
    fn stderr_to_end(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.wait(|_| false)
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Serve {
    serve_env(dir, extra, &[])
}

fn serve_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .env("SEALDB_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("SEALDB_SECRET_ACCESS_KEY", common::SECRET_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let stderr = Arc::new(Stderr::default());
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            let mut s = sink.state.lock().unwrap();
            s.0.push_str(&line);
            s.0.push('\n');
            sink.grew.notify_all();
        }
        sink.state.lock().unwrap().1 = true;
        sink.grew.notify_all();
    });
    let Some(endpoint) = common::wait_for_endpoint(child.stdout.take().unwrap()) else {
        panic!("server did not start: {}", stderr.wait(|_| false));
    };
    Serve {
        child,
        endpoint,
        stderr,
    }
}

async fn put_and_get(c: &aws_sdk_dynamodb::Client, table: &str, create: bool) -> String {
    if create {
        c.create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(common::attr_def("pk", ScalarAttributeType::S))
            .key_schema(common::key_elem("pk", KeyType::Hash))
            .send()
            .await
            .unwrap();
        c.put_item()
            .table_name(table)
            .item("pk", AttributeValue::S("a".into()))
            .item("v", AttributeValue::S("kept".into()))
            .send()
            .await
            .unwrap();
    }
    let out = c
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("a".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().unwrap()["v"].as_s().unwrap().clone()
}

const WARNING: &str = "lies inside the data dir";

#[tokio::test]
async fn file_mode_header_warning_and_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let header = dir.join("root-of-trust");
    // First start: a `file` header, and the key inside the data dir is warned about.
    let s = serve(&dir, &[]);
    assert_eq!(
        std::fs::read_to_string(&header).unwrap(),
        "sealdb-root-of-trust 1\nmode file\n"
    );
    assert!(s.stderr_shows(WARNING));
    assert_eq!(put_and_get(&s.client(), "tbl", true).await, "kept");
    drop(s);
    // Every start warns, not only the first.
    let s = serve(&dir, &[]);
    assert!(s.stderr_shows(WARNING));
    drop(s);
    // A data dir made before headers existed is `file` mode: the header is written.
    std::fs::remove_file(&header).unwrap();
    let s = serve(&dir, &[]);
    assert_eq!(
        std::fs::read_to_string(&header).unwrap(),
        "sealdb-root-of-trust 1\nmode file\n"
    );
    assert_eq!(put_and_get(&s.client(), "tbl", false).await, "kept");
    drop(s);
    // The key moved out of the data dir: no warning.
    let outside = tmp.path().join("root.key");
    std::fs::rename(dir.join("root.key"), &outside).unwrap();
    let s = serve(&dir, &["--root-key-file", outside.to_str().unwrap()]);
    assert_eq!(put_and_get(&s.client(), "tbl", false).await, "kept");
    assert!(!s.stderr_to_end().contains(WARNING));
    // A header of an unknown version refuses to start and is left as it is.
    std::fs::write(&header, "sealdb-root-of-trust 9\nmode file\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(["--root-key-file", outside.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a root-of-trust header of a version"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&header).unwrap(),
        "sealdb-root-of-trust 9\nmode file\n"
    );
}

/// `sealdb <args> --data-dir dir` with `env`, run to its end.
fn run(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Every file of the data dir but the lock, with its bytes.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().unwrap() != "sealdb.lock" {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

fn secret_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The root key, opened from the header as docs/formats.md describes it (an
/// implementation of its own, so the documented format is checked too).
fn root_key_from_header(dir: &Path, passphrase: &str) -> Vec<u8> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let text = std::fs::read_to_string(dir.join("root-of-trust")).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .unwrap()
            .to_owned()
    };
    assert_eq!(field("argon2id"), "m=65536 t=3 p=1");
    let salt = hex::decode(field("salt")).unwrap();
    let wrapped = hex::decode(field("wrapped-root-key")).unwrap();
    let aad = &text[..text.find("wrapped-root-key ").unwrap()];
    let params = argon2::Params::new(65536, 3, 1, Some(32)).unwrap();
    let mut kek = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &salt, &mut kek)
        .unwrap();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &kek).unwrap());
    let (nonce, body) = wrapped.split_at(12);
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).unwrap(),
            Aad::from(aad.as_bytes()),
            &mut body,
        )
        .unwrap();
    plain.to_vec()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn passphrase_mode_sources_change_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (old_pass, new_pass) = (
        "first passphrase, long enough",
        "second passphrase, longer still",
    );
    let old_file = tmp.path().join("old-pass");
    let new_file = tmp.path().join("new-pass");
    secret_file(&old_file, &format!("{old_pass}\n"));
    secret_file(&new_file, new_pass);
    let old_file_arg = old_file.to_str().unwrap();

    // A passphrase file others can read is refused before anything is created.
    let loose = tmp.path().join("loose-pass");
    std::fs::write(&loose, old_pass).unwrap();
    std::fs::set_permissions(&loose, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = run(
        &[
            "serve",
            "--root-of-trust",
            "passphrase",
            "--passphrase-file",
            loose.to_str().unwrap(),
        ],
        &dir,
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must not be accessible by group or others")
    );
    assert!(!dir.join("root-of-trust").exists());

    // First start: the passphrase from a file; no key file, no warning.
    let s = serve(
        &dir,
        &[
            "--root-of-trust",
            "passphrase",
            "--passphrase-file",
            old_file_arg,
        ],
    );
    assert_eq!(put_and_get(&s.client(), "tbl", true).await, "kept");
    assert!(!s.stderr_to_end().contains(WARNING));
    let header = std::fs::read_to_string(dir.join("root-of-trust")).unwrap();
    assert!(
        header.starts_with(
            "sealdb-root-of-trust 1\nmode passphrase\nargon2id m=65536 t=3 p=1\nsalt "
        ),
        "{header}"
    );
    assert!(!dir.join("root.key").exists());

    // Restart with the passphrase in SEALDB_PASSPHRASE (the mode comes from the header).
    let s = serve_env(&dir, &[], &[("SEALDB_PASSPHRASE", old_pass)]);
    assert_eq!(put_and_get(&s.client(), "tbl", false).await, "kept");
    drop(s);

    // A wrong passphrase refuses to start, with a clear message, and changes nothing.
    let before = snapshot(&dir);
    let out = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &dir,
        &[("SEALDB_PASSPHRASE", "wrong")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the passphrase does not open the root key"),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
    // So does a change of mode asked at start.
    let out = run(
        &["serve", "--root-of-trust", "file"],
        &dir,
        &[("SEALDB_PASSPHRASE", old_pass)],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is 'passphrase', not 'file'"));
    assert_eq!(snapshot(&dir), before);

    // change-passphrase: the old one from a systemd credential, the new one from a file.
    let creds = tmp.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    secret_file(&creds.join("sealdb-passphrase"), old_pass);
    let out = run(
        &[
            "change-passphrase",
            "--new-passphrase-file",
            new_file.to_str().unwrap(),
        ],
        &dir,
        &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only the header changed.
    let after = snapshot(&dir);
    assert_eq!(after.len(), before.len());
    for ((p, a), (q, b)) in before.iter().zip(&after) {
        assert_eq!(p, q);
        assert_eq!(a == b, !p.ends_with("root-of-trust"), "{}", p.display());
    }
    // The old passphrase no longer opens it; the new one does (from the credential).
    let out = run(
        &["serve", "--listen", "127.0.0.1:0"],
        &dir,
        &[("SEALDB_PASSPHRASE", old_pass)],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not open the root key"));
    secret_file(&creds.join("sealdb-passphrase"), new_pass);
    let s = serve_env(
        &dir,
        &[],
        &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())],
    );
    assert_eq!(put_and_get(&s.client(), "tbl", false).await, "kept");
    drop(s);

    // Neither passphrase nor the root key (raw or hex) is anywhere in the data dir.
    let root = root_key_from_header(&dir, new_pass);
    assert_eq!(root.len(), 32);
    let needles: [Vec<u8>; 4] = [
        root.clone(),
        hex::encode(&root).into_bytes(),
        old_pass.as_bytes().to_vec(),
        new_pass.as_bytes().to_vec(),
    ];
    for (path, bytes) in snapshot(&dir) {
        for n in &needles {
            assert!(
                !contains(&bytes, n),
                "a secret is readable in {}",
                path.display()
            );
        }
    }
}

/// Creates table `t` with an item and a backup of it.
async fn table_and_backup(c: &aws_sdk_dynamodb::Client) {
    assert_eq!(put_and_get(c, "tbl", true).await, "kept");
    c.create_backup()
        .table_name("tbl")
        .backup_name("bkp")
        .send()
        .await
        .unwrap();
}

/// The table reads, and its backup restores to a table that reads.
async fn everything_reads(c: &aws_sdk_dynamodb::Client, restore_as: &str) {
    assert_eq!(put_and_get(c, "tbl", false).await, "kept");
    let backups = c.list_backups().table_name("tbl").send().await.unwrap();
    let arn = backups.backup_summaries()[0]
        .backup_arn()
        .unwrap()
        .to_owned();
    c.restore_table_from_backup()
        .target_table_name(restore_as)
        .backup_arn(arn)
        .send()
        .await
        .unwrap();
    for _ in 0..200 {
        let d = c
            .describe_table()
            .table_name(restore_as)
            .send()
            .await
            .unwrap();
        if d.table().and_then(|t| t.table_status()).map(|s| s.as_str()) == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(put_and_get(c, restore_as, false).await, "kept");
}

/// For each round (a command and its crash points): kill the command at each point, run
/// it again to the end, then serve (with `serve_flags`) and check the table reads and
/// its backup restores.
async fn kill_at_every_step(
    dir: &Path,
    rounds: &[(&[&str], &[&str])],
    env: &[(&str, &str)],
    serve_flags: &[&str],
) {
    let mut restored = 0;
    for (args, steps) in rounds {
        for step in *steps {
            let mut with_crash = env.to_vec();
            with_crash.push(("SEALDB_CRASH_POINT", step));
            let out = run(args, dir, &with_crash);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("crash point {step} reached")),
                "{args:?} {step}: {err}"
            );
            let out = run(args, dir, env);
            assert!(
                out.status.success(),
                "{args:?} rerun after a kill at {step}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let s = serve_env(dir, serve_flags, env);
            restored += 1;
            everything_reads(&s.client(), &format!("restored{restored}")).await;
            drop(s);
        }
    }
}

#[tokio::test]
async fn rotation_and_switches_finish_after_a_kill_at_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let pass = "a passphrase for the switch test";
    let env = [("SEALDB_PASSPHRASE", pass)];
    let s = serve(&dir, &[]);
    table_and_backup(&s.client()).await;
    drop(s);
    let rotate_steps = [
        "rotate-root-key:staged",
        "rotate-root-key:region-rekeyed",
        "rotate-root-key:identities-rekeyed",
    ];
    let rounds: [(&[&str], &[&str]); 4] = [
        (&["rotate-root-key"], &rotate_steps),
        (
            &["set-root-of-trust", "--root-of-trust", "passphrase"],
            &["set-root-of-trust:header-written"],
        ),
        (&["rotate-root-key"], &rotate_steps),
        (
            &["set-root-of-trust", "--root-of-trust", "file"],
            &["set-root-of-trust:key-file-written"],
        ),
    ];
    kill_at_every_step(&dir, &rounds, &env, &[]).await;
    // Back in mode file with no key file left over from the switches.
    assert_eq!(
        std::fs::read_to_string(dir.join("root-of-trust")).unwrap(),
        "sealdb-root-of-trust 1\nmode file\n"
    );
    assert!(!dir.join("root-of-trust.next").exists());
    assert!(!dir.join("root.key.next").exists());
}

/// A SoftHSM2 token of the test's own (its own configuration, passed to every child),
/// the PIN in a 0600 file, and the flags that choose it at first start.
struct Hsm {
    softhsm: sealdb_hsm::testing::SoftHsmDir,
    pin_file: std::path::PathBuf,
    label: String,
}

impl Hsm {
    fn new(tmp: &Path, label: &str) -> Hsm {
        let softhsm = sealdb_hsm::testing::SoftHsmDir::create().unwrap();
        softhsm.init_token(label).unwrap();
        let pin_file = tmp.join(format!("{label}.pin"));
        secret_file(&pin_file, sealdb_hsm::testing::TEST_PIN);
        Hsm {
            softhsm,
            pin_file,
            label: label.to_owned(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let (name, value) = self.softhsm.env();
        vec![(name, value.display().to_string())]
    }

    /// The flags of a first start (or a switch) in mode pkcs11.
    fn first_start_flags(&self) -> Vec<String> {
        vec![
            "--root-of-trust".into(),
            "pkcs11".into(),
            "--pkcs11-module".into(),
            self.softhsm.module().display().to_string(),
            "--pkcs11-token-label".into(),
            self.label.clone(),
            "--pkcs11-pin-file".into(),
            self.pin_file.display().to_string(),
        ]
    }

    fn pin_flags(&self) -> Vec<String> {
        vec![
            "--pkcs11-pin-file".into(),
            self.pin_file.display().to_string(),
        ]
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn env_pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn refused(out: &std::process::Output, words: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a refusal with {words:?}");
    assert!(err.contains(words), "expected {words:?} in: {err}");
}

#[tokio::test]
async fn pkcs11_mode_from_init_to_rotation_and_its_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let hsm = Hsm::new(tmp.path(), "sealdb-root-test");
    let env_owned = hsm.env();
    let env = env_pairs(&env_owned);
    let mut init = vec!["init".to_owned()];
    init.extend(hsm.first_start_flags());
    let out = run(&strs(&init), &dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root of trust 'pkcs11'"));
    let header = std::fs::read_to_string(dir.join("root-of-trust")).unwrap();
    let module = hsm.softhsm.module().display().to_string();
    assert!(header.starts_with(&format!(
        "sealdb-root-of-trust 1\nmode pkcs11\npkcs11-module {module}\npkcs11-token label sealdb-root-test\npkcs11-key sealdb-root-wrapping-key\nwrapped-root-key "
    )), "{header}");
    assert!(!dir.join("root.key").exists(), "no key file in mode pkcs11");
    // A second init changes nothing.
    let out = run(
        &["init", "--pkcs11-pin-file", hsm.pin_file.to_str().unwrap()],
        &dir,
        &env,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing was changed"));
    assert_eq!(
        std::fs::read_to_string(dir.join("root-of-trust")).unwrap(),
        header
    );

    let s = serve_env(&dir, &strs(&hsm.pin_flags()), &env);
    table_and_backup(&s.client()).await;
    drop(s);

    // Each refusal names its cause and leaves every file as it was.
    let before = snapshot(&dir);
    let wrong_pin = tmp.path().join("wrong.pin");
    secret_file(&wrong_pin, "not-the-pin");
    let wrong = ["serve", "--pkcs11-pin-file", wrong_pin.to_str().unwrap()];
    refused(&run(&wrong, &dir, &env), "is incorrect");
    let loose = tmp.path().join("loose.pin");
    std::fs::write(&loose, sealdb_hsm::testing::TEST_PIN).unwrap();
    refused(
        &run(
            &["serve", "--pkcs11-pin-file", loose.to_str().unwrap()],
            &dir,
            &env,
        ),
        "must not be accessible by group or others",
    );
    refused(&run(&["serve"], &dir, &env), "no PKCS#11 PIN");
    let other = sealdb_hsm::testing::SoftHsmDir::create().unwrap();
    let other_env = other.env();
    let no_token_env = [(other_env.0, other_env.1.to_str().unwrap())];
    refused(
        &run(
            &strs(&[vec!["serve".to_owned()], hsm.pin_flags()].concat()),
            &dir,
            &no_token_env,
        ),
        "no PKCS#11 token with label \"sealdb-root-test\"",
    );
    let mut no_module = vec![
        "serve".to_owned(),
        "--pkcs11-module".into(),
        "/nonexistent/libpkcs11.so".into(),
    ];
    no_module.extend(hsm.pin_flags());
    refused(&run(&strs(&no_module), &dir, &env), "cannot be loaded");
    // An edited header (another key label) does not open.
    std::fs::write(
        dir.join("root-of-trust"),
        header.replace(
            "pkcs11-key sealdb-root-wrapping-key",
            "pkcs11-key another-key",
        ),
    )
    .unwrap();
    refused(
        &run(
            &strs(&[vec!["serve".to_owned()], hsm.pin_flags()].concat()),
            &dir,
            &env,
        ),
        "another-key",
    );
    std::fs::write(dir.join("root-of-trust"), &header).unwrap();
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused start changed the data dir"
    );

    // Rotation under the same HSM key, then the data still reads.
    let mut rotate = vec!["rotate-root-key".to_owned()];
    rotate.extend(hsm.pin_flags());
    let out = run(&strs(&rotate), &dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        std::fs::read_to_string(dir.join("root-of-trust")).unwrap(),
        header
    );
    let s = serve_env(&dir, &strs(&hsm.pin_flags()), &env);
    everything_reads(&s.client(), "restored-after-rotation").await;
    drop(s);

    // Out to a key file and back: the key the file held is nowhere in the data dir.
    let mut to_file = vec![
        "set-root-of-trust".to_owned(),
        "--root-of-trust".into(),
        "file".into(),
    ];
    to_file.extend(hsm.pin_flags());
    let out = run(&strs(&to_file), &dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_text = std::fs::read(dir.join("root.key")).unwrap();
    let raw = if key_text.len() == 32 {
        key_text.clone()
    } else {
        hex::decode(String::from_utf8(key_text.clone()).unwrap().trim()).unwrap()
    };
    let mut to_hsm = vec!["set-root-of-trust".to_owned()];
    to_hsm.extend(hsm.first_start_flags());
    let out = run(&strs(&to_hsm), &dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("root.key").exists());
    // To another token of the same module: the root key re-sealed by that token's key.
    hsm.softhsm.init_token("sealdb-root-second").unwrap();
    let mut to_second = vec!["set-root-of-trust".to_owned()];
    to_second.extend(hsm.first_start_flags());
    let at = to_second
        .iter()
        .position(|a| a == "sealdb-root-test")
        .unwrap();
    to_second[at] = "sealdb-root-second".into();
    let out = run(&strs(&to_second), &dir, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let moved = std::fs::read_to_string(dir.join("root-of-trust")).unwrap();
    assert!(
        moved.contains("pkcs11-token label sealdb-root-second\n"),
        "{moved}"
    );
    let s = serve_env(&dir, &strs(&hsm.pin_flags()), &env);
    everything_reads(&s.client(), "restored-after-switches").await;
    drop(s);
    for (path, bytes) in snapshot(&dir) {
        assert!(
            !contains(&bytes, &raw),
            "{} holds the root key",
            path.display()
        );
        assert!(
            !contains(&bytes, hex::encode(&raw).as_bytes()),
            "{} holds the root key in hex",
            path.display()
        );
    }
}

#[tokio::test]
async fn pkcs11_rotation_and_switches_finish_after_a_kill_at_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let hsm = Hsm::new(tmp.path(), "sealdb-kill-test");
    let pass = "a passphrase for the pkcs11 switch test";
    let mut env_owned = hsm.env();
    env_owned.push(("SEALDB_PASSPHRASE", pass.to_owned()));
    let env = env_pairs(&env_owned);
    let s = serve_env(&dir, &[], &env);
    table_and_backup(&s.client()).await;
    drop(s);
    let with = |args: &[&str], extra: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        v.extend(extra);
        v
    };
    let rotate_steps = [
        "rotate-root-key:staged",
        "rotate-root-key:region-rekeyed",
        "rotate-root-key:identities-rekeyed",
    ];
    let rounds: Vec<(Vec<String>, &[&str])> = vec![
        (
            with(&["set-root-of-trust"], hsm.first_start_flags()),
            &["set-root-of-trust:header-written"],
        ),
        (with(&["rotate-root-key"], hsm.pin_flags()), &rotate_steps),
        (
            with(
                &["set-root-of-trust", "--root-of-trust", "passphrase"],
                hsm.pin_flags(),
            ),
            &["set-root-of-trust:header-written"],
        ),
        (
            with(&["set-root-of-trust"], hsm.first_start_flags()),
            &["set-root-of-trust:header-written"],
        ),
        (
            with(
                &["set-root-of-trust", "--root-of-trust", "file"],
                hsm.pin_flags(),
            ),
            &["set-root-of-trust:key-file-written"],
        ),
    ];
    let pin_flags = hsm.pin_flags();
    let owned: Vec<(Vec<&str>, &[&str])> = rounds
        .iter()
        .map(|(args, steps)| (strs(args), *steps))
        .collect();
    let rounds: Vec<(&[&str], &[&str])> = owned
        .iter()
        .map(|(args, steps)| (args.as_slice(), *steps))
        .collect();
    kill_at_every_step(&dir, &rounds, &env, &strs(&pin_flags)).await;
    assert_eq!(
        std::fs::read_to_string(dir.join("root-of-trust")).unwrap(),
        "sealdb-root-of-trust 1\nmode file\n"
    );
    assert!(!dir.join("root-of-trust.next").exists());
}
