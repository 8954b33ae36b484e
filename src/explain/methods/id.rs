//! `MethodId`: the name an anomaly method goes by everywhere (command line, reports, the explorer's
//! state, export commands), so results are stored and looked up by name, never by position.

use std::fmt;

use super::AnomalyMethod;

/// An anomaly method's registry id (`feature-distance`, `recon`, ...), a baseline's, or the name
/// of maps made by another tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodId(&'static str);

impl MethodId {
    pub const fn new(id: &'static str) -> Self {
        Self(id)
    }

    /// The id `method` is registered under.
    pub fn of(method: &dyn AnomalyMethod) -> Self {
        Self(method.id())
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for MethodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment, as the report's table uses.
        f.pad(self.0)
    }
}
