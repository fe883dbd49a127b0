//! Regions as namespaces on one endpoint: each region has its own key service, storage
//! engine and DynamoDB service, in its own directory, opened on its first request (and at
//! start for every region that has data). IAM and the account are global.
//!
//! ```text
//! <data-dir>/                 the home region (where a data dir made before regions
//!   catalog.db keystore.db …  existed keeps its tables and keys)
//!   home-region               which region that is (docs/formats.md)
//!   iam.db                    identities, global
//!   regions/<region>/         every other region: catalog.db, keystore.db, tables/, txlog.db
//! ```

use sealdb_common::{Clock, RegionSet, RootKey};
use sealdb_dynamodb::remote::RemoteError;
use sealdb_dynamodb::{Service, ServiceConfig};
use sealdb_http::client::PeerCallError;
use sealdb_kms::KmsService;
use sealdb_storage::Engine;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The file naming the home region.
const HOME_REGION_FILE: &str = "home-region";
/// Its first line (format version 1).
const HOME_REGION_MAGIC: &str = "sealdb-home-region 1";
/// Where the regions other than the home region live.
const REGIONS_DIR: &str = "regions";

/// The services of one region.
pub(crate) struct RegionServices {
    pub(crate) kms: Arc<KmsService>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) dynamodb: Arc<Service>,
}

/// Settings every region's services share.
pub(crate) struct RegionSettings {
    pub(crate) account_id: String,
    pub(crate) clock: Clock,
    /// `host:port` of the listener (DescribeEndpoints).
    pub(crate) endpoint_address: String,
    pub(crate) key_check_interval_ms: i64,
    pub(crate) archive_after_ms: i64,
    /// How long a replica's key may stay unusable before it leaves its global table.
    pub(crate) replica_inaccessible_ms: i64,
    pub(crate) ttl_sweep: std::time::Duration,
    /// Regions served by peer deployments (`--peer`), each with its signed client.
    pub(crate) peers: HashMap<String, Arc<sealdb_http::client::PeerClient>>,
    /// The PKCS#11 tokens KMS custom key stores (AWS_CLOUDHSM) may use.
    pub(crate) cloudhsm_clusters: sealdb_kms::CloudHsmClusters,
    /// The CA and deadline of calls to XKS proxies (external key stores).
    pub(crate) xks_trust: sealdb_http::xks::client::XksTrust,
}

/// Every region this server answers, opened as needed.
pub(crate) struct Regions {
    data_dir: PathBuf,
    home: String,
    answered: RegionSet,
    root: RootKey,
    settings: RegionSettings,
    /// Identity policies for KMS (set once the identity store is open).
    kms_identity: Arc<crate::wiring::LateIdentityPolicies>,
    /// The DynamoDB authorizer (set once the identity store is open).
    authorizer: OnceLock<Arc<sealdb_iam::Authorizer>>,
    open: RwLock<HashMap<String, Arc<RegionServices>>>,
    /// Serializes the opening of regions, so a region is opened once.
    opening: Mutex<()>,
    /// Every region's key service, opened before the rest of its region: another
    /// region's key service may need it (multi-Region keys) while a region opens, so
    /// it has a lock of its own, never held while a key service runs a call.
    key_services: Mutex<HashMap<String, Arc<KmsService>>>,
    /// This registry, for the key services (they hold it weakly).
    me: std::sync::Weak<Regions>,
}

impl sealdb_kms::KmsRegions for Regions {
    fn region(&self, region: &str) -> Option<Arc<KmsService>> {
        self.kms(region)
    }
}

