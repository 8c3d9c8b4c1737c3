//! The function libraries of FUNCTION LOAD: their code and what each
//! registered, shared by every worker (each worker's interpreter loads a
//! library's code again the first time it runs one of its functions, see
//! [`super::library`]), with Redis's rules for names, metadata and
//! collisions.
//!
//! Libraries are held as `Arc`s and never changed in place: a worker
//! knows its loaded copy is current when it is the same `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::ScriptFlags;

pub const BAD_NAME: &str =
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// How long FUNCTION LOAD may run a library's top-level code.
pub const LOAD_TIMEOUT_MS: u64 = 500;

/// One function a library registered.
#[derive(Debug, Clone)]
pub struct FunctionMeta {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// One library: `#!lua name=<name>` and its functions.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// The whole text given to FUNCTION LOAD, shebang included.
    pub code: Arc<[u8]>,
    /// By name (case kept).
    pub functions: BTreeMap<String, FunctionMeta>,
    /// What it keeps in an interpreter (`used_memory_vm_functions`).
    pub vm_bytes: usize,
}

impl Library {
    /// Its share of `used_memory_functions`: the code, the names and
    /// their entries.
    fn overhead(&self) -> usize {
        let entry = 64;
        let functions: usize = self.functions.values().map(|f| f.name.len() * 2 + entry).sum();
        self.code.len() + self.name.len() + entry + functions
    }
}

/// What FUNCTION RESTORE does with the libraries already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// Every library, by name, and every function, by lower-cased name
/// (FCALL's lookup ignores case, as Redis's does).
#[derive(Debug, Default, Clone)]
pub struct Libraries {
    libraries: BTreeMap<String, Arc<Library>>,
    functions: HashMap<String, String>,
    /// Bumped on every change, so workers can drop stale loaded copies.
    version: u64,
    /// The libraries' [`Library::vm_bytes`] and [`Library::overhead`], summed.
    vm_bytes: usize,
    overhead: usize,
}

/// What Redis's empty functions interpreter takes; `used_memory_vm_functions`
/// starts there.
const EMPTY_VM_BYTES: usize = 32 * 1024;

