//! Opening a damaged store fails with an error, never a panic.
//!
//! sled 0.34 panics on some damaged files while opening them (for example
//! "tried to serialize Uninitialized" while it rebuilds its page table from
//! a log whose allocation records were lost). [`catch_panics`] runs such
//! work under `catch_unwind`, with the panic message captured for this
//! thread instead of printed, and returns it as the error.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Panic messages of this thread while it runs guarded work.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Runs `work`; a panic inside it becomes `Err` with its message (and no
/// line on stderr). Other threads' panics are reported as before.
pub fn catch_panics<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let result = std::panic::catch_unwind(AssertUnwindSafe(work));
    let captured = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    result.map_err(|_| {
        if captured.is_empty() {
            "unknown failure".to_owned()
        } else {
            captured.join("; ")
        }
    })
}

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = describe(info);
            let kept = CAPTURED
                .try_with(|c| match c.borrow_mut().as_mut() {
                    Some(messages) => {
                        messages.push(message);
                        true
                    }
                    None => false,
                })
                .unwrap_or(false);
            if !kept {
                previous(info);
            }
        }));
    });
}

/// The panic's message and where in the code it arose.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    match info.location() {
        Some(at) => format!("{text} ({}:{})", short_path(at.file()), at.line()),
        None => text,
    }
}

/// A source path from the crate directory on (`sled-0.34.7/src/…`).
fn short_path(file: &str) -> &str {
    file.rfind("/registry/src/")
        .and_then(|i| file[i..].splitn(4, '/').nth(3))
        .and_then(|rest| rest.split_once('/').map(|(_, p)| p))
        .unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let err =
            catch_panics(|| -> u32 { panic!("tried to serialize Uninitialized") }).unwrap_err();
        assert!(
            err.starts_with("tried to serialize Uninitialized ("),
            "{err}"
        );
        assert!(err.contains("open_guard.rs:"), "{err}");
        assert_eq!(catch_panics(|| 7), Ok(7));
    }

    #[test]
    fn registry_paths_are_shortened() {
        assert_eq!(
            short_path(
                "/root/.cargo/registry/src/index.crates.io-1949/sled-0.34.7/src/serialization.rs"
            ),
            "sled-0.34.7/src/serialization.rs"
        );
        assert_eq!(short_path("node/src/x.rs"), "node/src/x.rs");
    }
}