/// The home region of a data dir: recorded on first start (a data dir made before
/// regions existed gets the region it is started with now, the one its ARNs named).
pub(crate) fn home_region(data_dir: &Path, default: &str) -> Result<String, String> {
    let path = data_dir.join(HOME_REGION_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut lines = text.lines();
            if lines.next() != Some(HOME_REGION_MAGIC) {
                return Err(format!(
                    "{} is not a home-region file of a version this sealdb knows",
                    path.display()
                ));
            }
            match lines.next() {
                Some(r) if sealdb_common::region::is_region_name(r) => Ok(r.to_owned()),
                _ => Err(format!("{} names no region", path.display())),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = format!("{HOME_REGION_MAGIC}\n{default}\n");
            write_synced(&path, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(default.to_owned())
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes a file whole: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The directory of `region`'s files.
pub(crate) fn region_dir(data_dir: &Path, home: &str, region: &str) -> PathBuf {
    if region == home {
        data_dir.to_path_buf()
    } else {
        data_dir.join(REGIONS_DIR).join(region)
    }
}

/// Every region with files in the data dir, the home region first. Maintenance
/// commands work on each.
pub(crate) fn regions_on_disk(data_dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let home_path = data_dir.join(HOME_REGION_FILE);
    // A data dir from before regions: everything is in its one (unrecorded) region.
    let home = if home_path.exists() {
        home_region(data_dir, "us-east-1")?
    } else {
        String::new()
    };
    let mut out = vec![(home, data_dir.to_path_buf())];
    let dir = data_dir.join(REGIONS_DIR);
    if dir.exists() {
        let mut others = Vec::new();
        for entry in
            std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if sealdb_common::region::is_region_name(&name) && entry.path().is_dir() {
                others.push((name, entry.path()));
            }
        }
        others.sort();
        out.extend(others);
    }
    Ok(out)
}

impl Regions {
    pub(crate) fn new(
        data_dir: &Path,
        home: String,
        answered: RegionSet,
        root: RootKey,
        settings: RegionSettings,
        kms_identity: Arc<crate::wiring::LateIdentityPolicies>,
    ) -> Arc<Regions> {
        Arc::new_cyclic(|me| Regions {
            data_dir: data_dir.to_path_buf(),
            home,
            answered,
            root,
            settings,
            kms_identity,
            authorizer: OnceLock::new(),
            open: RwLock::new(HashMap::new()),
            opening: Mutex::new(()),
            key_services: Mutex::new(HashMap::new()),
            me: me.clone(),
        })
    }

    /// The region whose audit log records a global call signed for `region`: that
    /// region when it is served (IAM's us-east-1 as on AWS), else the home region.
    pub(crate) fn audit_region<'a>(&'a self, region: &'a str) -> &'a str {
        if self.answered.answers(region) {
            region
        } else {
            &self.home
        }
    }

    /// Opens the home region and every answered region that has files, completing
    /// transactions a crash interrupted in each. Returns the home region.
    pub(crate) async fn open_at_start(&self) -> Result<Arc<RegionServices>, String> {
        let mut names = vec![self.home.clone()];
        for (name, _) in regions_on_disk(&self.data_dir)?.into_iter().skip(1) {
            if name == self.home {
                continue;
            }
            if self.answered.answers(&name) {
                names.push(name);
            } else {
                tracing::warn!(region = %name, "the data dir holds a region --regions leaves out; it is not served");
            }
        }
        for name in &names {
            let services = self.open_region(name)?;
            let recovered =
                services.engine.recover_transactions().await.map_err(|e| {
                    format!("cannot complete interrupted transactions in {name}: {e}")
                })?;
            if recovered > 0 {
                println!(
                    "sealdb: completed {recovered} transaction(s) in {name} interrupted by a crash"
                );
            }
            let retired = services.dynamodb.retire_leftover_grants().await;
            if retired > 0 {
                println!("sealdb: retired {retired} KMS grant(s) in {name} left by a crash");
            }
        }
        self.get(&self.home)
            .ok_or_else(|| "the home region did not open".to_owned())
    }

    /// Installs the DynamoDB authorizer in every open region and every one opened later.
    pub(crate) fn set_authorizer(&self, authorizer: Arc<sealdb_iam::Authorizer>) {
        let _ = self.authorizer.set(Arc::clone(&authorizer));
        for r in self.all() {
            r.dynamodb.set_authorizer(Arc::clone(&authorizer));
        }
    }

    /// The region's services if it is open.
    fn get(&self, region: &str) -> Option<Arc<RegionServices>> {
        self.open.read().ok()?.get(region).cloned()
    }

    /// Every open region.
    pub(crate) fn all(&self) -> Vec<Arc<RegionServices>> {
        self.open
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The services of an answered region, opening it on its first request. `None` for a
    /// region the server does not answer (the front door refused those already).
    pub(crate) async fn services(
        self: &Arc<Self>,
        region: &str,
    ) -> Result<Arc<RegionServices>, String> {
        if let Some(r) = self.get(region) {
            return Ok(r);
        }
        let me = Arc::clone(self);
        let name = region.to_owned();
        tokio::task::spawn_blocking(move || me.open_region(&name))
            .await
            .map_err(|e| e.to_string())?
    }

    /// The key service of an answered region, opened if needed (the rest of its region
    /// opens on the region's first request).
    pub(crate) fn kms(&self, region: &str) -> Option<Arc<KmsService>> {
        if !self.answered.answers(region) && region != self.home {
            return None;
        }
        match self.key_service(region) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(region, error = %e, "cannot open the key service of a region");
                None
            }
        }
    }

    /// A region's key service, opening it (and creating the region's directory) once.
    fn key_service(&self, region: &str) -> Result<Arc<KmsService>, String> {
        let mut services = self
            .key_services
            .lock()
            .map_err(|_| "key service map poisoned")?;
        if let Some(k) = services.get(region) {
            return Ok(Arc::clone(k));
        }
        let dir = region_dir(&self.data_dir, &self.home, region);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        crate::root_key::restrict_dir(&dir);
        if region != self.home {
            crate::root_key::restrict_dir(&self.data_dir.join(REGIONS_DIR));
        }
        let s = &self.settings;
        let kms = Arc::new(
            KmsService::open_with_identity(
                sealdb_kms::KmsConfig {
                    data_dir: dir,
                    region: region.to_owned(),
                    account_id: s.account_id.clone(),
                    clock: s.clock.clone(),
                },
                &self.root,
                Arc::clone(&self.kms_identity) as Arc<dyn sealdb_iam::IdentityPolicies>,
            )
            .map_err(|e| e.to_string())?,
        );
        let me: std::sync::Weak<dyn sealdb_kms::KmsRegions> = self.me.clone();
        kms.set_regions(me);
        kms.set_xks_trust(s.xks_trust.clone());
        kms.set_cloudhsm_clusters(s.cloudhsm_clusters.clone());
        services.insert(region.to_owned(), Arc::clone(&kms));
        Ok(kms)
    }

    /// Opens a region (once). A region first opened after start has a new directory, so
    /// it has no interrupted transactions to complete: those of every region with files
    /// were completed by [`Regions::open_at_start`].
    fn open_region(&self, region: &str) -> Result<Arc<RegionServices>, String> {
        let _one_at_a_time = self.opening.lock().map_err(|_| "region lock poisoned")?;
        if let Some(r) = self.get(region) {
            return Ok(r);
        }
        if region != self.home && !self.answered.answers(region) {
            return Err(format!("region {region} is not served"));
        }
        let kms = self.key_service(region)?;
        let dir = region_dir(&self.data_dir, &self.home, region);
        let s = &self.settings;
        let vault = Arc::new(sealdb_dynamodb::sse::KmsVault::new(
            Arc::clone(&kms),
            &self.root,
            region,
            &s.account_id,
        ));
        let engine = Arc::new(
            Engine::open_with_clock(
                &dir,
                &self.root,
                Arc::clone(&vault) as Arc<dyn sealdb_storage::KeyVault>,
                s.clock.clone(),
            )
            .map_err(|e| format!("cannot open {}: {e}", dir.display()))?,
        );
        engine.set_key_check_interval_ms(s.key_check_interval_ms);
        let dynamodb = Service::with_kms(
            Arc::clone(&engine),
            ServiceConfig {
                region: region.to_owned(),
                account_id: s.account_id.clone(),
                endpoint_address: s.endpoint_address.clone(),
                clock: s.clock.clone(),
            },
            Some(vault),
        )
        .map_err(|e| format!("cannot load the tables of {region}: {e}"))?;
        if let Some(a) = self.authorizer.get() {
            dynamodb.set_authorizer(Arc::clone(a));
        }
        dynamodb.resume_index_changes();
        dynamodb.set_replica_inaccessible_ms(s.replica_inaccessible_ms);
        dynamodb.set_peers(Arc::new(Peers(self.me.clone())));
        dynamodb.start_ttl_sweeper(s.ttl_sweep);
        spawn_key_checker(
            Arc::clone(&dynamodb),
            Arc::clone(&kms),
            s.key_check_interval_ms,
            s.archive_after_ms,
        );
        let services = Arc::new(RegionServices {
            kms,
            engine,
            dynamodb,
        });
        self.open
            .write()
            .map_err(|_| "region map poisoned")?
            .insert(region.to_owned(), Arc::clone(&services));
        Ok(services)
    }

    /// Stops every region's writers.
    pub(crate) fn close(&self) {
        for r in self.all() {
            r.dynamodb.close();
        }
    }
}

/// The seam through which a region's DynamoDB service reaches the others' (global
/// tables): a weak reference, so the services do not keep the regions alive.
struct Peers(std::sync::Weak<Regions>);

impl sealdb_dynamodb::RegionPeers for Peers {
    fn service<'a>(
        &'a self,
        region: &'a str,
    ) -> sealdb_dynamodb::PeerFuture<'a, Option<Arc<Service>>> {
        Box::pin(async move {
            let regions = self.0.upgrade()?;
            if regions.settings.peers.contains_key(region) {
                return None;
            }
            if region != regions.home && !regions.answered.answers(region) {
                return None;
            }
            match regions.services(region).await {
                Ok(r) => Some(Arc::clone(&r.dynamodb)),
                Err(e) => {
                    tracing::warn!(region, error = %e, "cannot open region");
                    None
                }
            }
        })
    }

    fn open_services(&self) -> sealdb_dynamodb::PeerFuture<'_, Vec<Arc<Service>>> {
        Box::pin(async move {
            self.0
                .upgrade()
                .map(|r| r.all().iter().map(|s| Arc::clone(&s.dynamodb)).collect())
                .unwrap_or_default()
        })
    }

    fn remote_regions(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .upgrade()
            .map(|r| r.settings.peers.keys().cloned().collect())
            .unwrap_or_default();
        out.sort();
        out
    }

    fn is_remote(&self, region: &str) -> bool {
        self.0
            .upgrade()
            .is_some_and(|r| r.settings.peers.contains_key(region))
    }

    fn remote_call<'a>(
        &'a self,
        region: &'a str,
        op: &'a str,
        body: serde_json::Value,
    ) -> sealdb_dynamodb::PeerFuture<'a, Result<serde_json::Value, RemoteError>> {
        Box::pin(async move {
            let client = self
                .0
                .upgrade()
                .and_then(|r| r.settings.peers.get(region).cloned())
                .ok_or_else(|| {
                    RemoteError::Unreachable(format!("no peer deployment for {region}"))
                })?;
            let target = format!("{}.{op}", sealdb_dynamodb::remote::REPLICATION_TARGET);
            let bytes =
                serde_json::to_vec(&body).map_err(|e| RemoteError::Unreachable(e.to_string()))?;
            let answer = client
                .call(region, &target, bytes)
                .await
                .map_err(|e| match e {
                    PeerCallError::Unreachable(e) => RemoteError::Unreachable(e),
                    PeerCallError::Refused {
                        status,
                        kind,
                        message,
                    } => RemoteError::Refused {
                        status,
                        kind,
                        message,
                    },
                })?;
            serde_json::from_slice(&answer)
                .map_err(|e| RemoteError::Unreachable(format!("peer answer: {e}")))
        })
    }
}