impl Libraries {
    /// The function called `name` (any case) and its library.
    pub fn find(&self, name: &[u8]) -> Option<(Arc<Library>, FunctionMeta)> {
        let key = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let library = self.libraries.get(self.functions.get(&key)?)?;
        let meta = library.functions.values().find(|f| f.name.eq_ignore_ascii_case(&key))?;
        Some((Arc::clone(library), meta.clone()))
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Library>> {
        self.libraries.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.libraries.contains_key(name)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Arc<Library>> {
        self.libraries.values()
    }

    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// `used_memory_vm_functions`.
    pub fn vm_memory(&self) -> usize {
        EMPTY_VM_BYTES + self.vm_bytes
    }

    /// `used_memory_functions`.
    pub fn overhead(&self) -> usize {
        self.overhead
    }

    /// FUNCTION LOAD's last step: link `library`, replacing one of the
    /// same name if `replace`. Errors as Redis's.
    pub fn add(&mut self, library: Library, replace: bool) -> Result<(), String> {
        if !replace && self.contains(&library.name) {
            return Err(format!("ERR Library '{}' already exists", library.name));
        }
        // Checked before anything changes (not on a copy: copying every
        // library per load made loading n libraries cost n squared).
        let taken = library
            .functions
            .keys()
            .find(|f| self.functions.get(&f.to_ascii_lowercase()).is_some_and(|owner| *owner != library.name));
        if let Some(taken) = taken {
            return Err(format!("ERR Function {taken} already exists"));
        }
        self.unlink(&library.name);
        self.link(library)
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn remove(&mut self, name: &str) -> bool {
        self.unlink(name)
    }

    /// FUNCTION FLUSH: the libraries there were, to free.
    pub fn clear(&mut self) -> BTreeMap<String, Arc<Library>> {
        self.functions.clear();
        self.version += 1;
        (self.vm_bytes, self.overhead) = (0, 0);
        std::mem::take(&mut self.libraries)
    }

    /// FUNCTION RESTORE: link every library of the payload, or none.
    pub fn restore(&mut self, libraries: Vec<Library>, policy: RestorePolicy) -> Result<(), String> {
        let mut next = self.clone();
        if policy == RestorePolicy::Flush {
            next.clear();
        }
        for library in &libraries {
            if next.contains(&library.name) {
                if policy != RestorePolicy::Replace {
                    return Err(format!("ERR Library {} already exists", library.name));
                }
                next.unlink(&library.name);
            }
        }
        for library in libraries {
            next.link(library)?;
        }
        *self = next;
        Ok(())
    }

    fn unlink(&mut self, name: &str) -> bool {
        let Some(old) = self.libraries.remove(name) else { return false };
        self.vm_bytes -= old.vm_bytes;
        self.overhead -= old.overhead();
        for function in old.functions.keys() {
            self.functions.remove(&function.to_ascii_lowercase());
        }
        self.version += 1;
        true
    }

    /// Add a library whose name is free; its functions must be too.
    fn link(&mut self, library: Library) -> Result<(), String> {
        if self.contains(&library.name) {
            return Err(format!("ERR Library '{}' already exists", library.name));
        }
        if let Some(taken) = library.functions.keys().find(|f| self.functions.contains_key(&f.to_ascii_lowercase())) {
            return Err(format!("ERR Function {taken} already exists"));
        }
        for function in library.functions.keys() {
            self.functions.insert(function.to_ascii_lowercase(), library.name.clone());
        }
        self.vm_bytes += library.vm_bytes;
        self.overhead += library.overhead();
        self.libraries.insert(library.name.clone(), Arc::new(library));
        self.version += 1;
        Ok(())
    }
}

/// Redis's rule for library and function names: letters, digits and `_`,
/// at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The shebang of a library, `#!<engine> name=<name>`, and the code after
/// it (from the shebang's newline on, so line numbers are the text's).
#[derive(Debug, PartialEq, Eq)]
pub struct Metadata<'a> {
    pub name: String,
    pub code: &'a [u8],
}

/// Parse a library's shebang with Redis's checks and texts, in its order
/// (the name is checked before the engine).
pub fn parse_metadata(text: &[u8]) -> Result<Metadata<'_>, String> {
    if !text.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = text.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = crate::protocol::parse::split_args(&text[..end]).ok_or("ERR Invalid library metadata")?;
    let Some((engine, parts)) = parts.split_first() else { return Err("ERR Invalid library metadata".into()) };
    let engine = engine.get(2..).unwrap_or_default();
    let mut name = None;
    for part in parts {
        match part.get(..5) {
            Some(key) if key.eq_ignore_ascii_case(b"name=") => {
                if name.is_some() {
                    return Err("ERR Invalid metadata value, name argument was given multiple times".into());
                }
                name = Some(&part[5..]);
            }
            _ => return Err(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(part))),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if !valid_name(name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!("ERR Engine '{}' not found", String::from_utf8_lossy(engine)));
    }
    let name = String::from_utf8_lossy(name).into_owned();
    Ok(Metadata { name, code: &text[end..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(name: &str, functions: &[&str]) -> Library {
        let functions = functions
            .iter()
            .map(|f| {
                (f.to_string(), FunctionMeta { name: f.to_string(), description: None, flags: ScriptFlags::default() })
            })
            .collect();
        Library { name: name.into(), code: Arc::from(&b""[..]), functions, vm_bytes: 100 }
    }

    #[test]
    fn metadata_follows_redis() {
        let parsed = parse_metadata(b"#!lua name=lib\nreturn").unwrap();
        assert_eq!(parsed, Metadata { name: "lib".into(), code: b"\nreturn" });
        assert_eq!(parse_metadata(b"#!LUA NAME=x\n").unwrap().name, "x");
        assert_eq!(parse_metadata(b"#!lua name=\"foo\"\n").unwrap().name, "foo");
        assert_eq!(parse_metadata(b"#!lua \"name=a b\"\n").unwrap_err(), BAD_NAME);
        assert_eq!(parse_metadata(b"#!lua name=\"x\n").unwrap_err(), "ERR Invalid library metadata");
        assert_eq!(parse_metadata(b"return 1").unwrap_err(), "ERR Missing library metadata");
        assert_eq!(parse_metadata(b"#!lua name=x").unwrap_err(), "ERR Invalid library metadata");
        assert_eq!(parse_metadata(b"#!lua\n").unwrap_err(), "ERR Library name was not given");
        assert_eq!(parse_metadata(b"#!lua foo=1\n").unwrap_err(), "ERR Invalid metadata value given: foo=1");
        assert_eq!(parse_metadata(b"#!lua name=a-b\n").unwrap_err(), BAD_NAME);
        assert_eq!(parse_metadata(b"#!js name=a\n").unwrap_err(), "ERR Engine 'js' not found");
    }

    #[test]
    fn names_collide_across_libraries_ignoring_case() {
        let mut libs = Libraries::default();
        libs.add(library("a", &["f"]), false).unwrap();
        assert_eq!(libs.add(library("a", &["g"]), false).unwrap_err(), "ERR Library 'a' already exists");
        assert_eq!(libs.add(library("b", &["F"]), false).unwrap_err(), "ERR Function F already exists");
        libs.add(library("a", &["g"]), true).unwrap();
        assert!(libs.find(b"G").is_some() && libs.find(b"f").is_none());
        assert_eq!(
            libs.restore(vec![library("a", &["h"])], RestorePolicy::Append).unwrap_err(),
            "ERR Library a already exists"
        );
        libs.restore(vec![library("a", &["h"]), library("b", &["i"])], RestorePolicy::Replace).unwrap();
        assert_eq!((libs.library_count(), libs.function_count()), (2, 2));
        assert_eq!((libs.vm_memory(), libs.overhead()), (EMPTY_VM_BYTES + 200, 2 * (1 + 64 + 2 + 64)));
        libs.restore(vec![library("c", &["j"])], RestorePolicy::Flush).unwrap();
        assert_eq!((libs.library_count(), libs.function_count()), (1, 1));
        libs.clear();
        assert_eq!((libs.vm_memory(), libs.overhead(), libs.function_count()), (EMPTY_VM_BYTES, 0, 0));
    }
}
