//! Regions served by other deployments (`--peer REGION=URL`): the replication credential
//! and one signed HTTP client per peer region (global tables across deployments).

use sealdb_common::secret::SecretString;
use sealdb_http::client::{PeerClient, PeerCredential};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Parses one `--peer` value, `REGION=URL`.
pub(crate) fn parse_peer(s: &str) -> Result<(String, String), String> {
    let (region, url) = s
        .split_once('=')
        .ok_or_else(|| format!("--peer {s:?}: expected REGION=URL"))?;
    if !sealdb_common::region::is_region_name(region) {
        return Err(format!("--peer {s:?}: {region:?} is not a region name"));
    }
    Ok((region.to_owned(), url.to_owned()))
}

/// Reads the replication credential: a file of two lines, the access key id and its
/// secret, readable by its owner only (as a passphrase file). The secret is kept as a
/// `SecretString` (zeroized on drop) and never printed.
pub(crate) fn read_credential(path: &Path) -> Result<PeerCredential, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{}: the peer credential file must be readable by its owner only (chmod 600)",
            path.display()
        ));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(id), Some(secret)) = (lines.next(), lines.next()) else {
        return Err(format!(
            "{}: expected two lines, the access key id and the secret access key",
            path.display()
        ));
    };
    Ok(PeerCredential {
        access_key_id: id.to_owned(),
        secret: SecretString::new(secret.to_owned()),
    })
}

/// One client per peer region.
pub(crate) fn clients(
    peers: &[(String, String)],
    credential_file: Option<&Path>,
    ca_file: Option<&Path>,
) -> Result<HashMap<String, Arc<PeerClient>>, String> {
    if peers.is_empty() {
        return Ok(HashMap::new());
    }
    let file = credential_file.ok_or("--peer needs --peer-credential-file")?;
    let credential = Arc::new(read_credential(file)?);
    let mut out = HashMap::new();
    for (region, url) in peers {
        let client = PeerClient::new(url, ca_file, Arc::clone(&credential))?;
        if out.insert(region.clone(), Arc::new(client)).is_some() {
            return Err(format!("--peer {region} given twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_values_and_credential_files() {
        assert_eq!(
            parse_peer("eu-west-1=http://10.0.0.2:8000").unwrap(),
            ("eu-west-1".into(), "http://10.0.0.2:8000".into())
        );
        assert!(parse_peer("eu-west-1").is_err());
        assert!(parse_peer("Nope=http://x").is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cred");
        std::fs::write(&f, "AKIDPEER\nsecret/value\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_credential(&f).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = read_credential(&f).unwrap();
        assert_eq!(c.access_key_id, "AKIDPEER");
        assert_eq!(c.secret.expose(), "secret/value");
        assert!(!format!("{c:?}").contains("secret/value"));
    }
}
