//! Pieces every layer of the sealdb server shares: who is calling ([`Principal`]),
//! how secrets are held ([`secret`]), how the root key derives the keys of the
//! encrypted files ([`root_key`]), and the clock ([`clock`]).
//!
//! Nothing here touches HTTP or storage; it exists so that the front door, the
//! services and the storage engine agree on these types without depending on each other.

pub mod clock;
pub mod crash_point;
pub mod key_hierarchy;
pub mod principal;
pub mod region;
pub mod root_key;
pub mod secret;

pub use clock::Clock;
pub use key_hierarchy::Purpose;
pub use principal::{Identity, Principal, PrincipalKind};
pub use region::RegionSet;
pub use root_key::{RootKey, RootKeyError};
pub use secret::{SecretBytes, SecretKey32};