/// Re-checks every table's key on the interval even without traffic, so that a table
/// whose KMS key became unusable shows INACCESSIBLE_ENCRYPTION_CREDENTIALS (and comes back
/// when the key does), and is archived when the key stays unusable too long.
fn spawn_key_checker(
    service: Arc<Service>,
    kms: Arc<KmsService>,
    interval_ms: i64,
    archive_after_ms: i64,
) {
    let period =
        std::time::Duration::from_millis(u64::try_from(interval_ms.max(1000)).unwrap_or(300_000));
    let service = Arc::downgrade(&service);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            let Some(service) = service.upgrade() else {
                return;
            };
            if let Err(e) = kms.purge() {
                tracing::warn!(error = ?e, "key deletion check failed");
            }
            service.check_table_keys(archive_after_ms).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_region_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(home_region(dir.path(), "eu-west-1").unwrap(), "eu-west-1");
        // A later start with another default keeps the recorded one.
        assert_eq!(home_region(dir.path(), "us-east-1").unwrap(), "eu-west-1");
        std::fs::write(dir.path().join(HOME_REGION_FILE), "other 9\nus-east-1\n").unwrap();
        assert!(home_region(dir.path(), "us-east-1").is_err());
    }

    #[test]
    fn region_dirs() {
        let d = Path::new("/d");
        assert_eq!(region_dir(d, "us-east-1", "us-east-1"), PathBuf::from("/d"));
        assert_eq!(
            region_dir(d, "us-east-1", "eu-west-1"),
            PathBuf::from("/d/regions/eu-west-1")
        );
    }
}
