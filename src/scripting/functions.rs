//! The function libraries of FUNCTION LOAD: their code and what each
//! registered, shared by every worker (each worker's interpreter loads a
//! library's code again the first time it runs one of its functions).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::ScriptFlags;

/// One function a library registered.
#[derive(Debug, Clone)]
pub struct FunctionMeta {
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// One library: `#!lua name=<name>` and its functions.
#[derive(Debug, Clone)]
pub struct Library {
    pub name: String,
    pub code: Arc<[u8]>,
    /// SHA1 of the code: a worker reloads a library whose code changed.
    pub sha: String,
    pub functions: BTreeMap<String, FunctionMeta>,
}

/// Every library, by name.
#[derive(Debug, Default)]
pub struct Libraries {
    pub libraries: BTreeMap<String, Library>,
}

impl Libraries {
    /// The library that registered function `name`.
    pub fn find(&self, name: &str) -> Option<(&Library, &FunctionMeta)> {
        self.libraries.values().find_map(|lib| lib.functions.get(name).map(|f| (lib, f)))
    }

    pub fn function_count(&self) -> usize {
        self.libraries.values().map(|lib| lib.functions.len()).sum()
    }
}
