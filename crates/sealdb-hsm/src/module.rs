//! One initialised PKCS#11 context per module path per process.
//!
//! C_Initialize may run only once per module in a process (a second one answers
//! CKR_CRYPTOKI_ALREADY_INITIALIZED), and a login belongs to the application, not to a
//! session: every session of the process is logged in or out together. So the contexts
//! live in a process-global map, and each keeps a count of the open `Pkcs11Token`s logged
//! in per slot, with a digest of the PIN that logged in, so a second opener with another
//! PIN is refused as the token would refuse it, and the last one to close logs out.

use crate::HsmError;
use crate::error::reason_of;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// An initialised module and who is logged in to its slots.
pub(crate) struct Module {
    pub(crate) ctx: Pkcs11,
    pub(crate) path: String,
    logins: Mutex<HashMap<u64, Login>>,
    // SoftHSM2 rebuilds its slot list in C_GetSlotList and asserts when that races with
    // C_InitToken in another thread; slot enumeration and token init take this in turn.
    slot_list: Mutex<()>,
}

/// One slot's login: how many open tokens share it and the SHA-256 of its PIN.
pub(crate) struct Login {
    pub(crate) holders: usize,
    pub(crate) pin_digest: zeroize::Zeroizing<[u8; 32]>,
}

impl Module {
    /// Held while enumerating slots or initialising a token.
    pub(crate) fn slot_list(&self) -> MutexGuard<'_, ()> {
        self.slot_list.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn logins(&self) -> MutexGuard<'_, HashMap<u64, Login>> {
        // A panic while the map was held leaves counts that are still consistent enough
        // to go on with (at worst a logout is skipped).
        self.logins.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn modules() -> MutexGuard<'static, HashMap<PathBuf, Arc<Module>>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The process's context of the module at `path`, loaded and initialised on first use.
pub(crate) fn module(path: &Path) -> Result<Arc<Module>, HsmError> {
    let shown = path.display().to_string();
    let unavailable = |reason: String| HsmError::ModuleUnavailable {
        module: shown.clone(),
        reason,
    };
    let canonical = path
        .canonicalize()
        .map_err(|e| unavailable(e.to_string()))?;
    let mut map = modules();
    if let Some(m) = map.get(&canonical) {
        return Ok(m.clone());
    }
    let ctx = Pkcs11::new(&canonical).map_err(|e| unavailable(reason_of(&e)))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| unavailable(reason_of(&e)))?;
    let m = Arc::new(Module {
        ctx,
        path: shown,
        logins: Mutex::new(HashMap::new()),
        slot_list: Mutex::new(()),
    });
    map.insert(canonical, m.clone());
    Ok(m)
}
