//! The pipeline's view of which domains are sites, kept current by the control plane.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hitkeep_store::Site;

/// Domain to site id, shared between the control plane (which replaces it when sites change)
/// and the ingest writer (which reads a snapshot per group of batches).
#[derive(Debug, Clone, Default)]
pub struct SiteDirectory {
    current: Arc<RwLock<Arc<HashMap<String, u32>>>>,
}

impl SiteDirectory {
    /// A directory holding `sites`.
    pub fn new(sites: &[Site]) -> Self {
        let directory = Self::default();
        directory.replace(sites);
        directory
    }

    /// Replaces the whole directory.
    pub fn replace(&self, sites: &[Site]) {
        let map = sites.iter().map(|site| (site.domain.clone(), site.id)).collect();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
    }

    /// The directory as it is now; later changes do not show in it.
    pub fn snapshot(&self) -> Arc<HashMap<String, u32>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
