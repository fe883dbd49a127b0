//! The cryptographic materials providers (reference §6).

pub mod most_recent;
pub mod static_provider;
mod version_cache;
pub mod wrapped;

pub use most_recent::{InMemoryMetaStore, MetaStore, MostRecentProvider, ProviderStoreRows};
pub use static_provider::StaticProvider;
pub use wrapped::{UnwrappingKey, WrappedProvider, WrappingKey};
