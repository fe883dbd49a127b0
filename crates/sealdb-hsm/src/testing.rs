//! SoftHSM2 tokens for tests: a temporary directory with its own `softhsm2.conf` and
//! token directory, tokens made there with `softhsm2-util --init-token --free`.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` when the module is initialised, once per process, so
//! a test process uses one directory for all its in-process tokens ([`in_process`]), each
//! token with its own label. Tests that run the `sealdb` binary make a [`SoftHsmDir`] of
//! their own and pass [`SoftHsmDir::env`] to the child instead.
//!
//! SoftHSM2 missing is an error, not a skip: `scripts/test` installs it (Debian
//! `softhsm2`), so a test that cannot find it must fail.

use crate::{SecretString, TokenConfig, TokenSelector};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian and Ubuntu (and a source build) put the SoftHSM2 module.
const MODULE_CANDIDATES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The PIN every test token gets unless a test asks for another.
pub const TEST_PIN: &str = "1234-test-pin";
/// The security officer PIN of test tokens.
pub const TEST_SO_PIN: &str = "5678-test-so-pin";

/// The SoftHSM2 module, or a message saying how to install it.
pub fn module_path() -> Result<PathBuf, String> {
    MODULE_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "SoftHSM2 is not installed (no libsofthsm2.so in {}); install the Debian package \
                 softhsm2 (scripts/test does)",
                MODULE_CANDIDATES.join(", ")
            )
        })
}

/// A SoftHSM2 configuration and token directory of its own.
pub struct SoftHsmDir {
    dir: PathBuf,
    // Removed on drop; `None` for the process-wide directory, which outlives every test.
    _temp: Option<tempfile::TempDir>,
    module: PathBuf,
    // The process-wide directory: SoftHSM2 reads its token directory at C_Initialize and
    // does not see tokens another process adds later, so its tokens are made through
    // this process's own module (C_InitToken), not by softhsm2-util.
    in_process: bool,
}

impl SoftHsmDir {
    /// A fresh directory with `softhsm2.conf` and an empty `tokens/`, removed on drop.
    pub fn create() -> Result<Self, String> {
        let temp = tempfile::Builder::new()
            .prefix("sealdb-softhsm-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let mut made = Self::at(temp.path())?;
        made._temp = Some(temp);
        Ok(made)
    }

    fn at(dir: &Path) -> Result<Self, String> {
        let module = module_path()?;
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).map_err(|e| format!("{}: {e}", tokens.display()))?;
        let conf = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        );
        let path = dir.join("softhsm2.conf");
        std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(SoftHsmDir {
            dir: dir.to_path_buf(),
            _temp: None,
            module,
            in_process: false,
        })
    }

    /// The configuration file (the value of `SOFTHSM2_CONF`).
    pub fn conf_path(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// The environment a process needs to see these tokens.
    pub fn env(&self) -> (&'static str, PathBuf) {
        ("SOFTHSM2_CONF", self.conf_path())
    }

    /// The SoftHSM2 module.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// Initialises a token labelled `label` with [`TEST_PIN`] in the next free slot.
    pub fn init_token(&self, label: &str) -> Result<TokenConfig, String> {
        self.init_token_with_pin(label, TEST_PIN)
    }

    /// Initialises a token labelled `label` with the user PIN `pin`.
    pub fn init_token_with_pin(&self, label: &str, pin: &str) -> Result<TokenConfig, String> {
        let config = TokenConfig {
            module: self.module.clone(),
            token: TokenSelector::Label(label.to_owned()),
            pin: SecretString::new(pin.to_owned()),
        };
        if self.in_process {
            init_token_in_process(&config, label, pin)?;
            return Ok(config);
        }
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", self.conf_path())
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", pin, "--so-pin", TEST_SO_PIN])
            .output()
            .map_err(|e| {
                format!("softhsm2-util cannot run ({e}); install the Debian package softhsm2")
            })?;
        if !out.status.success() {
            return Err(format!(
                "softhsm2-util --init-token failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(config)
    }
}

/// What `softhsm2-util --init-token --free` does, through this process's module: the
/// token in the first slot without one, its SO PIN, label and user PIN.
fn init_token_in_process(config: &TokenConfig, label: &str, pin: &str) -> Result<(), String> {
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let module = crate::module::module(&config.module).map_err(|e| e.to_string())?;
    // One at a time, and not while another thread lists slots: two tests must not take
    // the same free slot, and SoftHSM2 asserts on a slot list rebuilt during an init.
    let _one = module.slot_list();
    let ctx = &module.ctx;
    let free = ctx
        .get_slots_with_token()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|slot| {
            ctx.get_token_info(*slot)
                .map(|info| !info.token_initialized())
                .unwrap_or(false)
        })
        .ok_or("SoftHSM2 has no free slot")?;
    let so_pin = AuthPin::from(TEST_SO_PIN.to_owned());
    ctx.init_token(free, &so_pin, label)
        .map_err(|e| format!("C_InitToken: {e}"))?;
    let session = ctx
        .open_rw_session(free)
        .map_err(|e| format!("C_OpenSession: {e}"))?;
    session
        .login(UserType::So, Some(&so_pin))
        .map_err(|e| format!("C_Login (SO): {e}"))?;
    session
        .init_pin(&AuthPin::from(pin.to_owned()))
        .map_err(|e| format!("C_InitPIN: {e}"))?;
    session.logout().map_err(|e| format!("C_Logout: {e}"))?;
    Ok(())
}

/// The directory whose configuration this process's SoftHSM2 module reads: made on first
/// use, before the module is first initialised, and `SOFTHSM2_CONF` set to it. It lives
/// as long as the process (under the system temporary directory, a few KiB per token).
pub fn in_process() -> Result<&'static SoftHsmDir, String> {
    static DIR: OnceLock<Result<SoftHsmDir, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let temp = tempfile::Builder::new()
            .prefix("sealdb-softhsm-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let mut made = SoftHsmDir::at(&temp.keep())?;
        made.in_process = true;
        #[allow(unsafe_code)]
        // SAFETY: set once, under this OnceLock, before any PKCS#11 module of the process
        // is initialised (in-process tests reach the module only through this function);
        // Rust's own environment readers take std's environment lock. Test support only.
        unsafe {
            std::env::set_var("SOFTHSM2_CONF", made.conf_path());
        }
        Ok(made)
    })
    .as_ref()
    .map_err(Clone::clone)
}
