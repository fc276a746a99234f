//! The one way the view layer writes text: each renderer is a function writing into a
//! `fmt::Write` and returning `fmt::Result`, so `?` carries a failure instead of `let _ =`
//! dropping it; [`render`] runs one into a `String`.

use std::fmt;

/// Runs `f` into a fresh `String`. Writing to a `String` itself never fails; an error here can
/// only come from a `Display` impl, which is a bug, so it panics rather than return half a text.
pub fn render(f: impl FnOnce(&mut String) -> fmt::Result) -> String {
    let mut out = String::new();
    f(&mut out).expect("a Display impl failed while rendering text");
    out
}
